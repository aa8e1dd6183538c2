package server

import (
	"context"

	"connectrpc.com/connect"

	erasurev1 "github.com/erasure-dev/erasure/gen/erasure/v1"
	"github.com/erasure-dev/erasure/internal/auth"
)

// ListAuditEvents implements erasure.v1.ErasureService.ListAuditEvents.
func (s *Server) ListAuditEvents(ctx context.Context, req *connect.Request[erasurev1.ListAuditEventsRequest]) (*connect.Response[erasurev1.ListAuditEventsResponse], error) {
	m := req.Msg
	by, err := authorize(ctx, m.GetAccountId(), auth.ReadAudit)
	if err != nil {
		return nil, err
	}
	page, err := s.svc.ListAudit(ctx, by.AccountID, m.GetJobId(), int(m.GetPageSize()), m.GetPageToken())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	res := &erasurev1.ListAuditEventsResponse{NextPageToken: page.Next}
	for _, e := range page.Events {
		res.Events = append(res.Events, auditEventProto(e))
	}
	return connect.NewResponse(res), nil
}

// VerifyErasure implements erasure.v1.ErasureService.VerifyErasure.
func (s *Server) VerifyErasure(ctx context.Context, req *connect.Request[erasurev1.VerifyErasureRequest]) (*connect.Response[erasurev1.VerifyErasureResponse], error) {
	m := req.Msg
	by, err := authorize(ctx, m.GetAccountId(), auth.ReadAudit)
	if err != nil {
		return nil, err
	}
	found, err := s.svc.VerifyErasure(ctx, by.AccountID, spec(m.GetSpec()), m.GetValue(), m.GetProfileId())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	res := &erasurev1.VerifyErasureResponse{}
	for _, e := range found {
		res.Erasures = append(res.Erasures, erasureProto(e))
	}
	return connect.NewResponse(res), nil
}
