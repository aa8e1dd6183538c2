// Package segmenttest draws random profiles and valid random segment
// definitions from one small vocabulary, so that conditions often hit: the
// property tests of the segment evaluator, and of every store path that
// evaluates segments, share it.
package segmenttest

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/erasure-dev/erasure/internal/identifier"
	"github.com/erasure-dev/erasure/internal/profile"
	"github.com/erasure-dev/erasure/internal/segment"
)

// Now is the evaluation time the generated dates are relative to.
var Now = time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)

// DaysAgo is the instant n days before Now.
func DaysAgo(n int) time.Time { return Now.Add(-time.Duration(n) * 24 * time.Hour) }

// The vocabulary.
var (
	Sections = []string{"a", "b", "c"}
	names    = []string{"x", "y"}
	tags     = []string{"t1", "t2"}
	events   = []string{"e1", "e2"}
	topics   = []string{"news", "promo"}
)

// Gen draws profiles and definitions.
type Gen struct {
	R *rand.Rand
	// Unreadable, when set, marks now and then a part of a generated
	// section unreadable, as the store marks data another writer stored in
	// an unexpected form. A profile stored from such a profile loses the
	// marks, so store tests leave it unset.
	Unreadable bool
}

// New returns a generator with a fixed seed.
func New(seed uint64) Gen { return Gen{R: rand.New(rand.NewPCG(seed, 2026))} }

func pick[T any](g Gen, s []T) T { return s[g.R.IntN(len(s))] }

// Time is a date from 20 days after Now to 380 days before, whole seconds.
func (g Gen) Time() time.Time { return DaysAgo(g.R.IntN(400) - 20) }

func (g Gen) value() any {
	return pick(g, []any{
		int32(5), int64(5), float64(5), 5.5, int64(-3), "5", "Ann", "Annie", "", true, false,
		DaysAgo(100), DaysAgo(200), nil, []any{"Ann"}, map[string]any{"x": int32(1)},
	})
}

// Profile draws a profile keyed by a type with a random key value.
func (g Gen) Profile() profile.Profile {
	p := profile.Profile{Key: profile.Key{Type: pick(g, []identifier.Type{identifier.Email, identifier.Phone, identifier.CRMID})}}
	p.Key.Value = fmt.Sprintf("k%016x", g.R.Uint64())
	if g.R.IntN(5) > 0 {
		p.CreatedAt, p.UpdatedAt = g.Time(), g.Time()
	}
	for _, id := range Sections {
		if g.R.IntN(3) == 0 {
			continue
		}
		s := profile.Section{SectionID: id, Attributes: map[string]any{}}
		for _, n := range names {
			if g.R.IntN(3) > 0 {
				s.Attributes[n] = g.value()
			}
		}
		for _, t := range tags {
			if g.R.IntN(2) == 0 {
				s.Tags = append(s.Tags, t)
			}
		}
		for range g.R.IntN(4) {
			s.Events = append(s.Events, profile.Event{Type: pick(g, events), At: g.Time()})
		}
		for range g.R.IntN(3) {
			s.Consents = append(s.Consents, profile.Consent{
				Channel: "email", Topic: pick(g, topics), Status: pick(g, []string{profile.OptIn, profile.OptOut}),
			})
		}
		if g.Unreadable && g.R.IntN(8) == 0 {
			switch g.R.IntN(5) {
			case 0:
				s.Unreadable = profile.Unreadable{Section: true, Attributes: true, Tags: true, Consents: true, Events: true}
			case 1:
				s.Unreadable.Attributes = true
			case 2:
				s.Unreadable.Tags = true
			case 3:
				s.Unreadable.Consents = true
			default:
				s.Unreadable.Events = true
			}
		}
		p.Sections = append(p.Sections, s)
	}
	return p
}

func (g Gen) section() string { return pick(g, append([]string{"", ""}, Sections...)) }

// Condition draws one condition, negated one time in four.
func (g Gen) Condition() segment.Node {
	neg := g.R.IntN(4) == 0
	switch g.R.IntN(6) {
	case 0:
		return segment.KeyType{Type: pick(g, []identifier.Type{identifier.Email, identifier.Phone, identifier.CRMID}), Negate: neg}
	case 1:
		a := segment.Attribute{Section: g.section(), Name: pick(g, names), Negate: neg}
		a.Op = pick(g, []segment.AttrOp{segment.OpEquals, segment.OpNotEquals, segment.OpContains, segment.OpStartsWith, segment.OpExists,
			segment.OpNotExists, segment.OpLess, segment.OpLessOrEqual, segment.OpGreater, segment.OpGreaterOrEqual})
		switch a.Op {
		case segment.OpEquals, segment.OpNotEquals:
			a.Value = pick(g, []any{5, int32(5), 5.0, 5.5, "5", "Ann", true, DaysAgo(100)})
		case segment.OpContains, segment.OpStartsWith:
			a.Value = pick(g, []string{"A", "nn", "Ann", "5"})
		case segment.OpLess, segment.OpLessOrEqual, segment.OpGreater, segment.OpGreaterOrEqual:
			a.Value = pick(g, []any{5, int64(0), 5.2, DaysAgo(150)})
		}
		return a
	case 2:
		return segment.Tag{Section: g.section(), Name: pick(g, tags), Negate: neg}
	case 3:
		e := segment.Event{Section: g.section(), Type: pick(g, events), AtLeast: g.R.IntN(4), Negate: neg}
		switch g.R.IntN(3) {
		case 0:
			e.WithinDays = 1 + g.R.IntN(400)
		case 1:
			e.From = DaysAgo(200 + g.R.IntN(200))
			if g.R.IntN(2) == 0 {
				e.To = DaysAgo(g.R.IntN(200))
			}
		}
		return e
	case 4:
		return segment.Consent{Section: g.section(), Channel: "email", Topic: pick(g, append([]string{""}, topics...)),
			Status: pick(g, []string{profile.OptIn, profile.OptOut}), Negate: neg}
	default:
		t := segment.Time{Field: pick(g, []segment.TimeField{segment.Created, segment.Updated}), Op: pick(g, []segment.TimeOp{segment.Before, segment.After}), Negate: neg}
		if g.R.IntN(2) == 0 {
			t.DaysAgo = 1 + g.R.IntN(400)
		} else {
			t.At = g.Time()
		}
		return t
	}
}

func (g Gen) node(depth int) segment.Node {
	if depth >= 4 || g.R.IntN(3) > 0 {
		return g.Condition()
	}
	return g.Group(depth + 1)
}

// Group draws a group at depth (the root is 1) of one to four children.
func (g Gen) Group(depth int) segment.Group {
	gr := segment.Group{Op: pick(g, []segment.GroupOp{segment.All, segment.Any}), Negate: g.R.IntN(4) == 0}
	for range 1 + g.R.IntN(4) {
		gr.Children = append(gr.Children, g.node(depth))
	}
	return gr
}

// Segment draws a definition.
func (g Gen) Segment() segment.Segment { return segment.Segment{Root: g.Group(1)} }

// Negate returns n with its Negate flag flipped.
func Negate(n segment.Node) segment.Node {
	switch n := n.(type) {
	case segment.Group:
		n.Negate = !n.Negate
		return n
	case segment.KeyType:
		n.Negate = !n.Negate
		return n
	case segment.Attribute:
		n.Negate = !n.Negate
		return n
	case segment.Tag:
		n.Negate = !n.Negate
		return n
	case segment.Event:
		n.Negate = !n.Negate
		return n
	case segment.Consent:
		n.Negate = !n.Negate
		return n
	case segment.Time:
		n.Negate = !n.Negate
		return n
	}
	panic("unknown node")
}
