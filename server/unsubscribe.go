package server

import (
	"context"

	"connectrpc.com/connect"

	erasurev1 "github.com/erasure-dev/erasure/gen/erasure/v1"
	"github.com/erasure-dev/erasure/internal/auth"
	"github.com/erasure-dev/erasure/internal/deletion"
	"github.com/erasure-dev/erasure/internal/job"
	"github.com/erasure-dev/erasure/internal/profile"
)

// unsubscribeTask is the task of an unsubscribe with spec p.
func unsubscribeTask(p *erasurev1.UnsubscribeSpec) deletion.Task {
	return deletion.Task{Action: job.Unsubscribe, Unsubscribe: profile.ConsentFilter{
		Channel:  p.GetChannel(),
		Topics:   p.GetTopics(),
		Sections: p.GetSections(),
	}}
}

// PreviewUnsubscribe implements erasure.v1.ErasureService.PreviewUnsubscribe.
func (s *Server) PreviewUnsubscribe(ctx context.Context, req *connect.Request[erasurev1.PreviewUnsubscribeRequest]) (*connect.Response[erasurev1.PreviewUnsubscribeResponse], error) {
	m := req.Msg
	by, err := authorize(ctx, m.GetAccountId(), auth.UnsubscribeBulk)
	if err != nil {
		return nil, err
	}
	p, err := s.preview(ctx, by, m.GetSource(), m.GetValues(), m.GetSpec(), unsubscribeTask(m.GetUnsubscribe()))
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(previewUnsubscribeProto(p)), nil
}

// ExecuteUnsubscribe implements erasure.v1.ErasureService.ExecuteUnsubscribe.
func (s *Server) ExecuteUnsubscribe(ctx context.Context, req *connect.Request[erasurev1.ExecuteUnsubscribeRequest], stream *connect.ServerStream[erasurev1.ExecuteUnsubscribeResponse]) error {
	m := req.Msg
	by, err := authorize(ctx, m.GetAccountId(), auth.UnsubscribeBulk)
	if err != nil {
		return err
	}
	by.Request = requestOf(m, m.GetRequestId())
	j, err := s.svc.StartFile(ctx, by, fileSource(m.GetSource()), spec(m.GetSpec()), unsubscribeTask(m.GetUnsubscribe()))
	if err != nil {
		return s.toStatus(ctx, err)
	}
	return s.watch(ctx, by, j.ID, func(p *erasurev1.Job) error {
		return stream.Send(&erasurev1.ExecuteUnsubscribeResponse{Job: p})
	})
}

// UnsubscribeIdentifiers implements erasure.v1.ErasureService.UnsubscribeIdentifiers.
func (s *Server) UnsubscribeIdentifiers(ctx context.Context, req *connect.Request[erasurev1.UnsubscribeIdentifiersRequest], stream *connect.ServerStream[erasurev1.UnsubscribeIdentifiersResponse]) error {
	m := req.Msg
	by, err := authorize(ctx, m.GetAccountId(), auth.UnsubscribeBulk)
	if err != nil {
		return err
	}
	by.Request = requestOf(m, m.GetRequestId())
	j, err := s.svc.StartList(ctx, by, m.GetValues(), spec(m.GetSpec()), unsubscribeTask(m.GetUnsubscribe()))
	if err != nil {
		return s.toStatus(ctx, err)
	}
	return s.watch(ctx, by, j.ID, func(p *erasurev1.Job) error {
		return stream.Send(&erasurev1.UnsubscribeIdentifiersResponse{Job: p})
	})
}

// UnsubscribeProfile implements erasure.v1.ErasureService.UnsubscribeProfile.
func (s *Server) UnsubscribeProfile(ctx context.Context, req *connect.Request[erasurev1.UnsubscribeProfileRequest]) (*connect.Response[erasurev1.UnsubscribeProfileResponse], error) {
	m := req.Msg
	by, err := authorize(ctx, m.GetAccountId(), auth.UnsubscribeBulk)
	if err != nil {
		return nil, err
	}
	by.Request = requestOf(m, m.GetRequestId())
	v, err := s.svc.RunProfile(ctx, by, m.GetProfileId(), unsubscribeTask(m.GetUnsubscribe()))
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return connect.NewResponse(&erasurev1.UnsubscribeProfileResponse{Job: jobProto(v)}), nil
}
