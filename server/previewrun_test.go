package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"connectrpc.com/connect"

	erasurev1 "github.com/erasure-dev/erasure/gen/erasure/v1"
	"github.com/erasure-dev/erasure/internal/deletion"
	"github.com/erasure-dev/erasure/internal/identifier"
	"github.com/erasure-dev/erasure/internal/profile"
)

// A big preview runs on the server: its stream says how many rows were
// read at least once a second and ends with the summary; a client that
// left re-attaches with WatchPreview and gets the same summary; a preview
// can be cancelled.
func TestPreviewOnTheServer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, deletion.Config{BatchSize: 50})
	var ps []profile.Profile
	var file strings.Builder
	file.WriteString("Email\n")
	for i := range 3000 {
		if i < 500 {
			ps = append(ps, newProfile("acme", identifier.Email, fmt.Sprintf("p%04d@example.com", i)))
		}
		fmt.Fprintf(&file, "p%04d@example.com\n", i)
	}
	e.seed(t, ps...)
	upload := e.uploadChunks(t, "acme", "big.csv", []byte(file.String()), 1<<20)
	req := &erasurev1.StartPreviewRequest{Spec: emailSpec(),
		Source: &erasurev1.FileSource{UploadId: upload, Column: &erasurev1.FileSource_ColumnName{ColumnName: "Email"}}}

	stream, err := e.connect.StartPreview(ctx, connect.NewRequest(req))
	if err != nil {
		t.Fatal(err)
	}
	var statuses []*erasurev1.PreviewStatus
	for stream.Receive() {
		statuses = append(statuses, stream.Msg().GetStatus())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	last := statuses[len(statuses)-1]
	if last.GetState() != erasurev1.PreviewState_PREVIEW_STATE_SUCCEEDED || last.GetRowsRead() != 3000 ||
		last.GetDeletion().GetCounts().GetMatched() != 500 || last.GetDeletion().GetCounts().GetNotFound() != 2500 {
		t.Fatalf("last status %v", last)
	}
	running := 0
	for _, st := range statuses[:len(statuses)-1] {
		if st.GetState() == erasurev1.PreviewState_PREVIEW_STATE_RUNNING {
			running++
		}
	}
	if running == 0 {
		t.Fatalf("no progress before the summary: %d statuses", len(statuses))
	}

	// Re-attached over gRPC, from scratch: the same summary at once.
	w, err := e.grpc.WatchPreview(ctx, &erasurev1.WatchPreviewRequest{AccountId: "acme", PreviewId: last.GetPreviewId()})
	if err != nil {
		t.Fatal(err)
	}
	got, err := w.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if got.GetStatus().GetDeletion().GetCounts().GetMatched() != 500 {
		t.Fatalf("re-attached status %v", got.GetStatus())
	}
	other, err := e.as(t, "beta", "OWNER").WatchPreview(ctx, connect.NewRequest(&erasurev1.WatchPreviewRequest{PreviewId: last.GetPreviewId()}))
	wantCode(t, streamErr(other, err), connect.CodeNotFound, "preview")

	// Cancelled: it stops within about a second, long before its end.
	var long strings.Builder
	long.WriteString("Email\n")
	for i := range 20000 {
		fmt.Fprintf(&long, "q%05d@example.com\n", i)
	}
	req.Source.UploadId = e.uploadChunks(t, "acme", "long.csv", []byte(long.String()), 1<<20)
	stream, err = e.connect.StartPreview(ctx, connect.NewRequest(req))
	if err != nil {
		t.Fatal(err)
	}
	if !stream.Receive() {
		t.Fatal(stream.Err())
	}
	id := stream.Msg().GetStatus().GetPreviewId()
	if _, err := e.connect.CancelPreview(ctx, connect.NewRequest(&erasurev1.CancelPreviewRequest{PreviewId: id})); err != nil {
		t.Fatal(err)
	}
	var end *erasurev1.PreviewStatus
	for stream.Receive() {
		end = stream.Msg().GetStatus()
	}
	if end.GetState() != erasurev1.PreviewState_PREVIEW_STATE_CANCELLED || end.GetRowsRead() >= 20000 {
		t.Fatalf("after cancel: %v", end)
	}
}
