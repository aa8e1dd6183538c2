package segment

import (
	"math"
	"testing"
	"time"

	"github.com/erasure-dev/erasure/internal/identifier"
	"github.com/erasure-dev/erasure/internal/profile"
)

// now is the injected evaluation time of every test.
var now = time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)

func daysAgo(n int) time.Time { return now.Add(-time.Duration(n) * 24 * time.Hour) }

func all(children ...Node) Segment { return Segment{Root: Group{Op: All, Children: children}} }

// ann is keyed by e-mail, holds two sections and was created 40 months ago.
var ann = profile.Profile{
	Key:       profile.Key{Type: identifier.Email, Value: "ann@example.com"},
	CreatedAt: daysAgo(1200),
	UpdatedAt: daysAgo(10),
	Sections: []profile.Section{
		{
			SectionID: "newsletter",
			Attributes: map[string]any{
				"first_name": "Ann",
				"score":      int32(5),
				"balance":    float64(12.5),
				"vip":        true,
				"birthday":   time.Date(1990, 3, 1, 0, 0, 0, 0, time.UTC),
				"code":       "5",
				"nothing":    nil,
				"list":       []any{"a", "b"},
			},
			Tags:     []string{"test", "vip"},
			Consents: []profile.Consent{{Channel: "email", Topic: "news", Status: profile.OptIn}},
			Events: []profile.Event{
				{Type: "email_click", At: daysAgo(2000)},
				{Type: "email_open", At: daysAgo(5)},
				{Type: "email_open", At: daysAgo(50)},
			},
		},
		{
			SectionID:  "shop",
			Attributes: map[string]any{"first_name": "Annie", "score": int64(70)},
			Consents:   []profile.Consent{{Channel: "email", Topic: "news", Status: profile.OptOut}},
			Events:     []profile.Event{{Type: "email_open", At: daysAgo(400)}},
		},
	},
}

func TestMatchConditions(t *testing.T) {
	t.Parallel()
	attr := func(section, name string, op AttrOp, v any) Attribute {
		return Attribute{Section: section, Name: name, Op: op, Value: v}
	}
	tests := []struct {
		name string
		node Node
		want bool
	}{
		{"key type", KeyType{Type: identifier.Email}, true},
		{"other key type", KeyType{Type: identifier.Phone}, false},

		{"equals string", attr("newsletter", "first_name", OpEquals, "Ann"), true},
		{"equals string other section", attr("shop", "first_name", OpEquals, "Ann"), false},
		{"equals string any section", attr("", "first_name", OpEquals, "Annie"), true},
		{"equals is case-sensitive", attr("", "first_name", OpEquals, "ann"), false},
		{"equals int32 as int", attr("", "score", OpEquals, 5), true},
		{"equals int32 as float64", attr("", "score", OpEquals, 5.0), true},
		{"equals int64 as int32", attr("", "score", OpEquals, int32(70)), true},
		{"equals float64", attr("", "balance", OpEquals, 12.5), true},
		{"equals float64 not int", attr("", "balance", OpEquals, 12), false},
		{"number is not string", attr("", "score", OpEquals, "5"), false},
		{"string is not number", attr("", "code", OpEquals, 5), false},
		{"equals bool", attr("", "vip", OpEquals, true), true},
		{"equals bool false", attr("", "vip", OpEquals, false), false},
		{"equals date", attr("", "birthday", OpEquals, time.Date(1990, 3, 1, 1, 0, 0, 0, time.FixedZone("CET", 3600))), true},
		{"equals missing", attr("", "missing", OpEquals, "x"), false},
		{"array equals nothing", attr("", "list", OpEquals, "a"), false},

		{"not equals in a named section", attr("newsletter", "first_name", OpNotEquals, "Ann"), false},
		{"not equals in any section: another holds another value", attr("", "first_name", OpNotEquals, "Ann"), true},
		{"not equals needs the attribute", attr("", "missing", OpNotEquals, "Ann"), false},
		{"not equals across types", attr("", "code", OpNotEquals, 5), true},
		{"not equals null", attr("", "nothing", OpNotEquals, "x"), false},

		{"contains", attr("", "first_name", OpContains, "nni"), true},
		{"contains is case-sensitive", attr("", "first_name", OpContains, "NN"), false},
		{"contains on a number", attr("", "score", OpContains, "5"), false},
		{"starts with", attr("shop", "first_name", OpStartsWith, "Ann"), true},
		{"starts with no", attr("", "first_name", OpStartsWith, "nn"), false},

		{"exists", attr("newsletter", "vip", OpExists, nil), true},
		{"exists array", attr("", "list", OpExists, nil), true},
		{"null does not exist", attr("", "nothing", OpExists, nil), false},
		{"exists other section", attr("shop", "vip", OpExists, nil), false},
		{"exists in unheld section", attr("crm", "vip", OpExists, nil), false},
		{"not exists", attr("shop", "vip", OpNotExists, nil), true},
		{"not exists in any section: one holds it", attr("", "vip", OpNotExists, nil), false},
		{"not exists nowhere", attr("", "missing", OpNotExists, nil), true},
		{"not exists null", attr("", "nothing", OpNotExists, nil), true},

		{"lt int", attr("", "score", OpLess, 6), true},
		{"lt int no", attr("", "score", OpLess, 5), false},
		{"lte int", attr("newsletter", "score", OpLessOrEqual, 5), true},
		{"gt any section", attr("", "score", OpGreater, 69.5), true},
		{"gt named section", attr("newsletter", "score", OpGreater, 69.5), false},
		{"gte float", attr("", "balance", OpGreaterOrEqual, 12.5), true},
		{"gt string value never", attr("", "code", OpGreater, 1), false},
		{"date before", attr("", "birthday", OpLess, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)), true},
		{"date after", attr("", "birthday", OpGreater, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)), false},
		{"date against number", attr("", "birthday", OpGreater, 1), false},
		{"number against date", attr("", "score", OpLess, now), false},

		{"tag any section", Tag{Name: "test"}, true},
		{"tag named section", Tag{Section: "newsletter", Name: "vip"}, true},
		{"tag other section", Tag{Section: "shop", Name: "test"}, false},
		{"has not tag", Tag{Name: "test", Negate: true}, false},
		{"has not tag in section", Tag{Section: "shop", Name: "test", Negate: true}, true},

		{"event ever", Event{Type: "email_click"}, true},
		{"event never", Event{Type: "sms_click"}, false},
		{"event within", Event{Type: "email_open", WithinDays: 10}, true},
		{"event not within", Event{Type: "email_click", WithinDays: 1095}, false},
		{"event at least, one section", Event{Type: "email_open", AtLeast: 2, Section: "newsletter"}, true},
		{"event at least, summed over sections", Event{Type: "email_open", AtLeast: 3}, true},
		{"event at least, too many", Event{Type: "email_open", AtLeast: 4}, false},
		{"event at least within", Event{Type: "email_open", AtLeast: 2, WithinDays: 60}, true},
		{"event at least within, too few", Event{Type: "email_open", AtLeast: 2, WithinDays: 30}, false},
		{"event within, bound inclusive", Event{Type: "email_open", WithinDays: 50}, true},
		{"event between", Event{Type: "email_open", From: daysAgo(60), To: daysAgo(40)}, true},
		{"event between, to exclusive", Event{Type: "email_open", From: daysAgo(60), To: daysAgo(50)}, false},
		{"event from open-ended", Event{Type: "email_click", From: daysAgo(2001)}, true},
		{"event to open-ended", Event{Type: "email_click", To: daysAgo(2001)}, false},
		{"event in other section", Event{Type: "email_click", Section: "shop"}, false},
		{"event did not occur", Event{Type: "email_click", WithinDays: 1095, Negate: true}, true},

		{"consent opted in", Consent{Channel: "email", Topic: "news", Status: profile.OptIn}, true},
		{"consent opted out elsewhere", Consent{Channel: "email", Topic: "news", Status: profile.OptOut}, true},
		{"consent opted out in section", Consent{Section: "newsletter", Channel: "email", Topic: "news", Status: profile.OptOut}, false},
		{"consent any topic", Consent{Section: "shop", Channel: "email", Status: profile.OptOut}, true},
		{"consent other topic", Consent{Channel: "email", Topic: "promo", Status: profile.OptIn}, false},
		{"no consent is not opted out", Consent{Channel: "sms", Status: profile.OptOut}, false},

		{"created before date", Time{Field: Created, Op: Before, At: daysAgo(1000)}, true},
		{"created after date", Time{Field: Created, Op: After, At: daysAgo(1000)}, false},
		{"created before days ago", Time{Field: Created, Op: Before, DaysAgo: 1095}, true},
		{"created after, bound inclusive", Time{Field: Created, Op: After, DaysAgo: 1200}, true},
		{"created before, bound exclusive", Time{Field: Created, Op: Before, DaysAgo: 1200}, false},
		{"updated after", Time{Field: Updated, Op: After, DaysAgo: 30}, true},
		{"updated before", Time{Field: Updated, Op: Before, DaysAgo: 30}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := all(tt.node)
			if err := s.Validate([]string{"newsletter", "shop", "crm"}); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if got := s.Match(ann, now); got != tt.want {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestMatchNumberTypes(t *testing.T) {
	t.Parallel()
	stored := []any{int(7), int8(7), int16(7), int32(7), int64(7), uint8(7), uint16(7), uint32(7), uint(7), uint64(7), float32(7), float64(7)}
	for _, v := range stored {
		for _, want := range stored {
			p := profile.Profile{Sections: []profile.Section{{SectionID: "s", Attributes: map[string]any{"n": v}}}}
			eq := all(Attribute{Name: "n", Op: OpEquals, Value: want})
			if !eq.Match(p, now) {
				t.Errorf("%T 7 does not equal %T 7", v, want)
			}
			lt := all(Attribute{Name: "n", Op: OpLess, Value: want})
			if lt.Match(p, now) {
				t.Errorf("%T 7 is less than %T 7", v, want)
			}
		}
	}
	// Large integers compare exactly, not through float64.
	big := profile.Profile{Sections: []profile.Section{{Attributes: map[string]any{"n": int64(1<<53 + 1)}}}}
	if all(Attribute{Name: "n", Op: OpEquals, Value: int64(1 << 53)}).Match(big, now) {
		t.Error("2^53+1 equals 2^53")
	}
	nan := profile.Profile{Sections: []profile.Section{{Attributes: map[string]any{"n": math.NaN()}}}}
	for _, op := range []AttrOp{OpEquals, OpLess, OpLessOrEqual, OpGreater, OpGreaterOrEqual} {
		if all(Attribute{Name: "n", Op: op, Value: 1}).Match(nan, now) {
			t.Errorf("NaN %s 1", op)
		}
	}
}

func TestMatchGroups(t *testing.T) {
	t.Parallel()
	yes, no := Tag{Name: "test"}, Tag{Name: "absent"}
	tests := []struct {
		name string
		root Group
		want bool
	}{
		{"all true", Group{Op: All, Children: []Node{yes, yes}}, true},
		{"all one false", Group{Op: All, Children: []Node{yes, no}}, false},
		{"any one true", Group{Op: Any, Children: []Node{no, yes}}, true},
		{"any none true", Group{Op: Any, Children: []Node{no, no}}, false},
		{"negated all", Group{Op: All, Negate: true, Children: []Node{yes, no}}, true},
		{"negated any", Group{Op: Any, Negate: true, Children: []Node{no, yes}}, false},
		{"empty all", Group{Op: All}, true},
		{"empty any", Group{Op: Any}, false},
		{"nested", Group{Op: All, Children: []Node{
			yes,
			Group{Op: Any, Children: []Node{no, Group{Op: All, Negate: true, Children: []Node{no}}}},
		}}, true},
		{"unknown node", Group{Op: Any, Children: []Node{&yes}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := (Segment{Root: tt.root}).Match(ann, now); got != tt.want {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestArticleUseCases runs the help article's two segments.
func TestArticleUseCases(t *testing.T) {
	t.Parallel()
	inactive := all(
		Event{Type: "email_click", WithinDays: 1095, Negate: true},
		Time{Field: Created, Op: Before, DaysAgo: 1095},
	)
	testAddresses := all(Tag{Name: "test"})
	section := func(events ...profile.Event) []profile.Section {
		return []profile.Section{{SectionID: "newsletter", Events: events}}
	}
	tests := []struct {
		name              string
		p                 profile.Profile
		inactive, tagTest bool
	}{
		{"ann: old click, old profile, tagged", ann, true, true},
		{"recent click", profile.Profile{CreatedAt: daysAgo(2000), Sections: section(profile.Event{Type: "email_click", At: daysAgo(1094)})}, false, false},
		{"click from the future", profile.Profile{CreatedAt: daysAgo(2000), Sections: section(profile.Event{Type: "email_click", At: now.Add(time.Hour)})}, false, false},
		{"only opens", profile.Profile{CreatedAt: daysAgo(2000), Sections: section(profile.Event{Type: "email_open", At: daysAgo(1)})}, true, false},
		{"new profile never clicked", profile.Profile{CreatedAt: daysAgo(30)}, false, false},
		{"unknown creation", profile.Profile{}, false, false},
		{"tag in another section", profile.Profile{Sections: []profile.Section{{SectionID: "shop", Tags: []string{"x", "test"}}}}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := inactive.Match(tt.p, now); got != tt.inactive {
				t.Errorf("inactive = %v, want %v", got, tt.inactive)
			}
			if got := testAddresses.Match(tt.p, now); got != tt.tagTest {
				t.Errorf("test addresses = %v, want %v", got, tt.tagTest)
			}
		})
	}
	// The same profile leaves the segment as the clock moves on.
	p := profile.Profile{CreatedAt: daysAgo(2000), Sections: section(profile.Event{Type: "email_click", At: daysAgo(1000)})}
	if inactive.Match(p, now) {
		t.Error("inactive now")
	}
	if !inactive.Match(p, now.Add(96*24*time.Hour)) {
		t.Error("not inactive 96 days later")
	}
}

// TestUnreadableDataNeverDecides checks that data stored in a form erasure
// cannot read puts a profile neither in a segment nor in its negation,
// unless readable data decides.
func TestUnreadableDataNeverDecides(t *testing.T) {
	t.Parallel()
	odd := profile.Profile{
		Key: profile.Key{Type: identifier.Email, Value: "odd@example.com"},
		// No created date at all; updated is readable.
		UpdatedAt: daysAgo(10),
		Sections: []profile.Section{
			{SectionID: "newsletter", Tags: []string{"vip"}, Unreadable: profile.Unreadable{Tags: true, Events: true, Consents: true}},
			{SectionID: "shop", Attributes: map[string]any{"score": int32(5)}},
			{Unreadable: profile.Unreadable{Section: true, Attributes: true, Tags: true, Consents: true, Events: true}},
		},
	}
	tests := []struct {
		name string
		c    Node
		want Truth
	}{
		{"tag read despite others unreadable", Tag{Name: "vip"}, Yes},
		{"tag maybe among the unreadable ones", Tag{Name: "test"}, Unknown},
		{"not that tag either", Tag{Name: "test", Negate: true}, Unknown},
		{"inactive for 36 months", Event{Type: "email_click", WithinDays: 1095, Negate: true}, Unknown},
		{"consent opted out", Consent{Channel: "email", Status: profile.OptOut}, Unknown},
		{"attribute readable in shop", Attribute{Section: "shop", Name: "score", Op: OpEquals, Value: 5}, Yes},
		{"attribute maybe in the unreadable section", Attribute{Name: "score", Op: OpEquals, Value: 7}, Unknown},
		{"a section whose id is unreadable may be newsletter", Attribute{Section: "newsletter", Name: "score", Op: OpExists}, Unknown},
		{"created before", Time{Field: Created, Op: Before, DaysAgo: 30}, Unknown},
		{"not created before", Time{Field: Created, Op: Before, DaysAgo: 30, Negate: true}, Unknown},
		{"updated after", Time{Field: Updated, Op: After, DaysAgo: 30}, Yes},
		{"key type", KeyType{Type: identifier.Email}, Yes},
		{"unknown and no", Group{Op: All, Children: []Node{Tag{Name: "test"}, KeyType{Type: identifier.Phone}}}, No},
		{"unknown or yes", Group{Op: Any, Children: []Node{Tag{Name: "test"}, KeyType{Type: identifier.Email}}}, Yes},
		{"unknown and yes", Group{Op: All, Children: []Node{Tag{Name: "test"}, KeyType{Type: identifier.Email}}}, Unknown},
		{"not (unknown and yes)", Group{Op: All, Negate: true, Children: []Node{Tag{Name: "test"}, KeyType{Type: identifier.Email}}}, Unknown},
	}
	for _, tt := range tests {
		s := all(tt.c)
		if got := s.Eval(odd, now); got != tt.want {
			t.Errorf("%s: Eval = %v, want %v", tt.name, got, tt.want)
		}
		if s.Match(odd, now) != (tt.want == Yes) {
			t.Errorf("%s: Match disagrees with Eval", tt.name)
		}
	}
}
