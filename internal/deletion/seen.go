package deletion

import "math/bits"

// seenSet remembers every distinct valid value of a job with the row it
// first appeared on, so that a later row with the same value is a
// duplicate of that row. A million values are a million entries, so it is
// one flat open-addressed table of 16-byte slots rather than a map (which
// took 53 MiB for a million rows, against 20 MiB here): a value is kept as
// a 96-bit hash, and a table sized for the known number of rows is never
// more than 4/5 full. Two distinct values share a hash with a probability
// of about 10^-17 for a million values.
type seenSet struct {
	slots []seenSlot
	used  int
}

type seenSlot struct {
	hi  uint64
	lo  uint32
	row uint32 // 0: an empty slot (rows are numbered from 1)
}

// newSeenSet returns a set sized for expected values; it grows when more
// come (a preview does not know the file's length).
func newSeenSet(expected int) *seenSet {
	return &seenSet{slots: make([]seenSlot, max(1024, expected+expected/4+1))}
}

// firstOrAdd returns the row a value with this hash was first seen on, or
// records it as seen on row and returns false.
func (s *seenSet) firstOrAdd(hi uint64, lo uint32, row uint32) (first uint32, seen bool) {
	if (s.used+1)*5 > len(s.slots)*4 {
		s.grow()
	}
	i := s.home(hi)
	for {
		sl := &s.slots[i]
		switch {
		case sl.row == 0:
			*sl = seenSlot{hi: hi, lo: lo, row: row}
			s.used++
			return 0, false
		case sl.hi == hi && sl.lo == lo:
			return sl.row, true
		}
		if i++; i == len(s.slots) {
			i = 0
		}
	}
}

// home maps a hash onto the table without a division.
func (s *seenSet) home(hi uint64) int {
	h, _ := bits.Mul64(hi, uint64(len(s.slots)))
	return int(h)
}

func (s *seenSet) grow() {
	old := s.slots
	s.slots, s.used = make([]seenSlot, 2*len(old)), 0
	for _, sl := range old {
		if sl.row != 0 {
			s.firstOrAdd(sl.hi, sl.lo, sl.row)
		}
	}
}
