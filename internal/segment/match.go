package segment

import (
	"math"
	"strings"
	"time"

	"github.com/erasure-dev/erasure/internal/profile"
)

// Truth is a segment's verdict on one profile. A condition that depends on
// data stored in a form erasure cannot read (see [profile.Unreadable]) is
// Unknown, and so is its negation: groups combine verdicts in three-valued
// logic (All is No when a child is No, Any is Yes when a child is Yes, else
// Unknown wins over the rest). Only Yes matches, so unreadable data never
// puts a profile into a segment, whether the condition is negated or not.
type Truth int8

// The verdicts.
const (
	No Truth = iota
	Unknown
	Yes
)

func truthOf(b bool) Truth {
	if b {
		return Yes
	}
	return No
}

// not negates t when negate is set; Unknown stays Unknown.
func (t Truth) not(negate bool) Truth {
	if !negate || t == Unknown {
		return t
	}
	return Yes - t
}

// Match reports whether the profile p belongs to the segment at the
// evaluation time now: whether [Segment.Eval] says Yes.
func (s Segment) Match(p profile.Profile, now time.Time) bool {
	return s.Eval(p, now) == Yes
}

// Eval decides whether the profile p belongs to the segment at the
// evaluation time now. It expects a definition that passed
// [Segment.Validate]; a node it does not know is No.
func (s Segment) Eval(p profile.Profile, now time.Time) Truth {
	return evalNode(s.Root, &p, now)
}

func evalNode(n Node, p *profile.Profile, now time.Time) Truth {
	switch n := n.(type) {
	case Group:
		return evalGroup(n, p, now).not(n.Negate)
	case KeyType:
		return truthOf(p.Key.Type == n.Type).not(n.Negate)
	case Attribute:
		return evalAttribute(n, p).not(n.Negate)
	case Tag:
		return evalTag(n, p).not(n.Negate)
	case Event:
		return evalEvent(n, p, now).not(n.Negate)
	case Consent:
		return evalConsent(n, p).not(n.Negate)
	case Time:
		return evalTime(n, p, now).not(n.Negate)
	}
	return No
}

func evalGroup(g Group, p *profile.Profile, now time.Time) Truth {
	// All is No as soon as a child is No, Any is Yes as soon as one is Yes.
	decisive, other := No, Yes
	switch g.Op {
	case All:
	case Any:
		decisive, other = Yes, No
	default:
		return No
	}
	result := other
	for _, c := range g.Children {
		switch evalNode(c, p, now) {
		case decisive:
			return decisive
		case Unknown:
			result = Unknown
		}
	}
	return result
}

// some is the verdict of "some section in scope satisfies a condition":
// Yes when one does, else Unknown when one might (its data was unreadable),
// else No.
type some struct{ found, unsure bool }

func (s some) truth() Truth {
	switch {
	case s.found:
		return Yes
	case s.unsure:
		return Unknown
	}
	return No
}

// inScope reports whether a condition naming section (empty: any) looks at
// the section s. A section whose id is unreadable might be any section.
func inScope(section string, s *profile.Section) bool {
	return section == "" || s.SectionID == section || s.Unreadable.Section
}

func evalAttribute(a Attribute, p *profile.Profile) Truth {
	if a.Op == OpNotExists {
		return evalAttribute(Attribute{Section: a.Section, Name: a.Name, Op: OpExists}, p).not(true)
	}
	var r some
	for i := range p.Sections {
		s := &p.Sections[i]
		if !inScope(a.Section, s) {
			continue
		}
		v, ok := s.Attributes[a.Name]
		if ok && v != nil && matchValue(a.Op, v, a.Value) {
			return Yes
		}
		r.unsure = r.unsure || s.Unreadable.Attributes
	}
	return r.truth()
}

// matchValue applies op to a stored value v (not nil) and the condition's
// value want.
func matchValue(op AttrOp, v, want any) bool {
	switch op {
	case OpExists:
		return true
	case OpEquals:
		return equal(v, want)
	case OpNotEquals:
		return !equal(v, want)
	case OpContains:
		s, ok1 := v.(string)
		sub, ok2 := want.(string)
		return ok1 && ok2 && strings.Contains(s, sub)
	case OpStartsWith:
		s, ok1 := v.(string)
		prefix, ok2 := want.(string)
		return ok1 && ok2 && strings.HasPrefix(s, prefix)
	case OpLess, OpLessOrEqual, OpGreater, OpGreaterOrEqual:
		c, ok := compare(v, want)
		if !ok {
			return false
		}
		switch op {
		case OpLess:
			return c < 0
		case OpLessOrEqual:
			return c <= 0
		case OpGreater:
			return c > 0
		default:
			return c >= 0
		}
	}
	return false
}

// equal compares two values by type: see the package doc.
func equal(a, b any) bool {
	switch a := a.(type) {
	case string:
		b, ok := b.(string)
		return ok && a == b
	case bool:
		b, ok := b.(bool)
		return ok && a == b
	case time.Time:
		b, ok := b.(time.Time)
		return ok && a.Equal(b)
	}
	c, ok := compareNumbers(a, b)
	return ok && c == 0
}

// compare orders two numbers or two dates; ok is false for any other pair,
// and for NaN.
func compare(a, b any) (c int, ok bool) {
	if ta, isTime := a.(time.Time); isTime {
		tb, ok := b.(time.Time)
		if !ok {
			return 0, false
		}
		return ta.Compare(tb), true
	}
	return compareNumbers(a, b)
}

// number is a numeric value: an integer when isInt, else a float.
type number struct {
	i     int64
	f     float64
	isInt bool
}

func toNumber(v any) (number, bool) {
	switch v := v.(type) {
	case int:
		return number{i: int64(v), isInt: true}, true
	case int8:
		return number{i: int64(v), isInt: true}, true
	case int16:
		return number{i: int64(v), isInt: true}, true
	case int32:
		return number{i: int64(v), isInt: true}, true
	case int64:
		return number{i: v, isInt: true}, true
	case uint8:
		return number{i: int64(v), isInt: true}, true
	case uint16:
		return number{i: int64(v), isInt: true}, true
	case uint32:
		return number{i: int64(v), isInt: true}, true
	case uint:
		if v > math.MaxInt64 {
			return number{f: float64(v)}, true
		}
		return number{i: int64(v), isInt: true}, true
	case uint64:
		if v > math.MaxInt64 {
			return number{f: float64(v)}, true
		}
		return number{i: int64(v), isInt: true}, true
	case float32:
		return number{f: float64(v)}, !math.IsNaN(float64(v))
	case float64:
		return number{f: v}, !math.IsNaN(v)
	}
	return number{}, false
}

func (n number) float() float64 {
	if n.isInt {
		return float64(n.i)
	}
	return n.f
}

// compareNumbers orders two numbers: integers exactly, anything else as
// float64.
func compareNumbers(a, b any) (int, bool) {
	na, ok1 := toNumber(a)
	nb, ok2 := toNumber(b)
	if !ok1 || !ok2 {
		return 0, false
	}
	if na.isInt && nb.isInt {
		return cmpOrdered(na.i, nb.i), true
	}
	return cmpOrdered(na.float(), nb.float()), true
}

func cmpOrdered[T int64 | float64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func evalTag(t Tag, p *profile.Profile) Truth {
	var r some
	for i := range p.Sections {
		s := &p.Sections[i]
		if !inScope(t.Section, s) {
			continue
		}
		for _, name := range s.Tags {
			if name == t.Name {
				return Yes
			}
		}
		r.unsure = r.unsure || s.Unreadable.Tags
	}
	return r.truth()
}

func daysBefore(now time.Time, days int) time.Time {
	return now.Add(-time.Duration(days) * 24 * time.Hour)
}

// evalEvent counts the readable events in the time frame; when they are too
// few but a section in scope has unreadable events, the verdict is Unknown.
func evalEvent(e Event, p *profile.Profile, now time.Time) Truth {
	need := max(e.AtLeast, 1)
	var from time.Time
	if e.WithinDays > 0 {
		from = daysBefore(now, e.WithinDays)
	} else {
		from = e.From
	}
	n := 0
	unsure := false
	for i := range p.Sections {
		s := &p.Sections[i]
		if !inScope(e.Section, s) {
			continue
		}
		unsure = unsure || s.Unreadable.Events
		for _, ev := range s.Events {
			if ev.Type != e.Type {
				continue
			}
			if !from.IsZero() && ev.At.Before(from) {
				continue
			}
			if e.WithinDays <= 0 && !e.To.IsZero() && !ev.At.Before(e.To) {
				continue
			}
			n++
			if n >= need {
				return Yes
			}
		}
	}
	return some{unsure: unsure}.truth()
}

func evalConsent(c Consent, p *profile.Profile) Truth {
	var r some
	for i := range p.Sections {
		s := &p.Sections[i]
		if !inScope(c.Section, s) {
			continue
		}
		for _, k := range s.Consents {
			if k.Channel == c.Channel && (c.Topic == "" || k.Topic == c.Topic) && k.Status == c.Status {
				return Yes
			}
		}
		r.unsure = r.unsure || s.Unreadable.Consents
	}
	return r.truth()
}

// evalTime is Unknown for a profile without the date (unset, or stored as
// something other than a date).
func evalTime(t Time, p *profile.Profile, now time.Time) Truth {
	var v time.Time
	switch t.Field {
	case Created:
		v = p.CreatedAt
	case Updated:
		v = p.UpdatedAt
	default:
		return No
	}
	if v.IsZero() {
		return Unknown
	}
	bound := t.At
	if bound.IsZero() {
		bound = daysBefore(now, t.DaysAgo)
	}
	switch t.Op {
	case Before:
		return truthOf(v.Before(bound))
	case After:
		return truthOf(!v.Before(bound))
	}
	return No
}
