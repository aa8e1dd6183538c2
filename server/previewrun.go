package server

import (
	"context"
	"errors"
	"fmt"

	"connectrpc.com/connect"

	erasurev1 "github.com/erasure-dev/erasure/gen/erasure/v1"
	"github.com/erasure-dev/erasure/internal/auth"
	"github.com/erasure-dev/erasure/internal/deletion"
)

// StartPreview implements erasure.v1.ErasureService.StartPreview.
func (s *Server) StartPreview(ctx context.Context, req *connect.Request[erasurev1.StartPreviewRequest], stream *connect.ServerStream[erasurev1.StartPreviewResponse]) error {
	m := req.Msg
	perm, task := auth.DeleteBulk, deletion.Delete
	if m.GetUnsubscribe() != nil {
		perm, task = auth.UnsubscribeBulk, unsubscribeTask(m.GetUnsubscribe())
	}
	by, err := authorize(ctx, m.GetAccountId(), perm)
	if err != nil {
		return err
	}
	var values []string
	switch {
	case m.GetSource() != nil && len(m.GetValues()) > 0:
		return invalid("give source (a file) or values (a list), not both", "values")
	case len(m.GetValues()) > 0:
		values = m.GetValues()
	}
	id, err := s.svc.StartPreview(ctx, by, fileSource(m.GetSource()), values, spec(m.GetSpec()), task)
	if err != nil {
		return s.toStatus(ctx, err)
	}
	return s.followPreview(ctx, by, id, func(st *erasurev1.PreviewStatus) error {
		return stream.Send(&erasurev1.StartPreviewResponse{Status: st})
	})
}

// WatchPreview implements erasure.v1.ErasureService.WatchPreview.
func (s *Server) WatchPreview(ctx context.Context, req *connect.Request[erasurev1.WatchPreviewRequest], stream *connect.ServerStream[erasurev1.WatchPreviewResponse]) error {
	by, err := authorize(ctx, req.Msg.GetAccountId(), auth.ReadReports)
	if err != nil {
		return err
	}
	return s.followPreview(ctx, by, req.Msg.GetPreviewId(), func(st *erasurev1.PreviewStatus) error {
		return stream.Send(&erasurev1.WatchPreviewResponse{Status: st})
	})
}

// followPreview streams a preview until it ends, the client leaves or the
// server stops (then with advice).
func (s *Server) followPreview(ctx context.Context, by deletion.Caller, id string, send func(*erasurev1.PreviewStatus) error) error {
	ctx, cancel := s.untilStopping(ctx)
	defer cancel()
	err := s.svc.WatchPreview(ctx, by, id, func(r deletion.PreviewRun) error { return send(previewStatusProto(r)) })
	if errors.Is(context.Cause(ctx), errShuttingDown) {
		return statusError(connect.CodeUnavailable, fmt.Sprintf(
			"server shutting down; a preview runs on the server that started it, so preview %s stops with it: start it again", id),
			"SERVER_SHUTTING_DOWN", "", map[string]string{"preview_id": id})
	}
	return s.toStatus(ctx, err)
}

// CancelPreview implements erasure.v1.ErasureService.CancelPreview.
func (s *Server) CancelPreview(ctx context.Context, req *connect.Request[erasurev1.CancelPreviewRequest]) (*connect.Response[erasurev1.CancelPreviewResponse], error) {
	by, err := authorize(ctx, req.Msg.GetAccountId(), auth.DeleteBulk, auth.UnsubscribeBulk)
	if err != nil {
		return nil, err
	}
	if err := s.svc.CancelPreview(ctx, by, req.Msg.GetPreviewId()); err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return connect.NewResponse(&erasurev1.CancelPreviewResponse{}), nil
}
