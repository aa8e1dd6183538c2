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
		// Few distinct high halves: long probe runs, told apart by the low half.
		{"colliding homes", 0, func(r *rand.Rand) uint64 { return uint64(r.IntN(8)) << 60 }},
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
			if s.used != len(want) || s.used*5 > len(s.slots)*4 {
				t.Fatalf("%d used of %d slots for %d values", s.used, len(s.slots), len(want))
			}
		})
	}
}
