package deletion

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/erasure-dev/erasure/internal/job"
	"github.com/erasure-dev/erasure/storage"
)

// Run runs the workers and the sweeper until ctx ends. Then every worker
// finishes the batch it is in, checkpoints it, hands its job back (another
// instance takes it over at once) and Run returns. Store calls still running
// Config.ShutdownGrace after ctx ended are cancelled; a job cut off that way
// is resumed by another worker when its lease expires.
func (s *Service) Run(ctx context.Context) error {
	ops, cancelOps := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelOps()
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(s.cfg.ShutdownGrace, cancelOps) })
	defer stop()
	var wg sync.WaitGroup
	for i := range s.cfg.Workers {
		owner := fmt.Sprintf("%s-%d", s.owner, i)
		wg.Go(func() { s.work(ctx, ops, owner) })
	}
	wg.Go(func() { s.sweep(ctx) })
	wg.Go(func() { s.deliver(ctx) })
	wg.Wait()
	return nil
}

// notify wakes an idle worker: a job was queued here.
func (s *Service) notify() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// work claims jobs and runs them one after another, as owner, until stop
// ends. ops carries the store calls.
func (s *Service) work(stop, ops context.Context, owner string) {
	t := time.NewTicker(s.cfg.QueuePoll)
	defer t.Stop()
	for stop.Err() == nil {
		s.claiming.Lock()
		j, err := s.store.ClaimJob(ops, owner, s.cfg.Lease, s.cfg.MaxJobsPerAccount)
		s.claiming.Unlock()
		switch {
		case err == nil:
			s.runJob(stop, ops, j)
			// Another job may be waiting: look again at once.
			continue
		case errors.Is(err, storage.ErrNotFound):
		case stop.Err() != nil:
		case storage.IsTransient(err):
			s.logger.WarnContext(ops, "store unavailable; looking for jobs again soon", "error", err)
		default:
			s.logger.ErrorContext(ops, "could not claim a job", "error", err)
		}
		select {
		case <-stop.Done():
		case <-s.wake:
		case <-t.C:
		}
	}
}

// runJob runs a claimed job to its end, or until shutdown or the loss of
// its lease, and records how it ended.
func (s *Service) runJob(stop, ops context.Context, j *job.Job) {
	r := s.newRun(stop, ops, j)
	if j.Lease.Attempt > 1 {
		s.cfg.Metrics.Takeover()
	}
	r.log.InfoContext(ops, "job started", "kind", j.Kind.String(), "action", j.Action.String(), "identifier_type", j.IdentifierType.String(), "resume_after_rows", j.Counts.Rows)
	// Nothing is deleted before the start is in the audit trail (stored
	// once, whoever records it first).
	err := r.withRetry(func(ctx context.Context) error {
		return s.record(ctx, job.Started, j.CreatedBy, startOf(j))
	})
	var state job.State
	var reason string
	if err == nil && j.StalledClaims >= maxStalledClaims {
		reason, err := r.endStalled()
		if err != nil {
			r.log.WarnContext(ops, "could not end a job that made no progress; the next worker to take it over tries again", "error", err)
			return
		}
		r.log.ErrorContext(ops, "job ended: no progress in several attempts in a row", "attempts", j.StalledClaims, "rows", j.Counts.Rows)
		s.finish(r, job.Failed, reason)
		return
	}
	if err == nil {
		state, err = r.process()
	}
	switch {
	case errors.Is(err, errInterrupted):
		if err := r.withRetry(func(ctx context.Context) error { return s.store.ReleaseLease(ctx, j) }); err != nil {
			r.log.WarnContext(ops, "could not hand the job back; another worker takes it when its lease expires", "error", err)
		}
		r.log.InfoContext(ops, "job handed back at shutdown", "rows", j.Counts.Rows)
		return
	case errors.Is(err, errHandBack):
		r.log.ErrorContext(ops, "a batch could not be finished; the job is redone from its stored outcomes when its lease expires", "error", err)
		return
	case errors.Is(err, errLeaseLost), errors.Is(err, storage.ErrConflict):
		r.log.WarnContext(ops, "job left to another worker: its lease ran out", "rows", j.Counts.Rows)
		return
	case ops.Err() != nil:
		r.log.WarnContext(ops, "job cut off by shutdown; another worker resumes it when its lease expires", "rows", j.Counts.Rows)
		return
	case err != nil:
		var e *Error
		if errors.As(err, &e) {
			reason = e.Msg
		} else {
			reason = "internal error; the counts show what was done before it"
			r.log.ErrorContext(ops, "job failed", "error", err)
		}
		state = job.Failed
	}
	s.finish(r, state, reason)
}

// startOf is the job as it was queued, which its start record shows
// whoever writes it first: the call that queued it, or this worker.
func startOf(j *job.Job) *job.Job {
	s := *j
	s.State = job.Queued
	s.Counts = job.Counts{}
	if j.Kind != job.FromFile {
		s.Counts.TotalRows = j.Counts.TotalRows // a list's length is known when it is queued
	}
	return &s
}

// finish ends a run's job in state. Finishing is a write like any other:
// within the lease, or not at all (then whoever takes the job over finishes
// it the same way). The audit record comes first, so no job ends
// unrecorded; the worker that finishes the job writes it last, so it is the
// one kept.
func (s *Service) finish(r *run, state job.State, reason string) {
	j := r.job
	var done *job.Job
	final := *j
	final.State, final.Error = state, reason
	err := r.withRetry(func(ctx context.Context) (err error) {
		if err := s.record(ctx, job.Finished, j.CreatedBy, &final); err != nil {
			return err
		}
		done, err = s.store.FinishJob(ctx, j, state, reason, s.cfg.OutcomeRetention)
		return err
	})
	if err != nil {
		r.log.WarnContext(r.ops, "could not finish the job; another worker will when its lease expires", "error", err)
		return
	}
	if j.File.UploadID != "" {
		if err := s.store.DeleteUpload(r.ops, j.AccountID, j.File.UploadID); err != nil {
			r.log.WarnContext(r.ops, "could not delete the job's upload; the sweeper will", "error", err)
		}
	}
	c := done.Counts
	s.cfg.Metrics.JobEnded(done.AccountID, done.Action.String(), done.State.String())
	if err := s.queueDelivery(r.ops, done); err != nil {
		r.log.WarnContext(r.ops, "could not queue the job's webhook delivery", "error", err)
	}
	r.log.InfoContext(r.ops, "job finished", "state", done.State.String(), "action", done.Action.String(), "rows", c.Rows, "deleted", c.Deleted,
		"unsubscribed", c.Unsubscribed, "already_unsubscribed", c.AlreadyUnsubscribed, "not_found", c.NotFound, "invalid", c.Invalid, "duplicate", c.Duplicate)
}
