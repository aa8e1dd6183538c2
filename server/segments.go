package server

import (
	"context"
	"fmt"
	"slices"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	erasurev1 "github.com/erasure-dev/erasure/gen/erasure/v1"
	"github.com/erasure-dev/erasure/internal/auth"
	"github.com/erasure-dev/erasure/internal/deletion"
	"github.com/erasure-dev/erasure/internal/segment"
)

// evaluationTime is the instant a request's relative conditions resolve
// against: the one it names, or now.
func evaluationTime(p *timestamppb.Timestamp) (time.Time, error) {
	if p == nil {
		return time.Now().UTC(), nil
	}
	t := p.AsTime()
	if !p.IsValid() || t.Before(segment.MinTime) || !t.Before(segment.MaxTime) {
		return time.Time{}, invalid(fmt.Sprintf("evaluation_time must lie from %d to %d, or be unset for now", segment.MinTime.Year(), segment.MaxTime.Year()), "evaluation_time")
	}
	return t, nil
}

// segmentCall authorizes a segment call needing perm and returns its caller
// and evaluation time.
func segmentCall(ctx context.Context, account string, perm auth.Permission, at *timestamppb.Timestamp) (deletion.Caller, time.Time, error) {
	by, err := authorize(ctx, account, perm)
	if err != nil {
		return deletion.Caller{}, time.Time{}, err
	}
	now, err := evaluationTime(at)
	return by, now, err
}

// CountSegment implements erasure.v1.ErasureService.CountSegment.
func (s *Server) CountSegment(ctx context.Context, req *connect.Request[erasurev1.CountSegmentRequest]) (*connect.Response[erasurev1.CountSegmentResponse], error) {
	m := req.Msg
	by, now, err := segmentCall(ctx, m.GetAccountId(), auth.ReadSegments, m.GetEvaluationTime())
	if err != nil {
		return nil, err
	}
	c, err := s.svc.CountSegment(ctx, by, segmentOf(m.GetSegment()), now)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	out := &erasurev1.CountSegmentResponse{
		Profiles:          c.Profiles,
		Sections:          segmentSectionsProto(c.Sections, by),
		UndecidedProfiles: c.Undecided,
		EvaluationTime:    timestamppb.New(now),
	}
	out.DeletionUnavailableReason, out.DeletionUnavailableMessage, err = s.segmentDeletionRefusal(ctx, by, c.Profiles)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	out.DeletionOffered = out.DeletionUnavailableReason == ""
	return connect.NewResponse(out), nil
}

// segmentDeletionRefusal says why deleting a segment of profiles matching
// profiles is not offered to the caller, or "" when it is: the help
// article's three reasons, in the order a person can act on them.
func (s *Server) segmentDeletionRefusal(ctx context.Context, by deletion.Caller, profiles int64) (reason, msg string, err error) {
	if p := auth.FromContext(ctx); p == nil || !p.Can(auth.DeleteBySegment) {
		return "PERMISSION_MISSING", fmt.Sprintf("only an owner or admin of the account may delete from a segment (role %s lacks %s)", by.Actor.Role, auth.DeleteBySegment), nil
	}
	features, _, err := s.svc.Features(ctx, by.AccountID)
	if err != nil {
		return "", "", err
	}
	if !slices.Contains(features, deletion.SegmentDeletion) {
		return "FEATURE_NOT_ACTIVATED", fmt.Sprintf("deleting from a segment is not activated for this account (feature %s); ask your account manager or support to activate it", deletion.SegmentDeletion), nil
	}
	if profiles == 0 {
		return "NO_MATCHES", "the segment matches no profiles, so there is nothing to delete", nil
	}
	return "", "", nil
}

// ShowSegmentProfiles implements erasure.v1.ErasureService.ShowSegmentProfiles.
func (s *Server) ShowSegmentProfiles(ctx context.Context, req *connect.Request[erasurev1.ShowSegmentProfilesRequest]) (*connect.Response[erasurev1.ShowSegmentProfilesResponse], error) {
	m := req.Msg
	by, now, err := segmentCall(ctx, m.GetAccountId(), auth.ReadSegments, m.GetEvaluationTime())
	if err != nil {
		return nil, err
	}
	page, err := s.svc.ShowSegment(ctx, by, segmentOf(m.GetSegment()), now, m.GetPageToken(), int(m.GetPageSize()))
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	out := &erasurev1.ShowSegmentProfilesResponse{NextPageToken: page.Next, EvaluationTime: timestamppb.New(now)}
	for _, p := range page.Profiles {
		out.Profiles = append(out.Profiles, segmentProfileProto(p))
	}
	return connect.NewResponse(out), nil
}

// ExportSegment implements erasure.v1.ErasureService.ExportSegment.
func (s *Server) ExportSegment(ctx context.Context, req *connect.Request[erasurev1.ExportSegmentRequest], stream *connect.ServerStream[erasurev1.ExportSegmentResponse]) error {
	m := req.Msg
	by, now, err := segmentCall(ctx, m.GetAccountId(), auth.ReadSegments, m.GetEvaluationTime())
	if err != nil {
		return err
	}
	cols := make([]deletion.ExportColumn, len(m.GetColumns()))
	for i, c := range m.GetColumns() {
		cols[i] = fromProto(exportColumns, c)
	}
	filename := "segment-export-" + now.Format("20060102T150405Z") + ".csv"
	w := &chunkWriter{send: func(data []byte, first bool) error {
		msg := &erasurev1.ExportSegmentResponse{Data: data}
		if first {
			msg.Filename, msg.ContentType = filename, deletion.ReportContentType
		}
		return stream.Send(msg)
	}}
	n, err := s.svc.ExportSegment(ctx, by, segmentOf(m.GetSegment()), now, cols, w)
	if err == nil {
		err = w.close()
	}
	if err != nil {
		return s.toStatus(ctx, err)
	}
	return s.toStatus(ctx, stream.Send(&erasurev1.ExportSegmentResponse{Profiles: n}))
}

// PreviewSegmentDeletion implements erasure.v1.ErasureService.PreviewSegmentDeletion.
func (s *Server) PreviewSegmentDeletion(ctx context.Context, req *connect.Request[erasurev1.PreviewSegmentDeletionRequest]) (*connect.Response[erasurev1.PreviewSegmentDeletionResponse], error) {
	m := req.Msg
	by, now, err := segmentCall(ctx, m.GetAccountId(), auth.DeleteBySegment, m.GetEvaluationTime())
	if err != nil {
		return nil, err
	}
	sn, err := s.svc.PreviewSegmentDeletion(ctx, by, segmentOf(m.GetSegment()), now)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return connect.NewResponse(&erasurev1.PreviewSegmentDeletionResponse{
		SnapshotId:        sn.ID,
		Profiles:          sn.Profiles,
		Sections:          segmentSectionsProto(sn.Sections, by),
		UndecidedProfiles: sn.Undecided,
		ExpireTime:        timestamppb.New(sn.ExpiresAt),
		EvaluationTime:    timestamppb.New(sn.EvaluatedAt),
	}), nil
}

// ExecuteSegmentDeletion implements erasure.v1.ErasureService.ExecuteSegmentDeletion.
func (s *Server) ExecuteSegmentDeletion(ctx context.Context, req *connect.Request[erasurev1.ExecuteSegmentDeletionRequest], stream *connect.ServerStream[erasurev1.ExecuteSegmentDeletionResponse]) error {
	m := req.Msg
	by, err := authorize(ctx, m.GetAccountId(), auth.DeleteBySegment)
	if err != nil {
		return err
	}
	by.Request = requestOf(m, m.GetRequestId())
	j, err := s.svc.ExecuteSegmentDeletion(ctx, by, m.GetSnapshotId(), m.GetExpectedProfiles())
	if err != nil {
		return s.toStatus(ctx, err)
	}
	return s.watch(ctx, by, j.ID, func(p *erasurev1.Job) error {
		return stream.Send(&erasurev1.ExecuteSegmentDeletionResponse{Job: p})
	})
}
