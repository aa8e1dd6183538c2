package deletion_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/erasure-dev/erasure/internal/deletion"
	"github.com/erasure-dev/erasure/internal/identifier"
	"github.com/erasure-dev/erasure/internal/job"
	"github.com/erasure-dev/erasure/internal/profile"
	"github.com/erasure-dev/erasure/storage"
)

// A job whose batch fails the same way on every attempt is taken over
// again and again; after five takeovers that found it where the one before
// started, it ends FAILED, saying why, with a report that is still exact:
// rows past the checkpoint whose change was done are counted (and their
// erasures recorded), rows whose change was not done are not processed.
func TestAJobThatMakesNoProgressFails(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// fault makes every attempt at the first batch fail at a point.
		point string
		fail  func() error
		// deleted: whether the batch's profiles are gone when it fails.
		deleted bool
	}{
		{"failing after its delete", deletion.FaultAfterChange, func() error { return errors.New("the erasure records cannot be written") }, true},
		{"dying before its delete", deletion.FaultAfterOutcomes, func() error {
			time.Sleep(1200 * time.Millisecond) // past the lease: as a worker that stopped
			return context.DeadlineExceeded
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var values []string
			var ps []profile.Profile
			for n := range 12 {
				v := fmt.Sprintf("s%02d@example.com", n)
				values = append(values, v)
				ps = append(ps, profile.Profile{AccountID: "acme", Key: profile.Key{Type: identifier.Email, Value: v}})
			}
			var store *storage.Store
			svc, st := newService(t, deletion.Config{BatchSize: 5, Lease: time.Second, CheckpointInterval: 200 * time.Millisecond}, func(s *deletion.Service) {
				deletion.SetFault(s, func(point string) error {
					if point == tc.point {
						return tc.fail()
					}
					return nil
				})
			})
			store = st
			ctx := context.Background()
			if err := store.InsertProfiles(ctx, ps); err != nil {
				t.Fatal(err)
			}
			by := deletion.Caller{AccountID: "acme"}
			j, err := svc.StartList(ctx, by, values, deletion.Spec{Type: identifier.Email}, deletion.Delete)
			if err != nil {
				t.Fatal(err)
			}
			// Without the bound the job is taken over for ever: the deadline
			// ends such a run, it does not time a passing one.
			watch, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			var last job.View
			if err := svc.Watch(watch, by, j.ID, func(v job.View) error { last = v; return nil }); err != nil {
				t.Fatalf("job %s after %d attempts: %v", last.Job.State, last.Job.Lease.Attempt, err)
			}
			got := last.Job
			if got.State != job.Failed || !strings.Contains(got.Error, "stopped making progress") {
				t.Fatalf("job %s (%q), want failed for making no progress", got.State, got.Error)
			}
			if got.Lease.Attempt < 6 {
				t.Errorf("ended after %d attempts, want the first and five takeovers", got.Lease.Attempt)
			}
			left, err := store.CountProfiles(ctx, "acme")
			if err != nil {
				t.Fatal(err)
			}
			report, err := svc.Report(ctx, by, j.ID)
			if err != nil {
				t.Fatal(err)
			}
			var outcomes []job.RowOutcome
			if err := svc.ListOutcomes(ctx, by, j.ID, nil, func(page []job.RowOutcome) error { outcomes = append(outcomes, page...); return nil }); err != nil {
				t.Fatal(err)
			}
			wantDeleted := int64(0)
			if tc.deleted {
				wantDeleted = 5
			}
			if got.Counts.Deleted != wantDeleted || int64(len(ps))-left != wantDeleted || got.Counts.Rows != wantDeleted || int64(len(outcomes)) != got.Counts.Rows {
				t.Errorf("%d profiles gone; the job says %d deleted of %d rows, with %d outcomes; want %d each", int64(len(ps))-left, got.Counts.Deleted, got.Counts.Rows, len(outcomes), wantDeleted)
			}
			if report.RowsNotProcessed == nil || *report.RowsNotProcessed != 12-wantDeleted {
				t.Errorf("rows not processed %v, want %d", report.RowsNotProcessed, 12-wantDeleted)
			}
			erasures, err := svc.VerifyErasure(ctx, "acme", deletion.Spec{Type: identifier.Email}, values[0], "")
			if err != nil {
				t.Fatal(err)
			}
			if tc.deleted != (len(erasures) == 1) {
				t.Errorf("%d erasures recorded for a profile the report says %v", len(erasures), map[bool]string{true: "deleted", false: "not processed"}[tc.deleted])
			}
		})
	}
}
