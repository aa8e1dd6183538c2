package segment

import (
	"math"
	"strings"
	"time"

	"github.com/erasure-dev/erasure/internal/profile"
)

// Match reports whether the profile p belongs to the segment at the
// evaluation time now. It expects a definition that passed
// [Segment.Validate]; a node it does not know matches nothing.
func (s Segment) Match(p profile.Profile, now time.Time) bool {
	return matchNode(s.Root, &p, now)
}

func matchNode(n Node, p *profile.Profile, now time.Time) bool {
	switch n := n.(type) {
	case Group:
		return matchGroup(n, p, now) != n.Negate
	case KeyType:
		return (p.Key.Type == n.Type) != n.Negate
	case Attribute:
		return matchAttribute(n, p) != n.Negate
	case Tag:
		return matchTag(n, p) != n.Negate
	case Event:
		return matchEvent(n, p, now) != n.Negate
	case Consent:
		return matchConsent(n, p) != n.Negate
	case Time:
		return matchTime(n, p, now) != n.Negate
	}
	return false
}

func matchGroup(g Group, p *profile.Profile, now time.Time) bool {
	switch g.Op {
	case All:
		for _, c := range g.Children {
			if !matchNode(c, p, now) {
				return false
			}
		}
		return true
	case Any:
		for _, c := range g.Children {
			if matchNode(c, p, now) {
				return true
			}
		}
	}
	return false
}

// inScope reports whether a condition naming section (empty: any) looks at
// the section s.
func inScope(section string, s *profile.Section) bool {
	return section == "" || s.SectionID == section
}

func matchAttribute(a Attribute, p *profile.Profile) bool {
	if a.Op == OpNotExists {
		return !matchAttribute(Attribute{Section: a.Section, Name: a.Name, Op: OpExists}, p)
	}
	for i := range p.Sections {
		s := &p.Sections[i]
		if !inScope(a.Section, s) {
			continue
		}
		v, ok := s.Attributes[a.Name]
		if ok && v != nil && matchValue(a.Op, v, a.Value) {
			return true
		}
	}
	return false
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

func matchTag(t Tag, p *profile.Profile) bool {
	for i := range p.Sections {
		s := &p.Sections[i]
		if !inScope(t.Section, s) {
			continue
		}
		for _, name := range s.Tags {
			if name == t.Name {
				return true
			}
		}
	}
	return false
}

func daysBefore(now time.Time, days int) time.Time {
	return now.Add(-time.Duration(days) * 24 * time.Hour)
}

func matchEvent(e Event, p *profile.Profile, now time.Time) bool {
	need := max(e.AtLeast, 1)
	var from time.Time
	if e.WithinDays > 0 {
		from = daysBefore(now, e.WithinDays)
	} else {
		from = e.From
	}
	n := 0
	for i := range p.Sections {
		s := &p.Sections[i]
		if !inScope(e.Section, s) {
			continue
		}
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
				return true
			}
		}
	}
	return false
}

func matchConsent(c Consent, p *profile.Profile) bool {
	for i := range p.Sections {
		s := &p.Sections[i]
		if !inScope(c.Section, s) {
			continue
		}
		for _, k := range s.Consents {
			if k.Channel == c.Channel && (c.Topic == "" || k.Topic == c.Topic) && k.Status == c.Status {
				return true
			}
		}
	}
	return false
}

func matchTime(t Time, p *profile.Profile, now time.Time) bool {
	var v time.Time
	switch t.Field {
	case Created:
		v = p.CreatedAt
	case Updated:
		v = p.UpdatedAt
	default:
		return false
	}
	if v.IsZero() {
		return false
	}
	bound := t.At
	if bound.IsZero() {
		bound = daysBefore(now, t.DaysAgo)
	}
	switch t.Op {
	case Before:
		return v.Before(bound)
	case After:
		return !v.Before(bound)
	}
	return false
}
