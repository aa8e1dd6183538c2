package deletion

import (
	"context"
	"time"

	"github.com/erasure-dev/erasure/storage"
)

// heartbeat is the longest a watcher goes without a message.
const heartbeat = time.Second

// watchOutage is how long a watcher waits out an unreachable store.
const watchOutage = 2 * time.Minute

// Watch sends snapshots of a job until it ends: at once, whenever it
// changes, and at least once a second. The last snapshot is the final
// report. The job runs on its own; ending the watch does not stop it.
func (s *Service) Watch(ctx context.Context, accountID, jobID string, send func(*storage.Job) error) error {
	j, err := s.GetJob(ctx, accountID, jobID)
	if err != nil {
		return err
	}
	t := time.NewTicker(s.cfg.WatchPoll)
	defer t.Stop()
	var last *storage.Job
	var sent, reachable time.Time
	reachable = time.Now()
	for {
		if last == nil || changed(last, j) || time.Since(sent) >= heartbeat {
			if err := send(j); err != nil {
				return err
			}
			last, sent = j, time.Now()
		}
		if j.Terminal() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		next, err := s.store.GetJob(ctx, accountID, jobID)
		switch {
		case err == nil:
			j, reachable = next, time.Now()
		case storage.IsTransient(err) && time.Since(reachable) < watchOutage:
			// The store is away for a moment: keep the stream and try
			// again at the next tick.
		default:
			return err
		}
	}
}

func changed(a, b *storage.Job) bool {
	return a.State != b.State || a.Counts != b.Counts || a.CancelRequested != b.CancelRequested
}

// Progress is a running job's pace.
type Progress struct {
	Percent       float64
	RowsPerSecond float64
	// ETA is the estimated time left; zero when unknown.
	ETA time.Duration
}

// ProgressOf computes a job's progress at time now.
func ProgressOf(j *storage.Job, now time.Time) Progress {
	var p Progress
	c := j.Counts
	if j.Terminal() && j.State == storage.JobSucceeded {
		p.Percent = 100
	} else if c.TotalRows > 0 {
		p.Percent = 100 * float64(c.Rows) / float64(c.TotalRows)
	}
	if j.StartedAt == nil {
		return p
	}
	end := now
	if j.FinishedAt != nil {
		end = *j.FinishedAt
	}
	if elapsed := end.Sub(*j.StartedAt).Seconds(); elapsed > 0 {
		p.RowsPerSecond = float64(c.Rows) / elapsed
	}
	if !j.Terminal() && p.RowsPerSecond > 0 && c.TotalRows > c.Rows {
		p.ETA = time.Duration(float64(c.TotalRows-c.Rows) / p.RowsPerSecond * float64(time.Second))
	}
	return p
}
