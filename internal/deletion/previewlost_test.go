package deletion_test

import (
	"context"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/erasure-dev/erasure/internal/deletion"
	"github.com/erasure-dev/erasure/internal/storagetest"
)

// A running preview whose progress has not been written for a while is
// lost with its server, unless this instance runs it: then its process
// was only starved of CPU (a loaded machine stalled one for 17 s in a CI
// run, and the preview, still running, was reported lost to its own
// stream).
func TestAPreviewIsLostOnlyWhenItsServerIsGone(t *testing.T) {
	t.Parallel()
	svc, store := newService(t, deletion.Config{})
	ctx := context.Background()
	by := deletion.Caller{AccountID: "acme"}
	id, err := store.CreatePreview(ctx, "acme", time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	oid, _ := bson.ObjectIDFromHex(id)
	if _, err := storagetest.Database(t).Collection("previews").UpdateByID(ctx, oid, bson.D{{"$set", bson.D{{"updated_at", time.Now().Add(-time.Minute)}}}}); err != nil {
		t.Fatal(err)
	}
	first := func() deletion.PreviewRun {
		t.Helper()
		watch, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		defer cancel()
		var got []deletion.PreviewRun
		_ = svc.WatchPreview(watch, by, id, func(r deletion.PreviewRun) error { got = append(got, r); return nil })
		if len(got) == 0 {
			t.Fatal("WatchPreview sent nothing")
		}
		return got[0]
	}
	if r := first(); r.State != deletion.PreviewLost {
		t.Errorf("a preview nobody has written to for a minute, run elsewhere: %s, want lost", r.State)
	}
	deletion.MarkPreviewHere(svc, id)
	if r := first(); r.State != deletion.PreviewRunning {
		t.Errorf("the same preview run by this instance: %s, want running", r.State)
	}
}
