package deletion

import (
	"fmt"
	"runtime"
	"testing"
	"unsafe"

	"github.com/erasure-dev/erasure/internal/identifier"
)

// BenchmarkDuplicateCheckMemory measures what the duplicate check keeps
// while a job reads the biggest sheet there is: 1,048,575 distinct valid
// e-mail addresses (a header and the rest of 1,048,576 rows). It reports the
// classifier's live heap after the last row (with the Go runtime's default
// GOGC=100 the heap may grow to about twice that before a collection) and
// the memory its tables hold outside the heap (docs/benchmarks.md, Memory).
//
//	go test -run '^$' -bench DuplicateCheckMemory -benchtime 1x ./deletion/
func BenchmarkDuplicateCheckMemory(b *testing.B) {
	norm, err := Spec{Type: identifier.Email}.normalizer()
	if err != nil {
		b.Fatal(err)
	}
	const rows = 1<<20 - 1
	values := make([]string, rows)
	for i := range values {
		values[i] = fmt.Sprintf("person%07d@example.com", i)
	}
	var ms runtime.MemStats
	for range b.N {
		runtime.GC()
		runtime.ReadMemStats(&ms)
		before := ms.HeapAlloc
		c := newClassifier(norm, "Email", rows)
		for i, v := range values {
			c.classify(int64(i+2), v, cellPresent)
		}
		runtime.GC()
		runtime.ReadMemStats(&ms)
		var mapped int
		for _, t := range c.seen.shards {
			if t.mapped {
				mapped += len(t.slots) * int(unsafe.Sizeof(seenSlot{}))
			}
		}
		b.ReportMetric(float64(ms.HeapAlloc-before)/(1<<20), "MiB-live-heap")
		b.ReportMetric(float64(mapped)/(1<<20), "MiB-mapped")
		c.release()
	}
}
