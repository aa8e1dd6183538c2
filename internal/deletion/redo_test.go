package deletion_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/erasure-dev/erasure/internal/deletion"
	"github.com/erasure-dev/erasure/internal/identifier"
	"github.com/erasure-dev/erasure/internal/job"
	"github.com/erasure-dev/erasure/internal/profile"
	"github.com/erasure-dev/erasure/storage"
)

// A batch interrupted at any point — after its outcomes are stored, after
// its profiles are deleted (or unsubscribed), after its erasures (or
// unsubscriptions) are recorded — is redone from what it stored, and the
// job ends with exactly the report, trail and store of a run without
// interruption. The interruptions are injected, so every batch meets each
// of them once, deterministically.
func TestInterruptedBatchesAreRedoneExactly(t *testing.T) {
	t.Parallel()
	for _, task := range []deletion.Task{deletion.Delete, {Action: job.Unsubscribe, Unsubscribe: profile.ConsentFilter{Channel: "email"}}} {
		t.Run(task.Action.String(), func(t *testing.T) {
			t.Parallel()
			interruptedBatchesAreRedoneExactly(t, task)
		})
	}
}

func interruptedBatchesAreRedoneExactly(t *testing.T, task deletion.Task) {
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
	// report is the job's report and outcomes; records its erasures or
	// unsubscriptions; left the profiles left, or for an unsubscribe the
	// stored consents and their history.
	run := func(t *testing.T, point string) (report string, records int64, left string) {
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
			status := profile.OptIn
			if i%5 == 4 {
				status = profile.OptOut
			}
			ps = append(ps, profile.Profile{AccountID: "acme", Key: profile.Key{Type: identifier.Email, Value: fmt.Sprintf("p%d@example.com", i)},
				Sections: []profile.Section{{SectionID: fmt.Sprintf("s%d", i%3), Consents: []profile.Consent{{Channel: "email", Topic: "news", Status: status}}}}})
		}
		if err := store.InsertProfiles(ctx, ps); err != nil {
			t.Fatal(err)
		}
		j, err := svc.StartList(ctx, deletion.Caller{AccountID: "acme"}, values, deletion.Spec{Type: identifier.Email}, task)
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
		if err := svc.ListOutcomes(ctx, deletion.Caller{AccountID: "acme"}, j.ID, nil, func(os []job.RowOutcome) error {
			for _, o := range os {
				// Profile ids (and so their hashes) differ between runs.
				fmt.Fprintf(&b, "%d %s %q %q %d %q %x %v %v %v\n", o.Row, o.Outcome, o.Normalized, o.Reason, o.DuplicateOfRow, o.Hint, o.KeyHash,
					o.ProfileID != "", len(o.ProfileHash) == 32, o.Consents)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if task.Action == job.Unsubscribe {
			records, err = store.CountUnsubscriptions(ctx, "acme", j.ID)
		} else {
			records, err = store.CountErasures(ctx, "acme", j.ID)
		}
		if err != nil {
			t.Fatal(err)
		}
		return b.String(), records, storedConsents(t, store)
	}
	ref, refErasures, refLeft := run(t, "")
	if !strings.HasPrefix(ref, job.Succeeded.String()) || refErasures == 0 {
		t.Fatalf("reference run: %s (%d records)", ref, refErasures)
	}
	for _, point := range []string{deletion.FaultAfterOutcomes, deletion.FaultAfterChange, deletion.FaultAfterRecord} {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			got, erasures, left := run(t, point)
			if erasures != refErasures || left != refLeft {
				t.Errorf("%d records and profiles left\n%s\nwant %d and\n%s", erasures, left, refErasures, refLeft)
			}
			if got != ref {
				t.Errorf("report differs from an uninterrupted run:\n%s\nwant:\n%s", got, ref)
			}
		})
	}
}

// storedConsents describes acme's profiles as stored: which are left, and
// their consents.
func storedConsents(t *testing.T, store *storage.Store) string {
	t.Helper()
	var vals []string
	for i := range 60 {
		vals = append(vals, fmt.Sprintf("p%d@example.com", i))
	}
	ms, err := store.FindByKeys(context.Background(), "acme", identifier.Email, vals, true)
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(ms, func(a, b profile.Match) int { return strings.Compare(a.Key.Value, b.Key.Value) })
	var b strings.Builder
	for _, m := range ms {
		fmt.Fprintf(&b, "%s %v\n", m.Key.Value, m.Consents)
	}
	return b.String()
}
