package segment

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/erasure-dev/erasure/internal/identifier"
	"github.com/erasure-dev/erasure/internal/profile"
)

// Validate checks the definition and returns an [*Error] naming the first
// node in error, or nil. sections are the account's section ids: a condition
// naming another section is an error. nil sections skips that check.
func (s Segment) Validate(sections []string) error {
	v := validator{sections: sections}
	return v.group("root", s.Root, 1)
}

type validator struct {
	sections []string
	nodes    int
}

// clipped cuts a name from the request to 40 characters for a message, as
// the API echoes every value.
func clipped(s string) string {
	if r := []rune(s); len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return s
}

// SectionRef is a section named by a condition, and the condition's path.
type SectionRef struct {
	Path    string
	Section string
}

// NamedSections returns each section the definition's conditions name,
// once, with the path of the first condition naming it, in tree order.
func (s Segment) NamedSections() []SectionRef {
	var refs []SectionRef
	var walk func(at string, n Node)
	walk = func(at string, n Node) {
		var sec string
		switch n := n.(type) {
		case Group:
			for i, c := range n.Children {
				walk(fmt.Sprintf("%s.children[%d]", at, i), c)
			}
			return
		case Attribute:
			sec = n.Section
		case Tag:
			sec = n.Section
		case Event:
			sec = n.Section
		case Consent:
			sec = n.Section
		}
		if sec != "" && !slices.ContainsFunc(refs, func(r SectionRef) bool { return r.Section == sec }) {
			refs = append(refs, SectionRef{Path: at + "." + n.kind(), Section: sec})
		}
	}
	walk("root", s.Root)
	return refs
}

// UnknownSection is the error of a condition naming a section the account
// does not have, at path.
func UnknownSection(r SectionRef) error {
	return errorf(r.Path, "unknown section %q", clipped(r.Section))
}

func errorf(path, format string, args ...any) error {
	return &Error{Path: path, Msg: fmt.Sprintf(format, args...)}
}

func (v *validator) group(path string, g Group, depth int) error {
	if depth > MaxDepth {
		return errorf(path, "groups nest deeper than %d levels", MaxDepth)
	}
	if g.Op != All && g.Op != Any {
		return errorf(path, "unknown group operator %q; use %q or %q", g.Op, All, Any)
	}
	if len(g.Children) == 0 {
		return errorf(path, "group has no conditions")
	}
	for i, c := range g.Children {
		v.nodes++
		at := fmt.Sprintf("%s.children[%d]", path, i)
		if v.nodes > MaxNodes {
			return errorf(at, "the segment has more than %d groups and conditions", MaxNodes)
		}
		if err := v.node(at, c, depth); err != nil {
			return err
		}
	}
	return nil
}

func (v *validator) node(path string, n Node, depth int) error {
	if n == nil {
		return errorf(path, "missing condition")
	}
	if g, ok := n.(Group); ok {
		return v.group(path, g, depth+1)
	}
	switch n.(type) {
	case KeyType, Attribute, Tag, Event, Consent, Time:
	default:
		// Pointers too: the evaluator knows only the value types.
		return errorf(path, "unknown condition type %T", n)
	}
	path += "." + n.kind()
	switch n := n.(type) {
	case KeyType:
		return keyType(path, n)
	case Attribute:
		return v.attribute(path, n)
	case Tag:
		if err := v.section(path, n.Section); err != nil {
			return err
		}
		return name(path, "tag name", n.Name)
	case Event:
		return v.event(path, n)
	case Consent:
		return v.consent(path, n)
	case Time:
		return timeCond(path, n)
	}
	panic("unreachable")
}

func keyType(path string, k KeyType) error {
	switch k.Type {
	case identifier.Email, identifier.Phone, identifier.CRMID:
		return nil
	}
	return errorf(path, "unknown key type %d", k.Type)
}

// section checks a condition's section against the account's sections.
func (v *validator) section(path, section string) error {
	if section == "" {
		return nil
	}
	if err := checkString(path, "section", section); err != nil {
		return err
	}
	if v.sections != nil && !slices.Contains(v.sections, section) {
		return UnknownSection(SectionRef{Path: path, Section: section})
	}
	return nil
}

// name checks a required name.
func name(path, what, s string) error {
	if s == "" {
		return errorf(path, "%s is empty", what)
	}
	return checkString(path, what, s)
}

func checkString(path, what, s string) error {
	if len(s) > MaxStringBytes {
		return errorf(path, "%s is longer than %d bytes", what, MaxStringBytes)
	}
	if !utf8.ValidString(s) {
		return errorf(path, "%s is not valid UTF-8", what)
	}
	return nil
}

func (v *validator) attribute(path string, a Attribute) error {
	if err := v.section(path, a.Section); err != nil {
		return err
	}
	if err := name(path, "attribute name", a.Name); err != nil {
		return err
	}
	// A name is a key in the stored document: "$" and "." would read as an
	// operator or a path by any filter built from it.
	if strings.ContainsAny(a.Name, "$.") {
		return errorf(path, "attribute name %q holds %q or %q", clipped(a.Name), "$", ".")
	}
	switch a.Op {
	case OpExists, OpNotExists:
		if a.Value != nil {
			return errorf(path, "operator %q takes no value", a.Op)
		}
		return nil
	case OpEquals, OpNotEquals:
		switch a.Value.(type) {
		case string, bool, time.Time:
		default:
			if _, ok := toNumber(a.Value); !ok {
				return errorf(path, "operator %q needs a string, number, boolean or date value, not %s", a.Op, typeName(a.Value))
			}
		}
	case OpContains, OpStartsWith:
		s, ok := a.Value.(string)
		if !ok {
			return errorf(path, "operator %q needs a string value, not %s", a.Op, typeName(a.Value))
		}
		if s == "" {
			return errorf(path, "operator %q needs a non-empty value", a.Op)
		}
	case OpLess, OpLessOrEqual, OpGreater, OpGreaterOrEqual:
		_, isTime := a.Value.(time.Time)
		if _, ok := toNumber(a.Value); !ok && !isTime {
			return errorf(path, "operator %q needs a number or date value, not %s", a.Op, typeName(a.Value))
		}
	default:
		return errorf(path, "unknown attribute operator %q", a.Op)
	}
	switch val := a.Value.(type) {
	case string:
		return checkString(path, "value", val)
	case time.Time:
		return checkTime(path, "value", val)
	case float32:
		if math.IsInf(float64(val), 0) {
			return errorf(path, "value is infinite")
		}
	case float64:
		if math.IsInf(val, 0) {
			return errorf(path, "value is infinite")
		}
	}
	return nil
}

func typeName(v any) string {
	if v == nil {
		return "none"
	}
	return fmt.Sprintf("%T", v)
}

func checkTime(path, what string, t time.Time) error {
	if t.Before(MinTime) || !t.Before(MaxTime) {
		return errorf(path, "%s %s is out of range [%s, %s)", what,
			t.UTC().Format(time.RFC3339), MinTime.Format(time.DateOnly), MaxTime.Format(time.DateOnly))
	}
	return nil
}

func checkDays(path, what string, days int) error {
	if days < 0 || days > MaxDays {
		return errorf(path, "%s %d is out of range [0, %d]", what, days, MaxDays)
	}
	return nil
}

func (v *validator) event(path string, e Event) error {
	if err := v.section(path, e.Section); err != nil {
		return err
	}
	if err := name(path, "event type", e.Type); err != nil {
		return err
	}
	if e.AtLeast < 0 {
		return errorf(path, "at least %d is negative", e.AtLeast)
	}
	if err := checkDays(path, "within days", e.WithinDays); err != nil {
		return err
	}
	if e.WithinDays > 0 && (!e.From.IsZero() || !e.To.IsZero()) {
		return errorf(path, "within days excludes from and to")
	}
	if !e.From.IsZero() {
		if err := checkTime(path, "from", e.From); err != nil {
			return err
		}
	}
	if !e.To.IsZero() {
		if err := checkTime(path, "to", e.To); err != nil {
			return err
		}
	}
	if !e.From.IsZero() && !e.To.IsZero() && !e.From.Before(e.To) {
		return errorf(path, "from is not before to")
	}
	return nil
}

func (v *validator) consent(path string, c Consent) error {
	if err := v.section(path, c.Section); err != nil {
		return err
	}
	if err := name(path, "channel", c.Channel); err != nil {
		return err
	}
	if err := checkString(path, "topic", c.Topic); err != nil {
		return err
	}
	if c.Status != profile.OptIn && c.Status != profile.OptOut {
		return errorf(path, "unknown consent status %q; use %q or %q", clipped(c.Status), profile.OptIn, profile.OptOut)
	}
	return nil
}

func timeCond(path string, t Time) error {
	if t.Field != Created && t.Field != Updated {
		return errorf(path, "unknown time field %q; use %q or %q", t.Field, Created, Updated)
	}
	if t.Op != Before && t.Op != After {
		return errorf(path, "unknown time operator %q; use %q or %q", t.Op, Before, After)
	}
	if err := checkDays(path, "days ago", t.DaysAgo); err != nil {
		return err
	}
	if t.At.IsZero() == (t.DaysAgo == 0) {
		return errorf(path, "set exactly one of a date and days ago")
	}
	if !t.At.IsZero() {
		return checkTime(path, "date", t.At)
	}
	return nil
}
