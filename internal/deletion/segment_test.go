package deletion_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/erasure-dev/erasure/internal/deletion"
	"github.com/erasure-dev/erasure/internal/identifier"
	"github.com/erasure-dev/erasure/internal/profile"
	"github.com/erasure-dev/erasure/internal/segment"
)

// TestSegments counts and shows the help article's two use cases over
// profiles stored through the driver: more than one scan page, another
// account's look-alikes, and an evaluation time that decides who is inactive.
func TestSegments(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, store := newService(t, deletion.Config{})
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	var ps []profile.Profile
	var wantInactive, wantTest int64
	for i := range 1203 {
		p := profile.Profile{AccountID: "acme", Key: profile.Key{Type: identifier.Email, Value: fmt.Sprintf("p%d@example.com", i)},
			Sections: []profile.Section{{SectionID: "web"}}}
		switch {
		case i%3 == 0: // clicked four years ago: inactive
			p.Sections[0].Events = []profile.Event{{Type: "email_click", At: now.AddDate(-4, 0, 0)}}
			wantInactive++
		case i%3 == 1: // clicked last month
			p.Sections[0].Events = []profile.Event{{Type: "email_click", At: now.AddDate(0, -1, 0)}}
		default: // never clicked: inactive too
			wantInactive++
		}
		if i%100 == 7 {
			p.Sections = append(p.Sections, profile.Section{SectionID: "shop", Tags: []string{"internal_test"}})
			wantTest++
		}
		ps = append(ps, p)
	}
	ps = append(ps, profile.Profile{AccountID: "other", Key: profile.Key{Type: identifier.Email, Value: "x@example.com"},
		Sections: []profile.Section{{SectionID: "shop", Tags: []string{"internal_test"}}}})
	if err := store.InsertProfiles(ctx, ps); err != nil {
		t.Fatal(err)
	}
	acme := deletion.Caller{AccountID: "acme"}

	inactive := segment.Segment{Root: segment.Group{Op: segment.All, Children: []segment.Node{
		segment.Event{Type: "email_click", WithinDays: 3 * 365, Negate: true},
	}}}
	got, err := svc.CountSegment(ctx, acme, inactive, now)
	if err != nil {
		t.Fatal(err)
	}
	if got.Profiles != wantInactive || sectionsOf(got)["web"] != wantInactive {
		t.Fatalf("inactive: %+v, want %d profiles, all in web", got, wantInactive)
	}
	// Three years later everyone's last click is old.
	if got, err := svc.CountSegment(ctx, acme, inactive, now.AddDate(3, 0, 1)); err != nil || got.Profiles != 1203 {
		t.Fatalf("inactive three years on: %+v, %v; want all 1203", got, err)
	}

	tagged := segment.Segment{Root: segment.Group{Op: segment.All, Children: []segment.Node{segment.Tag{Name: "internal_test"}}}}
	got, err = svc.CountSegment(ctx, acme, tagged, now)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]int64{"web": wantTest, "shop": wantTest}; got.Profiles != wantTest || !maps.Equal(sectionsOf(got), want) {
		t.Fatalf("tagged: %+v, want %d profiles and sections %v", got, wantTest, want)
	}
	if got, err := svc.CountSegment(ctx, deletion.Caller{AccountID: "nobody"}, tagged, now); err != nil || got.Profiles != 0 {
		t.Fatalf("empty account: %+v, %v", got, err)
	}

	bad := segment.Segment{Root: segment.Group{Op: segment.All, Children: []segment.Node{
		segment.Attribute{Name: "a.$b", Op: segment.OpEquals, Value: "x"},
	}}}
	_, err = svc.CountSegment(ctx, acme, bad, now)
	var de *deletion.Error
	if !errors.As(err, &de) || de.Kind != deletion.Invalid || de.Reason != "SEGMENT_INVALID" || de.Meta["path"] == "" {
		t.Fatalf("bad attribute name: %v (%+v), want an Invalid error naming the condition", err, de)
	}

	// Showing the tagged profiles five at a time pages through all of them,
	// in id order, each once.
	var shown []string
	after := ""
	for pages := 0; ; pages++ {
		page, err := svc.ShowSegment(ctx, acme, tagged, now, after, 5)
		if err != nil {
			t.Fatal(err)
		}
		if int64(pages) > wantTest {
			t.Fatalf("still paging after %d pages", pages)
		}
		for _, p := range page.Profiles {
			if p.AccountID != "acme" || !slices.Contains(p.Sections[1].Tags, "internal_test") {
				t.Fatalf("shown profile %+v", p)
			}
			if len(shown) > 0 && p.ID <= shown[len(shown)-1] {
				t.Fatalf("profile %s shown after %s", p.ID, shown[len(shown)-1])
			}
			shown = append(shown, p.ID)
		}
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	if int64(len(shown)) != wantTest {
		t.Fatalf("%d profiles shown, want %d", len(shown), wantTest)
	}
	for _, tc := range []struct {
		after  string
		limit  int
		reason string
	}{{"", -1, "INVALID_PAGE_SIZE"}, {"", 1001, "INVALID_PAGE_SIZE"}, {"ann@example.com", 5, "INVALID_PAGE_TOKEN"}} {
		_, err := svc.ShowSegment(ctx, acme, tagged, now, tc.after, tc.limit)
		if !errors.As(err, &de) || de.Reason != tc.reason || strings.Contains(de.Msg, "ann@") {
			t.Errorf("ShowSegment(%q, %d): %v, want %s", tc.after, tc.limit, err, tc.reason)
		}
	}
}

// sectionsOf returns a count's sections as a map.
func sectionsOf(c deletion.SegmentCount) map[string]int64 {
	m := map[string]int64{}
	for _, s := range c.Sections {
		m[s.SectionID] = s.Profiles
	}
	return m
}
