package deletion_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/erasure-dev/erasure/internal/deletion"
	"github.com/erasure-dev/erasure/internal/identifier"
	"github.com/erasure-dev/erasure/internal/job"
	"github.com/erasure-dev/erasure/internal/profile"
)

// A batch interrupted at any point — after its outcomes are stored, after
// its profiles are deleted, after its erasures are recorded — is redone from
// what it stored, and the job ends with exactly the report, trail and store
// of a run without interruption. The interruptions are injected, so every
// batch meets each of them once, deterministically.
func TestInterruptedBatchesAreRedoneExactly(t *testing.T) {
	t.Parallel()
	var values []string
	for i := range 60 {
		switch {
		case i%10 == 3:
			values = append(values, fmt.Sprintf("nobody%d@example.com", i))
		case i%10 == 7:
			values = append(values, fmt.Sprintf("not an address %d", i))
		case i%10 == 9:
			values = append(values, strings.ToUpper(values[i-1])) // duplicate or invalid again
		default:
			values = append(values, fmt.Sprintf("p%d@example.com", i))
		}
	}
	run := func(t *testing.T, point string) (report string, erasures int64, left int64) {
		var mu sync.Mutex
		calls, failures := 0, 0
		cfg := deletion.Config{BatchSize: 7, AuditKey: []byte("a fixed audit key of 32 bytes...")}
		// Every batch fails once at the point; its retry goes through.
		fault := func(s *deletion.Service) {
			if point == "" {
				return
			}
			deletion.SetFault(s, func(p string) error {
				mu.Lock()
				defer mu.Unlock()
				if p != point {
					return nil
				}
				if calls++; calls%2 == 0 {
					return nil
				}
				failures++
				return fmt.Errorf("injected at %s: %w", p, context.DeadlineExceeded)
			})
		}
		svc, store := newService(t, cfg, fault)
		ctx := context.Background()
		var ps []profile.Profile
		for i := range 60 {
			ps = append(ps, profile.Profile{AccountID: "acme", Key: profile.Key{Type: identifier.Email, Value: fmt.Sprintf("p%d@example.com", i)},
				Sections: []profile.Section{{SectionID: fmt.Sprintf("s%d", i%3)}}})
		}
		if err := store.InsertProfiles(ctx, ps); err != nil {
			t.Fatal(err)
		}
		j, err := svc.StartList(ctx, deletion.Caller{AccountID: "acme"}, values, deletion.Spec{Type: identifier.Email}, deletion.Delete)
		if err != nil {
			t.Fatal(err)
		}
		var last *job.Job
		if err := svc.Watch(ctx, deletion.Caller{AccountID: "acme"}, j.ID, func(v job.View) error { last = &v.Job; return nil }); err != nil {
			t.Fatal(err)
		}
		if point != "" && failures < 5 {
			t.Fatalf("only %d injected failures at %s: the test exercised nothing", failures, point)
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%s %+v %+v\n", last.State, last.Counts, last.Sections)
		if err := svc.ListOutcomes(ctx, "acme", j.ID, nil, func(os []job.RowOutcome) error {
			for _, o := range os {
				// Profile ids (and so their hashes) differ between runs.
				fmt.Fprintf(&b, "%d %s %q %q %d %q %x %v %v\n", o.Row, o.Outcome, o.Normalized, o.Reason, o.DuplicateOfRow, o.Hint, o.KeyHash,
					o.ProfileID != "", len(o.ProfileHash) == 32)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		erasures, err = store.CountErasures(ctx, "acme", j.ID)
		if err != nil {
			t.Fatal(err)
		}
		left, err = store.CountProfiles(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		return b.String(), erasures, left
	}
	ref, refErasures, refLeft := run(t, "")
	if !strings.HasPrefix(ref, job.Succeeded.String()) || refErasures == 0 {
		t.Fatalf("reference run: %s (%d erasures)", ref, refErasures)
	}
	for _, point := range []string{deletion.FaultAfterOutcomes, deletion.FaultAfterChange, deletion.FaultAfterRecord} {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			got, erasures, left := run(t, point)
			if erasures != refErasures || left != refLeft {
				t.Errorf("%d erasure records and %d profiles left, want %d and %d", erasures, left, refErasures, refLeft)
			}
			if got != ref {
				t.Errorf("report differs from an uninterrupted run:\n%s\nwant:\n%s", got, ref)
			}
		})
	}
}
