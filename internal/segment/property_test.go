package segment

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/erasure-dev/erasure/internal/identifier"
	"github.com/erasure-dev/erasure/internal/profile"
)

// gen draws random profiles and valid random definitions from one small
// vocabulary, so that conditions often hit.
type gen struct{ r *rand.Rand }

var (
	genSections = []string{"a", "b", "c"}
	genNames    = []string{"x", "y"}
	genTags     = []string{"t1", "t2"}
	genEvents   = []string{"e1", "e2"}
	genTopics   = []string{"news", "promo"}
)

func pick[T any](g gen, s []T) T { return s[g.r.IntN(len(s))] }

func (g gen) time() time.Time { return daysAgo(g.r.IntN(400) - 20) }

func (g gen) value() any {
	return pick(g, []any{
		int32(5), int64(5), float64(5), 5.5, int64(-3), "5", "Ann", "Annie", "", true, false,
		daysAgo(100), daysAgo(200), nil, []any{"Ann"}, map[string]any{"x": 1},
	})
}

func (g gen) profile() profile.Profile {
	p := profile.Profile{Key: profile.Key{Type: pick(g, []identifier.Type{identifier.Email, identifier.Phone, identifier.CRMID})}}
	if g.r.IntN(5) > 0 {
		p.CreatedAt, p.UpdatedAt = g.time(), g.time()
	}
	for _, id := range genSections {
		if g.r.IntN(3) == 0 {
			continue
		}
		s := profile.Section{SectionID: id, Attributes: map[string]any{}}
		for _, n := range genNames {
			if g.r.IntN(3) > 0 {
				s.Attributes[n] = g.value()
			}
		}
		for _, t := range genTags {
			if g.r.IntN(2) == 0 {
				s.Tags = append(s.Tags, t)
			}
		}
		for range g.r.IntN(4) {
			s.Events = append(s.Events, profile.Event{Type: pick(g, genEvents), At: g.time()})
		}
		for range g.r.IntN(3) {
			s.Consents = append(s.Consents, profile.Consent{
				Channel: "email", Topic: pick(g, genTopics), Status: pick(g, []string{profile.OptIn, profile.OptOut}),
			})
		}
		p.Sections = append(p.Sections, s)
	}
	return p
}

func (g gen) section() string { return pick(g, append([]string{"", ""}, genSections...)) }

func (g gen) condition() Node {
	neg := g.r.IntN(4) == 0
	switch g.r.IntN(6) {
	case 0:
		return KeyType{Type: pick(g, []identifier.Type{identifier.Email, identifier.Phone, identifier.CRMID}), Negate: neg}
	case 1:
		a := Attribute{Section: g.section(), Name: pick(g, genNames), Negate: neg}
		a.Op = pick(g, []AttrOp{OpEquals, OpNotEquals, OpContains, OpStartsWith, OpExists, OpNotExists, OpLess, OpLessOrEqual, OpGreater, OpGreaterOrEqual})
		switch a.Op {
		case OpEquals, OpNotEquals:
			a.Value = pick(g, []any{5, int32(5), 5.0, 5.5, "5", "Ann", true, daysAgo(100)})
		case OpContains, OpStartsWith:
			a.Value = pick(g, []string{"A", "nn", "Ann", "5"})
		case OpLess, OpLessOrEqual, OpGreater, OpGreaterOrEqual:
			a.Value = pick(g, []any{5, int64(0), 5.2, daysAgo(150)})
		}
		return a
	case 2:
		return Tag{Section: g.section(), Name: pick(g, genTags), Negate: neg}
	case 3:
		e := Event{Section: g.section(), Type: pick(g, genEvents), AtLeast: g.r.IntN(4), Negate: neg}
		switch g.r.IntN(3) {
		case 0:
			e.WithinDays = 1 + g.r.IntN(400)
		case 1:
			e.From = daysAgo(200 + g.r.IntN(200))
			if g.r.IntN(2) == 0 {
				e.To = daysAgo(g.r.IntN(200))
			}
		}
		return e
	case 4:
		return Consent{Section: g.section(), Channel: "email", Topic: pick(g, append([]string{""}, genTopics...)),
			Status: pick(g, []string{profile.OptIn, profile.OptOut}), Negate: neg}
	default:
		t := Time{Field: pick(g, []TimeField{Created, Updated}), Op: pick(g, []TimeOp{Before, After}), Negate: neg}
		if g.r.IntN(2) == 0 {
			t.DaysAgo = 1 + g.r.IntN(400)
		} else {
			t.At = g.time()
		}
		return t
	}
}

func (g gen) node(depth int) Node {
	if depth >= 4 || g.r.IntN(3) > 0 {
		return g.condition()
	}
	return g.group(depth + 1)
}

func (g gen) group(depth int) Group {
	gr := Group{Op: pick(g, []GroupOp{All, Any}), Negate: g.r.IntN(4) == 0}
	for range 1 + g.r.IntN(4) {
		gr.Children = append(gr.Children, g.node(depth))
	}
	return gr
}

func negate(n Node) Node {
	switch n := n.(type) {
	case Group:
		n.Negate = !n.Negate
		return n
	case KeyType:
		n.Negate = !n.Negate
		return n
	case Attribute:
		n.Negate = !n.Negate
		return n
	case Tag:
		n.Negate = !n.Negate
		return n
	case Event:
		n.Negate = !n.Negate
		return n
	case Consent:
		n.Negate = !n.Negate
		return n
	case Time:
		n.Negate = !n.Negate
		return n
	}
	panic("unknown node")
}

// TestProperties checks invariants over thousands of random definitions and
// profiles.
func TestProperties(t *testing.T) {
	t.Parallel()
	g := gen{rand.New(rand.NewPCG(12, 2026))}
	profiles := make([]profile.Profile, 40)
	for i := range profiles {
		profiles[i] = g.profile()
	}
	eval := func(n Node, p profile.Profile, at time.Time) bool {
		return Segment{Root: Group{Op: All, Children: []Node{n}}}.Match(p, at)
	}
	hits := 0
	for i := range 3000 {
		root := g.group(1)
		s := Segment{Root: root}
		if err := s.Validate(genSections); err != nil {
			t.Fatalf("segment %d: a generated definition is invalid: %v", i, err)
		}
		c := g.condition()
		for _, p := range profiles {
			got := s.Match(p, now)
			if got {
				hits++
			}
			if eval(root, p, now) != got {
				t.Fatalf("segment %d: All of one child differs from the child", i)
			}
			if (Segment{Root: Group{Op: Any, Children: []Node{root}}}).Match(p, now) != got {
				t.Fatalf("segment %d: Any of one child differs from the child", i)
			}
			if (Segment{Root: negate(root).(Group)}).Match(p, now) == got {
				t.Fatalf("segment %d: Negate does not flip the result", i)
			}
			if eval(negate(c), p, now) == eval(c, p, now) {
				t.Fatalf("segment %d: Negate does not flip %#v", i, c)
			}
			if !(Segment{Root: Group{Op: Any, Children: []Node{c, negate(c)}}}).Match(p, now) {
				t.Fatalf("segment %d: Any of c and not c is false for %#v", i, c)
			}
			if (Segment{Root: Group{Op: All, Children: []Node{c, negate(c)}}}).Match(p, now) {
				t.Fatalf("segment %d: All of c and not c is true for %#v", i, c)
			}
			// De Morgan: not all(children) = any(not child).
			neg := Group{Op: Any}
			for _, ch := range root.Children {
				neg.Children = append(neg.Children, negate(ch))
			}
			if root.Op == All && !root.Negate && (Segment{Root: neg}).Match(p, now) == got {
				t.Fatalf("segment %d: De Morgan fails", i)
			}
			// Order of children does not matter.
			shuffled := root
			shuffled.Children = slices.Clone(root.Children)
			g.r.Shuffle(len(shuffled.Children), func(i, j int) {
				shuffled.Children[i], shuffled.Children[j] = shuffled.Children[j], shuffled.Children[i]
			})
			if (Segment{Root: shuffled}).Match(p, now) != got {
				t.Fatalf("segment %d: order of children changes the result", i)
			}
			later := now.Add(time.Duration(g.r.IntN(1000*24)) * time.Hour)
			checkCondition(t, c, p, later, eval)
		}
	}
	// A property test whose segments never (or always) match checks little.
	if total := 3000 * len(profiles); hits < total/10 || hits > total*9/10 {
		t.Errorf("%d of %d evaluations match; the generator needs tuning", hits, total)
	} else {
		t.Logf("%d of %d evaluations match", hits, total)
	}
}

// checkCondition checks invariants of one kind of condition.
// later is a second evaluation time for relative conditions.
func checkCondition(t *testing.T, c Node, p profile.Profile, later time.Time, eval func(Node, profile.Profile, time.Time) bool) {
	t.Helper()
	got := eval(c, p, now)
	switch c := c.(type) {
	case Attribute:
		if c.Negate {
			return
		}
		exists := eval(Attribute{Section: c.Section, Name: c.Name, Op: OpExists}, p, now)
		if got && c.Op != OpNotExists && !exists {
			t.Fatalf("%#v matches an attribute that does not exist", c)
		}
		switch c.Op {
		case OpNotExists:
			if got == exists {
				t.Fatalf("not exists is not NOT(exists): %#v", c)
			}
		case OpNotEquals:
			eq := eval(Attribute{Section: c.Section, Name: c.Name, Op: OpEquals, Value: c.Value}, p, now)
			// In one section (ids are unique in generated profiles) not
			// equals is exactly "exists and not equals".
			if c.Section != "" && got != (exists && !eq) {
				t.Fatalf("not equals is not exists AND NOT equals: %#v", c)
			}
		}
		if c.Section != "" && got && c.Op != OpNotExists {
			c.Section = ""
			if !eval(c, p, now) {
				t.Fatalf("matches in a named section but not in any section: %#v", c)
			}
		}
	case Tag:
		if got && !c.Negate && c.Section != "" && !eval(Tag{Name: c.Name}, p, now) {
			t.Fatalf("matches in a named section but not in any section: %#v", c)
		}
	case Consent:
		if got && !c.Negate && c.Section != "" {
			c.Section = ""
			if !eval(c, p, now) {
				t.Fatalf("matches in a named section but not in any section: %#v", c)
			}
		}
	case Event:
		if c.Negate {
			return
		}
		if got && c.AtLeast > 1 {
			fewer := c
			fewer.AtLeast--
			if !eval(fewer, p, now) {
				t.Fatalf("at least %d matches but at least %d does not: %#v", c.AtLeast, fewer.AtLeast, c)
			}
		}
		if got && c.Section != "" {
			c.Section = ""
			if !eval(c, p, now) {
				t.Fatalf("matches in a named section but not in any section: %#v", c)
			}
		}
		if c.WithinDays > 0 {
			// Relative days resolve against the evaluation time alone.
			abs := Event{Section: c.Section, Type: c.Type, AtLeast: c.AtLeast, From: daysBeforeAt(later, c.WithinDays)}
			if eval(c, p, later) != eval(abs, p, later) {
				t.Fatalf("within %d days differs from its date at %v: %#v", c.WithinDays, later, c)
			}
		}
	case Time:
		if c.Negate {
			return
		}
		other := c
		other.Op = map[TimeOp]TimeOp{Before: After, After: Before}[c.Op]
		date := p.CreatedAt
		if c.Field == Updated {
			date = p.UpdatedAt
		}
		if date.IsZero() {
			if got || eval(other, p, now) {
				t.Fatalf("a profile without its date matches %#v", c)
			}
		} else if got == eval(other, p, now) {
			t.Fatalf("before and after do not split the profiles: %#v", c)
		}
		if c.DaysAgo > 0 {
			abs := Time{Field: c.Field, Op: c.Op, At: daysBeforeAt(later, c.DaysAgo)}
			if eval(c, p, later) != eval(abs, p, later) {
				t.Fatalf("%d days ago differs from its date at %v: %#v", c.DaysAgo, later, c)
			}
		}
	}
}

func daysBeforeAt(at time.Time, days int) time.Time {
	return at.Add(-time.Duration(days) * 24 * time.Hour)
}
