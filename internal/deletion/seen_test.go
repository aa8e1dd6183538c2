package deletion

import (
	"math/rand/v2"
	"testing"
)

// The table answers as a map would, through growth from its smallest size,
// sized ahead, and with hashes that share their home slot.
func TestSeenSetAgreesWithAMap(t *testing.T) {
	for _, c := range []struct {
		name     string
		expected int
		hi       func(r *rand.Rand) uint64
	}{
		{"grows from empty", 0, func(r *rand.Rand) uint64 { return r.Uint64() }},
		{"sized ahead", 50_000, func(r *rand.Rand) uint64 { return r.Uint64() }},
		// Tables big enough to be mapped outside the heap.
		{"mapped", 4_000_000, func(r *rand.Rand) uint64 { return r.Uint64() }},
		{"grows into mapped", 0, func(r *rand.Rand) uint64 { return 3<<56 | r.Uint64()>>8 }},
		// Few distinct high halves: all in a few tables, long probe runs,
		// told apart by the low half.
		{"colliding homes", 0, func(r *rand.Rand) uint64 { return uint64(r.IntN(8)) << 60 }},
		{"one table", 0, func(r *rand.Rand) uint64 { return 7<<56 | r.Uint64()>>8 }},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			s := newSeenSet(c.expected)
			want := map[[2]uint64]uint32{}
			var keys [][2]uint64
			for row := uint32(1); row <= 50_000; row++ {
				var k [2]uint64
				if len(keys) > 0 && r.IntN(4) == 0 {
					k = keys[r.IntN(len(keys))] // a duplicate
				} else {
					k = [2]uint64{c.hi(r), uint64(r.Uint32())}
					keys = append(keys, k)
				}
				first, seen := s.firstOrAdd(k[0], uint32(k[1]), row)
				w, ok := want[k]
				if seen != ok || (ok && first != w) {
					t.Fatalf("row %d: firstOrAdd = %d, %v; want %d, %v", row, first, seen, w, ok)
				}
				if !ok {
					want[k] = row
				}
			}
			if s.len() != len(want) {
				t.Fatalf("%d values held, want %d", s.len(), len(want))
			}
			sized := newSeenSet(c.expected)
			for i, sh := range s.shards {
				if sh.used*5 > len(sh.slots)*4 {
					t.Fatalf("table %d: %d used of %d slots", i, sh.used, len(sh.slots))
				}
				// Sized ahead for as many values as came, no table grew.
				if c.expected >= len(want) && len(sh.slots) != len(sized.shards[i].slots) {
					t.Fatalf("table %d grew to %d slots from %d", i, len(sh.slots), len(sized.shards[i].slots))
				}
			}
			if c.expected > 1_000_000 && !s.shards[0].mapped {
				t.Fatal("a table sized for millions is on the heap")
			}
			if c.name == "grows into mapped" && !s.shards[3].mapped {
				t.Fatalf("a table of %d slots is on the heap", len(s.shards[3].slots))
			}
			sized.release()
			s.release()
			if s.len() != 0 {
				t.Fatalf("%d values held after release", s.len())
			}
		})
	}
}
