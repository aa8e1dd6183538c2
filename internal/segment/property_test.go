package segment_test

import (
	"slices"
	"testing"
	"time"

	"github.com/erasure-dev/erasure/internal/profile"
	"github.com/erasure-dev/erasure/internal/segment"
	"github.com/erasure-dev/erasure/internal/segment/segmenttest"
)

// flip is the negation of a verdict: Unknown stays Unknown.
func flip(t segment.Truth) segment.Truth {
	switch t {
	case segment.Yes:
		return segment.No
	case segment.No:
		return segment.Yes
	}
	return t
}

// TestProperties checks invariants over thousands of random definitions and
// profiles.
func TestProperties(t *testing.T) {
	t.Parallel()
	g := segmenttest.New(12)
	g.Unreadable = true
	profiles := make([]profile.Profile, 40)
	for i := range profiles {
		profiles[i] = g.Profile()
	}
	eval := func(n segment.Node, p profile.Profile, at time.Time) bool {
		return segment.Segment{Root: segment.Group{Op: segment.All, Children: []segment.Node{n}}}.Match(p, at)
	}
	truth := func(n segment.Node, p profile.Profile) segment.Truth {
		return segment.Segment{Root: segment.Group{Op: segment.All, Children: []segment.Node{n}}}.Eval(p, segmenttest.Now)
	}
	hits, unknown := 0, 0
	for i := range 3000 {
		root := g.Group(1)
		s := segment.Segment{Root: root}
		if err := s.Validate(segmenttest.Sections); err != nil {
			t.Fatalf("segment %d: a generated definition is invalid: %v", i, err)
		}
		c := g.Condition()
		for _, p := range profiles {
			v := s.Eval(p, segmenttest.Now)
			got := s.Match(p, segmenttest.Now)
			if got != (v == segment.Yes) {
				t.Fatalf("segment %d: Match is not Eval == Yes", i)
			}
			switch v {
			case segment.Yes:
				hits++
			case segment.Unknown:
				unknown++
			}
			if truth(root, p) != v {
				t.Fatalf("segment %d: All of one child differs from the child", i)
			}
			if (segment.Segment{Root: segment.Group{Op: segment.Any, Children: []segment.Node{root}}}).Eval(p, segmenttest.Now) != v {
				t.Fatalf("segment %d: Any of one child differs from the child", i)
			}
			if (segment.Segment{Root: segmenttest.Negate(root).(segment.Group)}).Eval(p, segmenttest.Now) != flip(v) {
				t.Fatalf("segment %d: Negate does not flip the result", i)
			}
			cv := truth(c, p)
			if truth(segmenttest.Negate(c), p) != flip(cv) {
				t.Fatalf("segment %d: Negate does not flip %#v", i, c)
			}
			// Unreadable data never decides: a profile is never in both a
			// segment and its negation, and in one of them when its data
			// was read.
			if got && (segment.Segment{Root: segmenttest.Negate(root).(segment.Group)}).Match(p, segmenttest.Now) {
				t.Fatalf("segment %d: a profile matches a segment and its negation", i)
			}
			want := segment.Yes
			if cv == segment.Unknown {
				want = segment.Unknown
			}
			if (segment.Segment{Root: segment.Group{Op: segment.Any, Children: []segment.Node{c, segmenttest.Negate(c)}}}).Eval(p, segmenttest.Now) != want {
				t.Fatalf("segment %d: Any of c and not c is not %v for %#v", i, want, c)
			}
			if (segment.Segment{Root: segment.Group{Op: segment.All, Children: []segment.Node{c, segmenttest.Negate(c)}}}).Eval(p, segmenttest.Now) != flip(want) {
				t.Fatalf("segment %d: All of c and not c is not %v for %#v", i, flip(want), c)
			}
			if readable(p) && cv == segment.Unknown {
				if tm, ok := c.(segment.Time); !ok || !dateUnset(tm, p) {
					t.Fatalf("segment %d: %#v is undecided on a profile read whole", i, c)
				}
			}
			// De Morgan: not all(children) = any(not child).
			neg := segment.Group{Op: segment.Any}
			for _, ch := range root.Children {
				neg.Children = append(neg.Children, segmenttest.Negate(ch))
			}
			if root.Op == segment.All && !root.Negate && (segment.Segment{Root: neg}).Eval(p, segmenttest.Now) != flip(v) {
				t.Fatalf("segment %d: De Morgan fails", i)
			}
			// Order of children does not matter.
			shuffled := root
			shuffled.Children = slices.Clone(root.Children)
			g.R.Shuffle(len(shuffled.Children), func(i, j int) {
				shuffled.Children[i], shuffled.Children[j] = shuffled.Children[j], shuffled.Children[i]
			})
			if (segment.Segment{Root: shuffled}).Eval(p, segmenttest.Now) != v {
				t.Fatalf("segment %d: order of children changes the result", i)
			}
			later := segmenttest.Now.Add(time.Duration(g.R.IntN(1000*24)) * time.Hour)
			checkCondition(t, c, p, later, eval)
		}
	}
	// A property test whose segments never (or always) match checks little.
	total := 3000 * len(profiles)
	if hits < total/10 || hits > total*9/10 || unknown < total/100 {
		t.Errorf("%d of %d evaluations match and %d are undecided; the generator needs tuning", hits, total, unknown)
	} else {
		t.Logf("%d of %d evaluations match, %d are undecided", hits, total, unknown)
	}
}

// readable reports whether every part of p was read.
func readable(p profile.Profile) bool {
	for _, s := range p.Sections {
		if s.Unreadable.Any() {
			return false
		}
	}
	return true
}

// dateUnset reports whether the date a Time condition tests is unset in p.
func dateUnset(c segment.Time, p profile.Profile) bool {
	if c.Field == segment.Updated {
		return p.UpdatedAt.IsZero()
	}
	return p.CreatedAt.IsZero()
}

// checkCondition checks invariants of one kind of condition.
// later is a second evaluation time for relative conditions.
func checkCondition(t *testing.T, c segment.Node, p profile.Profile, later time.Time, eval func(segment.Node, profile.Profile, time.Time) bool) {
	t.Helper()
	got := eval(c, p, segmenttest.Now)
	switch c := c.(type) {
	case segment.Attribute:
		if c.Negate {
			return
		}
		exists := eval(segment.Attribute{Section: c.Section, Name: c.Name, Op: segment.OpExists}, p, segmenttest.Now)
		if got && c.Op != segment.OpNotExists && !exists {
			t.Fatalf("%#v matches an attribute that does not exist", c)
		}
		switch c.Op {
		case segment.OpNotExists:
			if !readable(p) {
				break
			}
			if got == exists {
				t.Fatalf("not exists is not NOT(exists): %#v", c)
			}
		case segment.OpNotEquals:
			eq := eval(segment.Attribute{Section: c.Section, Name: c.Name, Op: segment.OpEquals, Value: c.Value}, p, segmenttest.Now)
			// In one section (ids are unique in generated profiles) not
			// equals is exactly "exists and not equals".
			if c.Section != "" && readable(p) && got != (exists && !eq) {
				t.Fatalf("not equals is not exists AND NOT equals: %#v", c)
			}
		}
		if c.Section != "" && got && c.Op != segment.OpNotExists {
			c.Section = ""
			if !eval(c, p, segmenttest.Now) {
				t.Fatalf("matches in a named section but not in any section: %#v", c)
			}
		}
	case segment.Tag:
		if got && !c.Negate && c.Section != "" && !eval(segment.Tag{Name: c.Name}, p, segmenttest.Now) {
			t.Fatalf("matches in a named section but not in any section: %#v", c)
		}
	case segment.Consent:
		if got && !c.Negate && c.Section != "" {
			c.Section = ""
			if !eval(c, p, segmenttest.Now) {
				t.Fatalf("matches in a named section but not in any section: %#v", c)
			}
		}
	case segment.Event:
		if c.Negate {
			return
		}
		if got && c.AtLeast > 1 {
			fewer := c
			fewer.AtLeast--
			if !eval(fewer, p, segmenttest.Now) {
				t.Fatalf("at least %d matches but at least %d does not: %#v", c.AtLeast, fewer.AtLeast, c)
			}
		}
		if got && c.Section != "" {
			c.Section = ""
			if !eval(c, p, segmenttest.Now) {
				t.Fatalf("matches in a named section but not in any section: %#v", c)
			}
		}
		if c.WithinDays > 0 {
			// Relative days resolve against the evaluation time alone.
			abs := segment.Event{Section: c.Section, Type: c.Type, AtLeast: c.AtLeast, From: daysBeforeAt(later, c.WithinDays)}
			if eval(c, p, later) != eval(abs, p, later) {
				t.Fatalf("within %d days differs from its date at %v: %#v", c.WithinDays, later, c)
			}
		}
	case segment.Time:
		if c.Negate {
			return
		}
		other := c
		other.Op = map[segment.TimeOp]segment.TimeOp{segment.Before: segment.After, segment.After: segment.Before}[c.Op]
		date := p.CreatedAt
		if c.Field == segment.Updated {
			date = p.UpdatedAt
		}
		if date.IsZero() {
			if got || eval(other, p, segmenttest.Now) || eval(segmenttest.Negate(c), p, segmenttest.Now) || eval(segmenttest.Negate(other), p, segmenttest.Now) {
				t.Fatalf("a profile without its date matches %#v or its negation", c)
			}
		} else if got == eval(other, p, segmenttest.Now) {
			t.Fatalf("before and after do not split the profiles: %#v", c)
		}
		if c.DaysAgo > 0 {
			abs := segment.Time{Field: c.Field, Op: c.Op, At: daysBeforeAt(later, c.DaysAgo)}
			if eval(c, p, later) != eval(abs, p, later) {
				t.Fatalf("%d days ago differs from its date at %v: %#v", c.DaysAgo, later, c)
			}
		}
	}
}

func daysBeforeAt(at time.Time, days int) time.Time {
	return at.Add(-time.Duration(days) * 24 * time.Hour)
}

// TestMarshalRoundTrip checks that a definition read back from its encoding
// decides every profile as the original does.
func TestMarshalRoundTrip(t *testing.T) {
	t.Parallel()
	g := segmenttest.New(7)
	g.Unreadable = true
	profiles := make([]profile.Profile, 40)
	for i := range profiles {
		profiles[i] = g.Profile()
	}
	for i := range 1000 {
		s := segment.Segment{Root: g.Group(1)}
		data, err := segment.Marshal(s)
		if err != nil {
			t.Fatalf("segment %d: %v", i, err)
		}
		back, err := segment.Unmarshal(data)
		if err != nil {
			t.Fatalf("segment %d: %v", i, err)
		}
		if err := back.Validate(segmenttest.Sections); err != nil {
			t.Fatalf("segment %d read back is invalid: %v", i, err)
		}
		for _, p := range profiles {
			if back.Eval(p, segmenttest.Now) != s.Eval(p, segmenttest.Now) {
				t.Fatalf("segment %d decides differently once read back from %s", i, data)
			}
		}
	}
	if _, err := segment.Unmarshal([]byte(`{"tag":{"Name":"x"}}`)); err == nil {
		t.Error("a root that is not a group was read back")
	}
}
