package segment

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/erasure-dev/erasure/internal/identifier"
	"github.com/erasure-dev/erasure/internal/profile"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	ok := Tag{Name: "test"}
	nest := func(depth int) Group {
		g := Group{Op: All, Children: []Node{ok}}
		for range depth - 1 {
			g = Group{Op: Any, Children: []Node{ok, g}}
		}
		return g
	}
	wide := func(n int) Group {
		g := Group{Op: All}
		for range n {
			g.Children = append(g.Children, ok)
		}
		return g
	}
	inner := func(n Node) Group {
		return Group{Op: All, Children: []Node{ok, Group{Op: Any, Children: []Node{ok, n}}}}
	}
	long := strings.Repeat("x", MaxStringBytes+1)
	tests := []struct {
		name string
		root Group
		path string // "" when valid
		msg  string
	}{
		{"valid", inner(ok), "", ""},
		{"deepest", nest(MaxDepth), "", ""},
		{"largest", wide(MaxNodes), "", ""},
		{"too deep", nest(MaxDepth + 1), "root" + strings.Repeat(".children[1]", MaxDepth), "deeper than 8"},
		{"too large", wide(MaxNodes + 1), "root.children[200]", "more than 200"},
		{"too large nested", Group{Op: All, Children: []Node{wide(MaxNodes)}}, "root.children[0].children[199]", "more than 200"},
		{"unknown group op", Group{Op: "some"}, "root", `unknown group operator "some"`},
		{"empty root", Group{Op: All}, "root", "no conditions"},
		{"empty inner group", inner(Group{Op: Any}), "root.children[1].children[1]", "no conditions"},
		{"nil node", inner(nil), "root.children[1].children[1]", "missing condition"},
		{"pointer node", inner(&ok), "root.children[1].children[1]", "unknown condition type *segment.Tag"},
		{"key type", inner(KeyType{Type: 9}), "root.children[1].children[1].key_type", "unknown key type 9"},
		{"key type zero", inner(KeyType{}), "root.children[1].children[1].key_type", "unknown key type 0"},

		{"attribute op", inner(Attribute{Name: "a", Op: "like", Value: "x"}), "root.children[1].children[1].attribute", `unknown attribute operator "like"`},
		{"attribute no op", inner(Attribute{Name: "a"}), "root.children[1].children[1].attribute", `unknown attribute operator ""`},
		{"attribute empty name", inner(Attribute{Op: OpExists}), "root.children[1].children[1].attribute", "attribute name is empty"},
		{"attribute dollar", inner(Attribute{Name: "$where", Op: OpExists}), "root.children[1].children[1].attribute", `"$where" holds`},
		{"attribute dot", inner(Attribute{Name: "a.b", Op: OpExists}), "root.children[1].children[1].attribute", `"a.b" holds`},
		{"attribute long name", inner(Attribute{Name: long, Op: OpExists}), "root.children[1].children[1].attribute", "longer than 1024"},
		{"attribute bad utf-8", inner(Attribute{Name: "a\xff", Op: OpExists}), "root.children[1].children[1].attribute", "not valid UTF-8"},
		{"attribute unknown section", inner(Attribute{Section: "crm", Name: "a", Op: OpExists}), "root.children[1].children[1].attribute", `unknown section "crm"`},
		{"exists with value", inner(Attribute{Name: "a", Op: OpExists, Value: "x"}), "root.children[1].children[1].attribute", "takes no value"},
		{"equals without value", inner(Attribute{Name: "a", Op: OpEquals}), "root.children[1].children[1].attribute", "not none"},
		{"equals array", inner(Attribute{Name: "a", Op: OpEquals, Value: []any{1}}), "root.children[1].children[1].attribute", "not []interface {}"},
		{"equals NaN", inner(Attribute{Name: "a", Op: OpEquals, Value: math.NaN()}), "root.children[1].children[1].attribute", "not float64"},
		{"equals infinity", inner(Attribute{Name: "a", Op: OpEquals, Value: math.Inf(1)}), "root.children[1].children[1].attribute", "infinite"},
		{"equals long string", inner(Attribute{Name: "a", Op: OpEquals, Value: long}), "root.children[1].children[1].attribute", "value is longer"},
		{"equals old date", inner(Attribute{Name: "a", Op: OpEquals, Value: MinTime.Add(-time.Second)}), "root.children[1].children[1].attribute", "out of range"},
		{"contains number", inner(Attribute{Name: "a", Op: OpContains, Value: 5}), "root.children[1].children[1].attribute", "needs a string value, not int"},
		{"starts with empty", inner(Attribute{Name: "a", Op: OpStartsWith, Value: ""}), "root.children[1].children[1].attribute", "non-empty"},
		{"lt string", inner(Attribute{Name: "a", Op: OpLess, Value: "5"}), "root.children[1].children[1].attribute", "needs a number or date value, not string"},
		{"gt late date", inner(Attribute{Name: "a", Op: OpGreater, Value: MaxTime}), "root.children[1].children[1].attribute", "2100-01-01T00:00:00Z is out of range"},

		{"tag empty", inner(Tag{}), "root.children[1].children[1].tag", "tag name is empty"},
		{"tag section", inner(Tag{Section: "crm", Name: "x"}), "root.children[1].children[1].tag", `unknown section "crm"`},

		{"event empty type", inner(Event{}), "root.children[1].children[1].event", "event type is empty"},
		{"event section", inner(Event{Section: "crm", Type: "x"}), "root.children[1].children[1].event", `unknown section "crm"`},
		{"event negative at least", inner(Event{Type: "x", AtLeast: -1}), "root.children[1].children[1].event", "at least -1 is negative"},
		{"event negative within", inner(Event{Type: "x", WithinDays: -1}), "root.children[1].children[1].event", "within days -1 is out of range"},
		{"event long within", inner(Event{Type: "x", WithinDays: MaxDays + 1}), "root.children[1].children[1].event", "within days 36601 is out of range"},
		{"event within and from", inner(Event{Type: "x", WithinDays: 1, From: MinTime}), "root.children[1].children[1].event", "excludes from and to"},
		{"event old from", inner(Event{Type: "x", From: MinTime.Add(-1)}), "root.children[1].children[1].event", "from 1969"},
		{"event late to", inner(Event{Type: "x", To: MaxTime}), "root.children[1].children[1].event", "to 2100"},
		{"event from after to", inner(Event{Type: "x", From: now, To: now}), "root.children[1].children[1].event", "from is not before to"},

		{"consent channel", inner(Consent{Status: profile.OptIn}), "root.children[1].children[1].consent", "channel is empty"},
		{"consent status", inner(Consent{Channel: "email", Status: "maybe"}), "root.children[1].children[1].consent", `unknown consent status "maybe"`},
		{"consent section", inner(Consent{Section: "crm", Channel: "email", Status: profile.OptIn}), "root.children[1].children[1].consent", `unknown section "crm"`},
		{"consent long topic", inner(Consent{Channel: "email", Topic: long, Status: profile.OptIn}), "root.children[1].children[1].consent", "topic is longer"},

		{"time field", inner(Time{Field: "deleted", Op: Before, DaysAgo: 1}), "root.children[1].children[1].time", `unknown time field "deleted"`},
		{"time op", inner(Time{Field: Created, Op: "on", DaysAgo: 1}), "root.children[1].children[1].time", `unknown time operator "on"`},
		{"time neither", inner(Time{Field: Created, Op: Before}), "root.children[1].children[1].time", "exactly one"},
		{"time both", inner(Time{Field: Created, Op: Before, DaysAgo: 1, At: now}), "root.children[1].children[1].time", "exactly one"},
		{"time negative days", inner(Time{Field: Created, Op: Before, DaysAgo: -1}), "root.children[1].children[1].time", "days ago -1"},
		{"time old date", inner(Time{Field: Updated, Op: After, At: time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC)}), "root.children[1].children[1].time", "out of range"},

		{"first error wins", Group{Op: All, Children: []Node{Tag{}, Event{}}}, "root.children[0].tag", "tag name is empty"},
		{"negated group checked", inner(Group{Op: All, Negate: true, Children: []Node{Tag{}}}), "root.children[1].children[1].children[0].tag", "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := Segment{Root: tt.root}.Validate([]string{"newsletter", "shop"})
			if tt.path == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Validate = %v, want an *Error", err)
			}
			if e.Path != tt.path || !strings.Contains(e.Msg, tt.msg) {
				t.Errorf("Validate = %q, want path %q and a message holding %q", err, tt.path, tt.msg)
			}
		})
	}
}

func TestValidateSectionsUnchecked(t *testing.T) {
	t.Parallel()
	s := all(Tag{Section: "anything", Name: "x"}, KeyType{Type: identifier.CRMID})
	if err := s.Validate(nil); err != nil {
		t.Errorf("Validate(nil) = %v", err)
	}
	if err := s.Validate([]string{}); err == nil {
		t.Error("Validate([]) accepts a section the account does not have")
	}
}

func TestNamedSections(t *testing.T) {
	t.Parallel()
	s := Segment{Root: Group{Op: All, Children: []Node{
		Tag{Name: "x"},
		Group{Op: Any, Children: []Node{Tag{Section: "web", Name: "x"}, Event{Section: "shop", Type: "click"}, Consent{Section: "web", Channel: "email"}}},
	}}}
	got := s.NamedSections()
	want := []SectionRef{{"root.children[1].children[0].tag", "web"}, {"root.children[1].children[1].event", "shop"}}
	if !slices.Equal(got, want) {
		t.Fatalf("NamedSections = %v, want %v", got, want)
	}
}
