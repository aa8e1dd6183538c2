package deletion_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/erasure-dev/erasure/internal/deletion"
	"github.com/erasure-dev/erasure/internal/identifier"
	"github.com/erasure-dev/erasure/internal/job"
	"github.com/erasure-dev/erasure/internal/profile"
	"github.com/erasure-dev/erasure/storage"
)

// A multi-delete that misses a document (on a sharded cluster, one a chunk
// migration moves while the delete runs) deletes fewer than the batch
// matched. The batch then looks for survivors and deletes them, so that no
// row reports DELETED for a profile that exists. Here one profile is
// deleted by someone else just before the batch's delete (so the delete
// counts one short) and comes back right after it (the missed copy).
func TestSurvivorsOfABatchDeleteAreDeleted(t *testing.T) {
	t.Parallel()
	var ps []profile.Profile
	var values []string
	for n := range 5 {
		v := fmt.Sprintf("s%d@example.com", n)
		values = append(values, v)
		ps = append(ps, profile.Profile{ID: fmt.Sprintf("%024x", n+1), AccountID: "acme", Key: profile.Key{Type: identifier.Email, Value: v}})
	}
	survivor := ps[2]
	var store *storage.Store // set before any job runs
	svc, st := newService(t, deletion.Config{}, func(s *deletion.Service) {
		deletion.SetFault(s, func(point string) error {
			ctx := context.Background()
			switch point {
			case deletion.FaultAfterOutcomes:
				_, err := store.DeleteProfiles(ctx, "acme", []profile.Match{{ID: survivor.ID, Key: survivor.Key}})
				return err
			case deletion.FaultAfterChange:
				return store.InsertProfiles(ctx, []profile.Profile{survivor})
			}
			return nil
		})
	})
	store = st
	if err := st.InsertProfiles(context.Background(), ps); err != nil {
		t.Fatal(err)
	}
	by := deletion.Caller{AccountID: "acme"}
	j, err := svc.StartList(context.Background(), by, values, deletion.Spec{Type: identifier.Email}, deletion.Delete)
	if err != nil {
		t.Fatal(err)
	}
	var last job.View
	if err := svc.Watch(context.Background(), by, j.ID, func(v job.View) error { last = v; return nil }); err != nil {
		t.Fatal(err)
	}
	if last.Job.State != job.Succeeded || last.Job.Counts.Deleted != 5 {
		t.Fatalf("job %s, %d deleted; want succeeded with 5", last.Job.State, last.Job.Counts.Deleted)
	}
	left, err := st.RemainingProfiles(context.Background(), "acme", []profile.Match{{ID: survivor.ID, Key: survivor.Key}})
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("profile %s, reported DELETED, still exists", survivor.ID)
	}
}
