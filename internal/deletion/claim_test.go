package deletion_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/erasure-dev/erasure/internal/deletion"
	"github.com/erasure-dev/erasure/internal/identifier"
	"github.com/erasure-dev/erasure/internal/job"
	"github.com/erasure-dev/erasure/internal/profile"
	"github.com/erasure-dev/erasure/internal/storagetest"
)

// With -max-jobs-per-account 1, the workers of one instance never run two
// jobs of one account at once, even when they all look for work at the same
// moment (here: jobs queued before the workers start). Two jobs naming the
// same profiles then run one after the other, and each profile is reported
// deleted by exactly one of them.
func TestWorkersOfOneInstanceKeepTheAccountBound(t *testing.T) {
	t.Parallel()
	const profiles = 40
	var values []string
	for n := range profiles {
		values = append(values, fmt.Sprintf("p%02d@example.com", n))
	}
	for round := range 4 {
		t.Run(fmt.Sprint(round), func(t *testing.T) {
			store := storagetest.New(t, nil)
			ctx := context.Background()
			var ps []profile.Profile
			for _, v := range values {
				ps = append(ps, profile.Profile{AccountID: "acme", Key: profile.Key{Type: identifier.Email, Value: v}})
			}
			if err := store.InsertProfiles(ctx, ps); err != nil {
				t.Fatal(err)
			}
			svc := deletion.New(slog.New(slog.NewTextHandler(io.Discard, nil)), store, deletion.Config{
				Workers: 3, MaxJobsPerAccount: 1, BatchSize: 5, TempDir: t.TempDir(),
				QueuePoll: 20 * time.Millisecond, WatchPoll: 20 * time.Millisecond,
			})
			by := deletion.Caller{AccountID: "acme"}
			var ids []string
			for range 3 {
				j, err := svc.StartList(ctx, by, values, deletion.Spec{Type: identifier.Email}, deletion.Delete)
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, j.ID)
			}
			runCtx, cancel := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() { _ = svc.Run(runCtx); close(done) }()
			defer func() { cancel(); <-done }()

			var ended []job.Job
			var deleted int64
			for _, id := range ids {
				var last job.View
				if err := svc.Watch(ctx, by, id, func(v job.View) error { last = v; return nil }); err != nil {
					t.Fatal(err)
				}
				ended = append(ended, last.Job)
				deleted += last.Job.Counts.Deleted
			}
			if deleted != profiles {
				t.Errorf("the jobs report %d profiles deleted in all, want %d: each profile deleted by exactly one job", deleted, profiles)
			}
			for i, a := range ended {
				for _, b := range ended[i+1:] {
					if a.StartedAt.Before(*b.FinishedAt) && b.StartedAt.Before(*a.FinishedAt) {
						t.Errorf("jobs %s (%v to %v) and %s (%v to %v) of one account ran at once", a.ID, a.StartedAt, a.FinishedAt, b.ID, b.StartedAt, b.FinishedAt)
					}
				}
			}
		})
	}
}
