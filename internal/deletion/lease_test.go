package deletion_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/erasure-dev/erasure/internal/deletion"
	"github.com/erasure-dev/erasure/internal/identifier"
	"github.com/erasure-dev/erasure/internal/job"
	"github.com/erasure-dev/erasure/internal/storagetest"
	"github.com/erasure-dev/erasure/internal/testkit"
)

// A batch that takes more than three quarters of the lease is logged with
// what to change: the lease is renewed between batches, so such a batch
// lets another instance take the job over in its middle.
func TestABatchOutlivingItsLeaseIsLogged(t *testing.T) {
	t.Parallel()
	store := storagetest.New(t, nil)
	var logs testkit.SyncBuffer
	lease := 2 * time.Second
	svc := deletion.New(slog.New(slog.NewTextHandler(&logs, nil)), store, deletion.Config{
		Lease: lease, CheckpointInterval: 500 * time.Millisecond, TempDir: t.TempDir(),
		QueuePoll: 20 * time.Millisecond, WatchPoll: 20 * time.Millisecond,
	})
	slow := true
	deletion.SetFault(svc, func(point string) error {
		if point == deletion.FaultAfterOutcomes && slow {
			slow = false
			time.Sleep(lease * 7 / 8) // the batch itself, slow
		}
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = svc.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	by := deletion.Caller{AccountID: "acme"}
	j, err := svc.StartList(context.Background(), by, []string{"nobody@example.com"}, deletion.Spec{Type: identifier.Email}, deletion.Delete)
	if err != nil {
		t.Fatal(err)
	}
	var last job.View
	if err := svc.Watch(context.Background(), by, j.ID, func(v job.View) error { last = v; return nil }); err != nil {
		t.Fatal(err)
	}
	if last.Job.State != job.Succeeded {
		t.Fatalf("job %s", last.Job.State)
	}
	if !strings.Contains(logs.String(), "a batch took more than three quarters of the lease") || !strings.Contains(logs.String(), "lower -batch-size or raise -lease") {
		t.Errorf("no warning about the slow batch:\n%s", logs.String())
	}
}
