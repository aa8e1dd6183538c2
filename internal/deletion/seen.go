package deletion

import (
	"math"
	"math/bits"
	"runtime"
	"unsafe"
)

// seenSet remembers every distinct valid value of a job with the row it
// first appeared on, so that a later row with the same value is a
// duplicate of that row. A million values are a million entries, so it is
// made of flat open-addressed tables of 16-byte slots rather than a map
// (which took 53 MiB for a million rows, against 20 MiB here): a value is
// kept as a 96-bit hash, and a table is never more than 4/5 full. Two
// distinct values share a hash with a probability of about 10^-17 for a
// million values.
//
// The values are spread over seenShards tables by the top bits of their
// hash, each growing on its own: a reader that does not know how many rows
// come never holds an old and a new copy of the whole set while one grows
// (one table doubling at a million values held 48 MiB at once).
//
// Big tables live outside the Go heap (see allocSlots): the garbage
// collector lets the heap grow to about twice what is live before it
// collects, and the 22 MiB of a million-value set, which holds no pointer
// and is freed at a known point, would make that 44. release gives them
// back; a set dropped without it gives them back when it is collected.
type seenSet struct {
	*seenTables
}

type seenTables struct {
	shards [seenShards]seenTable
}

const seenShards = 256

type seenTable struct {
	slots []seenSlot
	used  int
	// mapped is set when slots are outside the Go heap.
	mapped bool
}

type seenSlot struct {
	hi  uint64
	lo  uint32
	row uint32 // 0: an empty slot (rows are numbered from 1)
}

// newSeenSet returns a set sized for expected values; it grows when more
// come.
func newSeenSet(expected int) *seenSet {
	s := &seenSet{new(seenTables)}
	runtime.AddCleanup(s, (*seenTables).release, s.seenTables)
	// A table gets expected/seenShards values on average, give or take a
	// few times its square root: sized for four times that more, none
	// grows (a table that doubles would take twice its share).
	m := float64(expected) / seenShards
	per := int((m+4*math.Sqrt(m)+16)*5/4) + 1
	for i := range s.shards {
		s.shards[i].slots, s.shards[i].mapped = allocSlots(per)
	}
	return s
}

// release gives back the set's tables; the set must not be used after.
func (s *seenSet) release() {
	s.seenTables.release()
	runtime.KeepAlive(s) // its cleanup must not run while this does
}

func (t *seenTables) release() {
	for i := range t.shards {
		freeSlots(t.shards[i].slots, t.shards[i].mapped)
		t.shards[i] = seenTable{}
	}
}

// firstOrAdd returns the row a value with this hash was first seen on, or
// records it as seen on row and returns false.
func (s *seenSet) firstOrAdd(hi uint64, lo uint32, row uint32) (first uint32, seen bool) {
	first, seen = s.shards[hi>>56].firstOrAdd(hi, lo, row)
	runtime.KeepAlive(s) // until here: collected, its cleanup unmaps the tables
	return first, seen
}

// len returns how many values the set holds.
func (s *seenSet) len() int {
	n := 0
	for i := range s.shards {
		n += s.shards[i].used
	}
	return n
}

func (t *seenTable) firstOrAdd(hi uint64, lo uint32, row uint32) (first uint32, seen bool) {
	if (t.used+1)*5 > len(t.slots)*4 {
		t.grow()
	}
	i := t.home(hi)
	for {
		sl := &t.slots[i]
		switch {
		case sl.row == 0:
			*sl = seenSlot{hi: hi, lo: lo, row: row}
			t.used++
			return 0, false
		case sl.hi == hi && sl.lo == lo:
			return sl.row, true
		}
		if i++; i == len(t.slots) {
			i = 0
		}
	}
}

// home maps a hash onto the table without a division, by the bits below
// those that chose the table.
func (t *seenTable) home(hi uint64) int {
	h, _ := bits.Mul64(hi<<8, uint64(len(t.slots)))
	return int(h)
}

func (t *seenTable) grow() {
	old, oldMapped := t.slots, t.mapped
	t.slots, t.mapped = allocSlots(2 * len(old))
	t.used = 0
	for _, sl := range old {
		if sl.row != 0 {
			t.firstOrAdd(sl.hi, sl.lo, sl.row)
		}
	}
	freeSlots(old, oldMapped)
}

// mappedSlots is the size from which a table's slots are mapped outside
// the Go heap: below it, a page per table would cost more than it saves.
const mappedSlots = 4096 // 64 KiB

// allocSlots returns n empty slots: from the Go heap for a small table,
// else from memory mapped for it (where the system allows; mapped is then
// true), which the garbage collector neither counts nor scans, and which
// freeSlots unmaps. A slot holds no pointer, so the collector need not
// see it.
func allocSlots(n int) (slots []seenSlot, mapped bool) {
	if n >= mappedSlots {
		if b, err := mapMemory(n * int(unsafe.Sizeof(seenSlot{}))); err == nil {
			return unsafe.Slice((*seenSlot)(unsafe.Pointer(unsafe.SliceData(b))), n), true
		}
	}
	return make([]seenSlot, n), false
}

// freeSlots gives back slots that allocSlots mapped; the heap's are left to
// the collector.
func freeSlots(slots []seenSlot, mapped bool) {
	if mapped {
		unmapMemory(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(slots))), len(slots)*int(unsafe.Sizeof(seenSlot{}))))
	}
}
