package deletion_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/erasure-dev/erasure/internal/deletion"
	"github.com/erasure-dev/erasure/internal/profile"
	"github.com/erasure-dev/erasure/internal/segment"
	"github.com/erasure-dev/erasure/internal/segment/segmenttest"
)

// TestSegmentStorePathsAgreeWithEvaluator stores random profiles and
// checks every path by which a segment reaches the store against the
// evaluator applied to the profiles as they were written: the profiles as a
// scan reads them back decide 3,000 random segments exactly as the written
// ones do, and for random segments CountSegment (with its per-section
// counts), ShowSegment (every page), ExportSegment and the snapshot of
// PreviewSegmentDeletion hold exactly the profiles the evaluator matches.
// No condition is pushed to the store, so the read-back check is what keeps
// decoding faithful; if a coarse filter is ever pushed down, this test
// compares it too.
func TestSegmentStorePathsAgreeWithEvaluator(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, store := newService(t, deletion.Config{})
	if err := svc.SetFeatures(ctx, "acme", []deletion.Feature{deletion.SegmentDeletion}); err != nil {
		t.Fatal(err)
	}
	g := segmenttest.New(42)
	written := make([]profile.Profile, 200)
	for i := range written {
		written[i] = g.Profile()
		written[i].AccountID = "acme"
	}
	// Another account holds the same profiles: none of them may count.
	others := slices.Clone(written)
	for i := range others {
		others[i].AccountID = "other"
	}
	if err := store.InsertProfiles(ctx, written); err != nil {
		t.Fatal(err)
	}
	if err := store.InsertProfiles(ctx, others); err != nil {
		t.Fatal(err)
	}
	byID := map[string]profile.Profile{}
	for _, p := range written {
		byID[p.ID] = p
	}
	now := segmenttest.Now

	var read []profile.Profile
	if err := store.ScanProfiles(ctx, "acme", "", func(p profile.Profile) bool { read = append(read, p); return true }); err != nil {
		t.Fatal(err)
	}
	if len(read) != len(written) {
		t.Fatalf("%d profiles read back, want %d", len(read), len(written))
	}
	for i := range 3000 {
		s := g.Segment()
		for _, r := range read {
			if got, want := s.Eval(r, now), s.Eval(byID[r.ID], now); got != want {
				t.Fatalf("segment %d decides profile %s %v as read back and %v as written:\nread    %+v\nwritten %+v", i, r.ID, got, want, r, byID[r.ID])
			}
		}
	}

	acme := deletion.Caller{AccountID: "acme"}
	previews := 0
	for i := range 12 {
		s := g.Segment()
		var want []string // ids, in id order
		sections := map[string]int64{}
		var undecided int64
		for _, r := range read {
			switch s.Eval(byID[r.ID], now) {
			case segment.Unknown:
				undecided++
				continue
			case segment.No:
				continue
			}
			want = append(want, r.ID)
			for _, sec := range byID[r.ID].Sections {
				sections[sec.SectionID]++
			}
		}
		c, err := svc.CountSegment(ctx, acme, s, now)
		if err != nil {
			t.Fatal(err)
		}
		if c.Profiles != int64(len(want)) || fmt.Sprint(sectionsOf(c)) != fmt.Sprint(sections) || c.Undecided != undecided {
			t.Fatalf("segment %d: CountSegment %+v, want %d profiles in %v and %d undecided", i, c, len(want), sections, undecided)
		}
		var shown []string
		after := ""
		for {
			page, err := svc.ShowSegment(ctx, acme, s, now, after, 40)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range page.Profiles {
				shown = append(shown, p.ID)
			}
			if after = page.Next; after == "" {
				break
			}
		}
		if !slices.Equal(shown, want) {
			t.Fatalf("segment %d: ShowSegment %v, want %v", i, shown, want)
		}
		var csv bytes.Buffer
		if _, err := svc.ExportSegment(ctx, acme, s, now, []deletion.ExportColumn{deletion.ExportKey}, &csv); err != nil {
			t.Fatal(err)
		}
		var wantCSV strings.Builder
		wantCSV.WriteString("\ufeffKey type,Key\r\n")
		for _, id := range want {
			fmt.Fprintf(&wantCSV, "%s,%s\r\n", byID[id].Key.Type, byID[id].Key.Value)
		}
		if csv.String() != wantCSV.String() {
			t.Fatalf("segment %d: ExportSegment\n%s\nwant\n%s", i, csv.String(), wantCSV.String())
		}
		if len(want) == 0 || previews == 4 {
			continue
		}
		previews++
		sn, err := svc.PreviewSegmentDeletion(ctx, acme, s, now)
		if err != nil {
			t.Fatal(err)
		}
		frozen, err := store.SnapshotPart(ctx, "acme", sn.ID, 0)
		if err != nil || sn.Profiles != int64(len(want)) || !slices.Equal(frozen, want) {
			t.Fatalf("segment %d: snapshot of %d profiles %v (%v), want %v", i, sn.Profiles, frozen, err, want)
		}
	}
	if previews < 3 {
		t.Fatalf("only %d segments matched anything: the generator needs tuning", previews)
	}
}
