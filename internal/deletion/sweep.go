package deletion

import (
	"context"
	"time"
)

// sweep deletes expired uploads and expired per-row outcomes every
// Config.SweepInterval until ctx ends.
func (s *Service) sweep(ctx context.Context) {
	t := time.NewTicker(s.cfg.SweepInterval)
	defer t.Stop()
	for {
		if err := s.sweepOnce(ctx); err != nil && ctx.Err() == nil {
			s.logger.WarnContext(ctx, "sweep failed; retrying at the next interval", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sweepOnce deletes what has expired now: uploads no job took, identifiers
// of ended list jobs, and per-row outcomes past their retention.
func (s *Service) sweepOnce(ctx context.Context) error {
	now := s.now()
	n, err := s.store.DeleteExpiredUploads(ctx, now)
	if err != nil {
		return err
	}
	if n > 0 {
		s.logger.InfoContext(ctx, "expired uploads deleted", "uploads", n)
	}
	if n, err := s.store.DeleteExpiredPreviews(ctx, now); err != nil {
		return err
	} else if n > 0 {
		s.logger.InfoContext(ctx, "expired previews deleted", "previews", n)
	}
	if n, err := s.store.DeleteItemsOfEndedJobs(ctx); err != nil {
		return err
	} else if n > 0 {
		s.logger.InfoContext(ctx, "identifiers of ended list jobs deleted", "jobs", n)
	}
	if _, err := s.store.DeleteOldDeliveries(ctx, now.Add(-7*24*time.Hour)); err != nil {
		return err
	}
	if n, err := s.store.DeleteExpiredRequests(ctx, now); err != nil {
		return err
	} else if n > 0 {
		s.logger.InfoContext(ctx, "expired request ids deleted", "request_ids", n)
	}
	if n, err := s.store.DeleteUsedUpSnapshots(ctx, now); err != nil {
		return err
	} else if n > 0 {
		s.logger.InfoContext(ctx, "expired or used segment snapshots deleted", "snapshots", n)
	}
	for {
		jobs, err := s.store.JobsWithExpiredOutcomes(ctx, now, 100)
		if err != nil {
			return err
		}
		for i := range jobs {
			if err := s.store.DeleteOutcomes(ctx, jobs[i].AccountID, jobs[i].ID); err != nil {
				return err
			}
			if err := s.store.MarkOutcomesPurged(ctx, &jobs[i]); err != nil {
				return err
			}
		}
		if len(jobs) > 0 {
			s.logger.InfoContext(ctx, "expired row outcomes deleted", "jobs", len(jobs))
		}
		if len(jobs) < 100 {
			return nil
		}
	}
}
