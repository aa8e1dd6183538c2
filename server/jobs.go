package server

import (
	"context"
	"errors"
	"fmt"

	"connectrpc.com/connect"

	erasurev1 "github.com/erasure-dev/erasure/gen/erasure/v1"
	"github.com/erasure-dev/erasure/internal/auth"
	"github.com/erasure-dev/erasure/internal/deletion"
	"github.com/erasure-dev/erasure/internal/job"
)

// ExecuteDeletion implements erasure.v1.ErasureService.ExecuteDeletion.
func (s *Server) ExecuteDeletion(ctx context.Context, req *connect.Request[erasurev1.ExecuteDeletionRequest], stream *connect.ServerStream[erasurev1.ExecuteDeletionResponse]) error {
	m := req.Msg
	by, err := authorize(ctx, m.GetAccountId(), auth.DeleteBulk)
	if err != nil {
		return err
	}
	by.Request = requestOf(m, m.GetRequestId())
	j, err := s.svc.StartFile(ctx, by, fileSource(m.GetSource()), spec(m.GetSpec()), deletion.Delete)
	if err != nil {
		return s.toStatus(ctx, err)
	}
	return s.watch(ctx, by, j.ID, func(p *erasurev1.Job) error {
		return stream.Send(&erasurev1.ExecuteDeletionResponse{Job: p})
	})
}

// DeleteIdentifiers implements erasure.v1.ErasureService.DeleteIdentifiers.
func (s *Server) DeleteIdentifiers(ctx context.Context, req *connect.Request[erasurev1.DeleteIdentifiersRequest], stream *connect.ServerStream[erasurev1.DeleteIdentifiersResponse]) error {
	m := req.Msg
	by, err := authorize(ctx, m.GetAccountId(), auth.DeleteBulk)
	if err != nil {
		return err
	}
	by.Request = requestOf(m, m.GetRequestId())
	j, err := s.svc.StartList(ctx, by, m.GetValues(), spec(m.GetSpec()), deletion.Delete)
	if err != nil {
		return s.toStatus(ctx, err)
	}
	return s.watch(ctx, by, j.ID, func(p *erasurev1.Job) error {
		return stream.Send(&erasurev1.DeleteIdentifiersResponse{Job: p})
	})
}

// WatchJob implements erasure.v1.ErasureService.WatchJob.
func (s *Server) WatchJob(ctx context.Context, req *connect.Request[erasurev1.WatchJobRequest], stream *connect.ServerStream[erasurev1.WatchJobResponse]) error {
	by, err := authorize(ctx, req.Msg.GetAccountId(), auth.ReadReports)
	if err != nil {
		return err
	}
	return s.watch(ctx, by, req.Msg.GetJobId(), func(p *erasurev1.Job) error {
		return stream.Send(&erasurev1.WatchJobResponse{Job: p})
	})
}

var errShuttingDown = errors.New("server shutting down")

// untilStopping is ctx, also cancelled with cause errShuttingDown when the
// server begins to stop, so a stream that follows a job or a preview can
// end with advice instead of being cut.
func (s *Server) untilStopping(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(s.stopping, func() { cancel(errShuttingDown) })
	return ctx, func() { stop(); cancel(nil) }
}

// watch streams a job until it ends, the client leaves or the server stops.
func (s *Server) watch(ctx context.Context, by deletion.Caller, jobID string, send func(*erasurev1.Job) error) error {
	ctx, cancel := s.untilStopping(ctx)
	defer cancel()
	err := s.svc.Watch(ctx, by, jobID, func(v job.View) error {
		return send(jobProto(v))
	})
	if errors.Is(context.Cause(ctx), errShuttingDown) {
		return statusError(connect.CodeUnavailable, fmt.Sprintf(
			"server shutting down; job %s goes on: re-attach with WatchJob to follow it", jobID), "SERVER_SHUTTING_DOWN", "", map[string]string{"job_id": jobID})
	}
	return s.toStatus(ctx, err)
}

// DeleteProfile implements erasure.v1.ErasureService.DeleteProfile.
func (s *Server) DeleteProfile(ctx context.Context, req *connect.Request[erasurev1.DeleteProfileRequest]) (*connect.Response[erasurev1.DeleteProfileResponse], error) {
	by, err := authorize(ctx, req.Msg.GetAccountId(), auth.DeleteProfile)
	if err != nil {
		return nil, err
	}
	by.Request = requestOf(req.Msg, req.Msg.GetRequestId())
	j, err := s.svc.RunProfile(ctx, by, req.Msg.GetProfileId(), deletion.Delete)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return connect.NewResponse(&erasurev1.DeleteProfileResponse{Job: jobProto(j)}), nil
}

// CancelJob implements erasure.v1.ErasureService.CancelJob.
func (s *Server) CancelJob(ctx context.Context, req *connect.Request[erasurev1.CancelJobRequest]) (*connect.Response[erasurev1.CancelJobResponse], error) {
	by, err := authorize(ctx, req.Msg.GetAccountId(), auth.DeleteBulk, auth.UnsubscribeBulk)
	if err != nil {
		return nil, err
	}
	// Cancelling a job needs the permission to run jobs of its action.
	v, err := s.svc.GetJob(ctx, by, req.Msg.GetJobId())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	perm := auth.DeleteBulk
	if v.Job.Action == job.Unsubscribe {
		perm = auth.UnsubscribeBulk
	}
	if _, err := authorize(ctx, req.Msg.GetAccountId(), perm); err != nil {
		return nil, err
	}
	j, err := s.svc.Cancel(ctx, by, req.Msg.GetJobId())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return connect.NewResponse(&erasurev1.CancelJobResponse{Job: jobProto(j)}), nil
}

// GetJob implements erasure.v1.ErasureService.GetJob.
func (s *Server) GetJob(ctx context.Context, req *connect.Request[erasurev1.GetJobRequest]) (*connect.Response[erasurev1.GetJobResponse], error) {
	by, err := authorize(ctx, req.Msg.GetAccountId(), auth.ReadReports)
	if err != nil {
		return nil, err
	}
	j, err := s.svc.GetJob(ctx, by, req.Msg.GetJobId())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return connect.NewResponse(&erasurev1.GetJobResponse{Job: jobProto(j)}), nil
}

// ListJobs implements erasure.v1.ErasureService.ListJobs.
func (s *Server) ListJobs(ctx context.Context, req *connect.Request[erasurev1.ListJobsRequest]) (*connect.Response[erasurev1.ListJobsResponse], error) {
	m := req.Msg
	by, err := authorize(ctx, m.GetAccountId(), auth.ReadReports)
	if err != nil {
		return nil, err
	}
	jobs, next, err := s.svc.ListJobs(ctx, by, int(m.GetPageSize()), m.GetPageToken())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	res := &erasurev1.ListJobsResponse{NextPageToken: next}
	for i := range jobs {
		res.Jobs = append(res.Jobs, jobProto(jobs[i]))
	}
	return connect.NewResponse(res), nil
}

// ListRowOutcomes implements erasure.v1.ErasureService.ListRowOutcomes.
func (s *Server) ListRowOutcomes(ctx context.Context, req *connect.Request[erasurev1.ListRowOutcomesRequest], stream *connect.ServerStream[erasurev1.ListRowOutcomesResponse]) error {
	m := req.Msg
	var only []job.Outcome
	for _, o := range m.GetOutcomes() {
		name := fromProto(outcomes, o)
		if name == 0 {
			return invalid("outcomes may hold OUTCOME_DELETED, OUTCOME_NOT_FOUND, OUTCOME_INVALID, OUTCOME_DUPLICATE, OUTCOME_UNSUBSCRIBED and OUTCOME_ALREADY_UNSUBSCRIBED only", "outcomes")
		}
		only = append(only, name)
	}
	by, err := authorize(ctx, m.GetAccountId(), auth.ReadReports)
	if err != nil {
		return err
	}
	err = s.svc.ListOutcomes(ctx, by, m.GetJobId(), only, func(page []job.RowOutcome) error {
		res := &erasurev1.ListRowOutcomesResponse{Rows: make([]*erasurev1.RowOutcome, len(page))}
		for i, o := range page {
			res.Rows[i] = outcomeProto(o)
		}
		return stream.Send(res)
	})
	return s.toStatus(ctx, err)
}
