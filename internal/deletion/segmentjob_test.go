package deletion_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/erasure-dev/erasure/internal/deletion"
	"github.com/erasure-dev/erasure/internal/identifier"
	"github.com/erasure-dev/erasure/internal/job"
	"github.com/erasure-dev/erasure/internal/profile"
	"github.com/erasure-dev/erasure/internal/segment"
	"github.com/erasure-dev/erasure/internal/storagetest"
	"github.com/erasure-dev/erasure/storage"
)

// taggedTest is the article's second use case: profiles tagged as internal
// test addresses.
var taggedTest = segment.Segment{Root: segment.Group{Op: segment.All, Children: []segment.Node{segment.Tag{Name: "internal_test"}}}}

// insertTagged stores n profiles of acme, every third tagged internal_test
// (in section shop, besides web), and returns them with their ids.
func insertTagged(t *testing.T, store *storage.Store, n int) []profile.Profile {
	t.Helper()
	var ps []profile.Profile
	for i := range n {
		p := profile.Profile{AccountID: "acme", Key: profile.Key{Type: identifier.Email, Value: fmt.Sprintf("p%d@example.com", i)},
			Email: fmt.Sprintf("p%d@example.com", i), Sections: []profile.Section{{SectionID: "web"}}}
		if i%3 == 0 {
			p.Sections = append(p.Sections, profile.Section{SectionID: "shop", Tags: []string{"internal_test"}})
		}
		ps = append(ps, p)
	}
	ctx := context.Background()
	if err := store.InsertProfiles(ctx, ps); err != nil {
		t.Fatal(err)
	}
	// Read back for the ids.
	var out []profile.Profile
	if err := store.ScanProfiles(ctx, "acme", "", func(p profile.Profile) bool { out = append(out, p); return true }); err != nil {
		t.Fatal(err)
	}
	return out
}

func isTagged(p profile.Profile) bool {
	return len(p.Sections) > 1
}

// waitJob follows a job to its end and returns it.
func waitJob(t *testing.T, svc *deletion.Service, c deletion.Caller, id string) *job.Job {
	t.Helper()
	var last *job.Job
	if err := svc.Watch(context.Background(), c, id, func(v job.View) error { last = &v.Job; return nil }); err != nil {
		t.Fatal(err)
	}
	return last
}

func wantReason(t *testing.T, what string, err error, kind deletion.ErrorKind, reason string) {
	t.Helper()
	var de *deletion.Error
	if !errors.As(err, &de) || de.Kind != kind || de.Reason != reason {
		t.Fatalf("%s: %v (%+v), want %s", what, err, de, reason)
	}
}

// TestSegmentDeletion deletes the article's tagged test addresses straight
// from the segment: the feature gate, the frozen set, the re-check of each
// profile when its batch runs, and the refusals of a stale confirmation.
func TestSegmentDeletion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var clock atomic.Int64
	clock.Store(time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()).UTC() }
	svc, store := newService(t, deletion.Config{BatchSize: 7}, func(s *deletion.Service) { deletion.SetClock(s, now) })
	ps := insertTagged(t, store, 90)
	acme := deletion.Caller{AccountID: "acme", Actor: job.Actor{Subject: "ann", Kind: "user", Role: "ADMIN"}}

	// Off by default, as the article has it.
	_, err := svc.PreviewSegmentDeletion(ctx, acme, taggedTest, now())
	wantReason(t, "preview without the feature", err, deletion.Denied, "FEATURE_NOT_ACTIVATED")
	_, err = svc.ExecuteSegmentDeletion(ctx, acme, storage.NewID(), 1)
	wantReason(t, "execute without the feature", err, deletion.Denied, "FEATURE_NOT_ACTIVATED")
	if err := svc.SetFeatures(ctx, "acme", []deletion.Feature{deletion.SegmentDeletion}); err != nil {
		t.Fatal(err)
	}
	nobody := segment.Segment{Root: segment.Group{Op: segment.All, Children: []segment.Node{segment.Tag{Name: "nobody has this"}}}}
	_, err = svc.PreviewSegmentDeletion(ctx, acme, nobody, now())
	wantReason(t, "preview of an empty segment", err, deletion.FailedPrecondition, "SEGMENT_EMPTY")

	sn, err := svc.PreviewSegmentDeletion(ctx, acme, taggedTest, now())
	if err != nil {
		t.Fatal(err)
	}
	if sn.Profiles != 30 || !sn.ExpiresAt.Equal(now().Add(30*time.Minute)) || fmt.Sprint(sn.Sections) != "[{shop 30 0} {web 30 0}]" {
		t.Fatalf("snapshot %+v, want 30 profiles in shop and web, expiring in 30 minutes", sn)
	}

	// After the freeze: one frozen profile loses its tag, one is deleted
	// by someone else, and a new profile gets the tag.
	var tagged []profile.Profile
	for _, p := range ps {
		if isTagged(p) {
			tagged = append(tagged, p)
		}
	}
	untag, gone := tagged[4], tagged[20]
	oid, _ := bson.ObjectIDFromHex(untag.ID)
	if _, err := storagetest.Database(t).Collection("profiles").UpdateOne(ctx, bson.D{{"_id", oid}}, bson.D{{"$set", bson.D{{"sections", bson.A{bson.D{{"section_id", "web"}}}}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.DeleteProfiles(ctx, "acme", []profile.Match{{ID: gone.ID, Key: gone.Key}}); err != nil {
		t.Fatal(err)
	}
	late := profile.Profile{AccountID: "acme", Key: profile.Key{Type: identifier.Email, Value: "late@example.com"},
		Sections: []profile.Section{{SectionID: "shop", Tags: []string{"internal_test"}}}}
	if err := store.InsertProfiles(ctx, []profile.Profile{late}); err != nil {
		t.Fatal(err)
	}

	_, err = svc.ExecuteSegmentDeletion(ctx, acme, sn.ID, 31)
	wantReason(t, "execute with another count", err, deletion.FailedPrecondition, "SNAPSHOT_COUNT_MISMATCH")
	_, err = svc.ExecuteSegmentDeletion(ctx, acme, storage.NewID(), 30)
	wantReason(t, "execute an unknown snapshot", err, deletion.NotFound, "SNAPSHOT_NOT_FOUND")
	_, err = svc.ExecuteSegmentDeletion(ctx, deletion.Caller{AccountID: "other"}, sn.ID, 30)
	if err == nil {
		t.Fatal("another account executed acme's snapshot")
	}

	j, err := svc.ExecuteSegmentDeletion(ctx, acme, sn.ID, 30)
	if err != nil {
		t.Fatal(err)
	}
	_, err = svc.ExecuteSegmentDeletion(ctx, acme, sn.ID, 30)
	wantReason(t, "execute twice", err, deletion.FailedPrecondition, "SNAPSHOT_ALREADY_USED")

	end := waitJob(t, svc, acme, j.ID)
	c := end.Counts
	if end.State != job.Succeeded || end.Kind != job.FromSegment || c.TotalRows != 30 || c.Rows != 30 || c.Deleted != 28 || c.Matched != 28 ||
		c.NoLongerMatching != 1 || c.NotFound != 1 || c.Valid != 30 {
		t.Fatalf("job ended %s with %+v, want 28 deleted, 1 no longer matching, 1 not found", end.State, c)
	}
	var outcomes []job.RowOutcome
	if err := svc.ListOutcomes(ctx, acme, j.ID, nil, func(os []job.RowOutcome) error { outcomes = append(outcomes, os...); return nil }); err != nil {
		t.Fatal(err)
	}
	byID := map[string]job.RowOutcome{}
	for _, o := range outcomes {
		byID[o.Value] = o
	}
	if o := byID[untag.ID]; o.Outcome != job.NoLongerMatches || !strings.Contains(o.Reason, "no longer matches") {
		t.Fatalf("the untagged profile's row: %+v", o)
	}
	if o := byID[gone.ID]; o.Outcome != job.NotFound {
		t.Fatalf("the profile deleted meanwhile: %+v", o)
	}
	// What is left: the untagged profile, the late one, and every profile
	// never tagged.
	var left []string
	if err := store.ScanProfiles(ctx, "acme", "", func(p profile.Profile) bool { left = append(left, p.Key.Value); return true }); err != nil {
		t.Fatal(err)
	}
	if len(left) != 62 || !contains(left, untag.Key.Value) || !contains(left, "late@example.com") {
		t.Fatalf("%d profiles left (%v), want the 60 untagged, the untagged one and the late one", len(left), left)
	}
	if n, err := store.CountErasures(ctx, "acme", j.ID); err != nil || n != 28 {
		t.Fatalf("%d erasures recorded, %v; want 28", n, err)
	}
	// Each deleted profile can be verified by its e-mail.
	erasures, err := svc.VerifyErasure(ctx, "acme", deletion.Spec{Type: identifier.Email}, tagged[0].Key.Value, "")
	if err != nil || len(erasures) != 1 || erasures[0].JobID != j.ID || erasures[0].JobKind != job.FromSegment {
		t.Fatalf("VerifyErasure of a deleted profile: %+v, %v", erasures, err)
	}

	// A snapshot expires unused, and the sweeper deletes it and the used
	// one.
	sn2, err := svc.PreviewSegmentDeletion(ctx, acme, taggedTest, now())
	if err != nil {
		t.Fatal(err)
	}
	clock.Add(int64(31 * time.Minute))
	_, err = svc.ExecuteSegmentDeletion(ctx, acme, sn2.ID, sn2.Profiles)
	wantReason(t, "execute an expired snapshot", err, deletion.FailedPrecondition, "SNAPSHOT_EXPIRED")
	if err := deletion.SweepOnce(ctx, svc); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{sn.ID, sn2.ID} {
		if _, err := store.GetSnapshot(ctx, "acme", id); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("snapshot %s after the sweep: %v, want it deleted", id, err)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestSegmentDeletionRedoneExactly interrupts every batch of a segment
// deletion at each point of its batch (after its outcomes are stored,
// after its profiles are deleted, after its erasures are recorded) and
// checks that the job ends as a run without interruption does: the same
// report, outcomes, erasures and profiles left.
func TestSegmentDeletionRedoneExactly(t *testing.T) {
	t.Parallel()
	run := func(t *testing.T, point string) string {
		var mu sync.Mutex
		calls, failures := 0, 0
		fault := func(s *deletion.Service) {
			deletion.SetFault(s, func(p string) error {
				mu.Lock()
				defer mu.Unlock()
				if point == "" || p != point {
					return nil
				}
				if calls++; calls%2 == 0 {
					return nil
				}
				failures++
				return fmt.Errorf("injected at %s: %w", p, context.DeadlineExceeded)
			})
		}
		svc, store := newService(t, deletion.Config{BatchSize: 4, AuditKey: []byte("a fixed audit key of 32 bytes...")}, fault)
		ctx := context.Background()
		insertTagged(t, store, 60)
		if err := svc.SetFeatures(ctx, "acme", []deletion.Feature{deletion.SegmentDeletion}); err != nil {
			t.Fatal(err)
		}
		acme := deletion.Caller{AccountID: "acme"}
		sn, err := svc.PreviewSegmentDeletion(ctx, acme, taggedTest, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		j, err := svc.ExecuteSegmentDeletion(ctx, acme, sn.ID, sn.Profiles)
		if err != nil {
			t.Fatal(err)
		}
		end := waitJob(t, svc, acme, j.ID)
		if point != "" && failures < 3 {
			t.Fatalf("only %d injected failures at %s: the test exercised nothing", failures, point)
		}
		var b bytes.Buffer
		fmt.Fprintf(&b, "%s %+v %+v\n", end.State, end.Counts, end.Sections)
		if err := svc.ListOutcomes(ctx, acme, j.ID, nil, func(os []job.RowOutcome) error {
			for _, o := range os {
				fmt.Fprintf(&b, "%d %s %q %x\n", o.Row, o.Outcome, o.Reason, o.KeyHash)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		n, err := store.CountErasures(ctx, "acme", j.ID)
		if err != nil {
			t.Fatal(err)
		}
		left := 0
		if err := store.ScanProfiles(ctx, "acme", "", func(p profile.Profile) bool {
			if isTagged(p) {
				t.Errorf("tagged profile %s survived", p.Key.Value)
			}
			left++
			return true
		}); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "erasures %d, left %d\n", n, left)
		return b.String()
	}
	ref := run(t, "")
	if !strings.Contains(ref, "erasures 20, left 40") {
		t.Fatalf("the uninterrupted run: %s", ref)
	}
	for _, point := range []string{deletion.FaultAfterOutcomes, deletion.FaultAfterChange, deletion.FaultAfterRecord} {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			if got := run(t, point); got != ref {
				t.Fatalf("interrupted at %s:\n%s\nwant:\n%s", point, got, ref)
			}
		})
	}
}

// TestSegmentExportRoundTrip exports a segment's identifiers and deletes by
// the file unchanged, as the article's first way from a segment goes:
// every tagged profile goes, keyed by e-mail or by phone, including an
// address a spreadsheet would take for a formula, and nothing else.
func TestSegmentExportRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, store := newService(t, deletion.Config{})
	var ps []profile.Profile
	for i := range 40 {
		p := profile.Profile{AccountID: "acme", Sections: []profile.Section{{SectionID: "web"}}}
		email, phone := fmt.Sprintf("p%d@example.com", i), fmt.Sprintf("+4670123%04d", i)
		switch {
		case i == 3:
			email = "-3+cmd@example.com" // a valid address that starts like a formula
			p.Key = profile.Key{Type: identifier.Email, Value: email}
		case i%2 == 0:
			p.Key = profile.Key{Type: identifier.Email, Value: email}
		default:
			p.Key = profile.Key{Type: identifier.Phone, Value: phone}
		}
		p.Email, p.Phone = email, phone
		if i%4 < 2 || i == 3 {
			p.Sections[0].Tags = []string{"internal_test"}
		}
		ps = append(ps, p)
	}
	if err := store.InsertProfiles(ctx, ps); err != nil {
		t.Fatal(err)
	}
	acme := deletion.Caller{AccountID: "acme"}
	var csv bytes.Buffer
	n, err := svc.ExportSegment(ctx, acme, taggedTest, time.Now(), []deletion.ExportColumn{deletion.ExportEmail, deletion.ExportPhone, deletion.ExportKey, deletion.ExportEmail}, &csv)
	if err != nil || n != 21 {
		t.Fatalf("exported %d profiles, %v; want 21", n, err)
	}
	lines := strings.Split(strings.TrimSuffix(csv.String(), "\r\n"), "\r\n")
	if lines[0] != "\ufeffEmail,Phone,Key type,Key" || len(lines) != 22 {
		t.Fatalf("export starts %q and has %d lines", lines[0], len(lines))
	}
	if !strings.Contains(csv.String(), "'-3+cmd@example.com,'+46701230003,email,'-3+cmd@example.com\r\n") {
		t.Fatalf("formula-like cells are not neutralised:\n%s", csv.String())
	}
	if _, err := svc.ExportSegment(ctx, acme, taggedTest, time.Now(), nil, &csv); err == nil {
		t.Fatal("an export without columns was accepted")
	}

	// The file, unchanged, in the delete import: once by e-mail, once by
	// phone.
	deleted := int64(0)
	for _, by := range []struct {
		column string
		typ    identifier.Type
	}{{"Email", identifier.Email}, {"Phone", identifier.Phone}} {
		id := upload(t, svc, "segment-export.csv", csv.Bytes())
		j, err := svc.StartFile(ctx, acme, deletion.FileSource{UploadID: id, ColumnName: by.column}, deletion.Spec{Type: by.typ}, deletion.Delete)
		if err != nil {
			t.Fatal(err)
		}
		end := waitJob(t, svc, acme, j.ID)
		if end.State != job.Succeeded || end.Counts.Invalid != 0 || end.Counts.Rows != 21 {
			t.Fatalf("import by %s: %s %+v", by.column, end.State, end.Counts)
		}
		deleted += end.Counts.Deleted
	}
	if deleted != 21 {
		t.Fatalf("the two imports deleted %d profiles, want the 21 exported", deleted)
	}
	left, err := svc.CountSegment(ctx, acme, taggedTest, time.Now())
	if err != nil || left.Profiles != 0 {
		t.Fatalf("tagged profiles left: %+v, %v", left, err)
	}
	all := 0
	if err := store.ScanProfiles(ctx, "acme", "", func(profile.Profile) bool { all++; return true }); err != nil || all != 19 {
		t.Fatalf("%d profiles left, %v; want the 19 untagged", all, err)
	}
}
