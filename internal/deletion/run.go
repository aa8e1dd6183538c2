package deletion

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/erasure-dev/erasure/internal/job"
)

// run is one worker's run of a claimed job, from its last checkpoint to its
// end or until the worker lets go of it. It holds everything the run needs
// between batches, so that the steps below take the run and nothing else.
type run struct {
	s *Service
	// stop ends when the worker should hand the job back (shutdown); ops
	// carries the store calls and outlives stop by the shutdown grace.
	stop, ops context.Context
	job       *job.Job
	log       *slog.Logger

	match matcher
	// snapshot is a segment job's snapshot, where its rows come from.
	snapshot *job.Snapshot
	// act is what the job does to the profiles its rows match.
	act action
	// sections are the job's per-section totals while it runs.
	sections sectionTotals
	// lastRow is the row number of the last row processed.
	lastRow int64
	// redoUntil is the last row an earlier claim of the job stored an
	// outcome for: up to it, the stored outcomes are the truth.
	redoUntil int64
	// checkCancel is set before the first batch and after every checkpoint
	// of the batch loop: the next batch looks for a cancel request first.
	checkCancel    bool
	lastCheckpoint time.Time
	// paused is set once the test hook (Config.Pause) paused this run.
	paused bool
}

func (s *Service) newRun(stop, ops context.Context, j *job.Job) *run {
	return &run{
		s:        s,
		stop:     stop,
		ops:      ops,
		job:      j,
		log:      s.logger.With("job_id", j.ID, "account_id", j.AccountID, "attempt", j.Lease.Attempt),
		sections: sectionTotalsOf(j.Sections),
	}
}

// actionFor returns what job j does to the profiles it matches. Only a job
// that says it deletes is run as a deletion: an action this version does
// not know fails the job rather than guessing.
func (s *Service) actionFor(j *job.Job) (action, error) {
	switch j.Action {
	case job.Delete:
		return deleteAction{s}, nil
	case job.Unsubscribe:
		return unsubscribeAction{s: s, filter: j.Unsubscribe}, nil
	}
	return nil, &Error{Kind: Invalid, Reason: "UNKNOWN_ACTION", Msg: "this job's action is not one this version of erasured runs; run it on a newer version"}
}

// process runs a job's rows from its last checkpoint and returns the state
// it ends in.
//
// Every step can be redone: a batch writes its outcomes (in pages with ids
// made of job and row) before its action, and counts come from those outcomes, so a
// batch redone after a crash, a takeover or a failed store call reads back
// what it had decided and ends with the same outcomes and counts as a run
// without the interruption.
func (r *run) process() (job.State, error) {
	var err error
	if r.act, err = r.s.actionFor(r.job); err != nil {
		return 0, err
	}
	m, sn, err := r.s.matcherFor(r.ops, r.job)
	if err != nil {
		return 0, err
	}
	r.snapshot = sn
	r.match = m
	src, err := r.openRows()
	if err != nil {
		return 0, err
	}
	defer src.close()

	c := newClassifier(m.norm, r.job.Column, r.job.Counts.TotalRows)
	defer c.release()
	if err := r.skipDone(src, c); err != nil {
		return 0, err
	}
	if r.job.Lease.Attempt > 1 {
		if err := r.withRetry(func(ctx context.Context) (err error) {
			r.redoUntil, err = r.s.store.LastOutcomeRow(ctx, r.job.AccountID, r.job.ID)
			return err
		}); err != nil {
			return 0, err
		}
	}
	batch := make([]row, 0, r.s.cfg.BatchSize)
	r.checkCancel, r.lastCheckpoint = true, time.Now()
	for {
		if r.stop.Err() != nil {
			return 0, errInterrupted
		}
		// Before the first batch and after every checkpoint: a cancelled
		// job changes nothing more once the request is seen, at most a
		// checkpoint interval after it was recorded. A batch an earlier
		// claim began is finished first, so that the report counts what it
		// did.
		if r.checkCancel && r.redoUntil <= r.lastRow {
			cancelled, err := r.cancelRequested()
			if err != nil {
				return 0, err
			}
			if cancelled {
				return job.Cancelled, nil
			}
			r.checkCancel = false
		}
		var readErr error
		batch, readErr = readBatch(src, c, batch, r.s.cfg.BatchSize)
		if readErr != nil && !errors.Is(readErr, io.EOF) {
			return 0, readErr
		}
		redo := len(batch) > 0 && batch[0].num <= r.redoUntil
		if err := r.withRetry(func(ctx context.Context) error {
			err := r.doBatch(ctx, batch, redo)
			redo = true // a retried batch reads back what its failed try stored
			return err
		}); err != nil {
			return 0, err
		}
		if readErr != nil {
			return job.Succeeded, nil
		}
		// Checkpoints are timed, not per batch: on MongoDB a batch takes
		// tens of milliseconds, and a checkpoint per batch would be a
		// third of the job's commands. Batches done since the last one are
		// redone exactly after a crash (their outcomes are read back).
		if time.Since(r.lastCheckpoint) >= r.s.cfg.CheckpointInterval || r.leaseHalfGone() {
			if err := r.checkpoint(); err != nil {
				return 0, err
			}
			r.checkCancel, r.lastCheckpoint = true, time.Now()
		}
	}
}

// skipDone reads the rows an earlier claim finished (up to the checkpoint)
// again, only to know which values the rest of the source repeats.
func (r *run) skipDone(src rowSource, c *classifier) error {
	for n := int64(0); n < r.job.Counts.Rows; n++ {
		num, value, state, err := src.next()
		if err != nil {
			return fmt.Errorf("skip to checkpoint: %w", err)
		}
		c.classify(num, value, state)
		r.lastRow = num
		if n%256 == 0 {
			if r.stop.Err() != nil {
				return errInterrupted
			}
			if err := r.keepLease(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *run) cancelRequested() (bool, error) {
	err := r.withRetry(func(ctx context.Context) (err error) {
		r.job.CancelRequested, err = r.s.store.CancelRequested(ctx, r.job)
		return err
	})
	return r.job.CancelRequested, err
}

// openRows opens the job's rows. A file is copied out of the store once
// per run and read twice: first whole, to count its rows (a file that
// cannot be read to its end fails here, before anything changes, and
// progress can be given as a percentage), then row by row.
func (r *run) openRows() (rowSource, error) {
	j := r.job
	switch j.Kind {
	case job.FromProfile:
		return &listSource{items: []string{j.ProfileID}}, nil
	case job.FromSegment:
		return &snapshotSource{ctx: r.ops, s: r.s, sn: r.snapshot}, nil
	case job.FromList:
		items, err := r.s.store.LoadItems(r.ops, j)
		if err != nil {
			return nil, err
		}
		j.Counts.TotalRows = int64(len(items))
		return &listSource{items: items}, nil
	case job.FromFile:
		f, err := r.s.openUpload(r.ops, j.AccountID, j.File.UploadID)
		if err != nil {
			return nil, err
		}
		src := FileSource{
			UploadID:     j.File.UploadID,
			Options:      FileOptions{Sheet: j.File.Sheet, Header: j.File.Header},
			ColumnName:   j.File.ColumnName,
			ColumnNumber: j.File.ColumnNumber,
		}
		if j.Counts.TotalRows == 0 {
			total, err := r.countRows(f, src)
			if err != nil {
				f.Close()
				return nil, err
			}
			j.Counts.TotalRows = total
			if err := r.checkpoint(); err != nil {
				f.Close()
				return nil, err
			}
		}
		c, err := f.openColumn(src, r.match)
		if err != nil {
			f.Close()
			return nil, err
		}
		c.owned = f
		return c, nil
	}
	return nil, fmt.Errorf("job kind %s cannot be run by a worker", j.Kind)
}

func (r *run) countRows(f *openedFile, src FileSource) (int64, error) {
	rows, err := f.openColumn(src, r.match)
	if err != nil {
		return 0, err
	}
	defer rows.close()
	var n int64
	for {
		_, _, _, err := rows.next()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return 0, err
		}
		n++
		if n%256 == 0 {
			if err := r.keepLease(); err != nil {
				return 0, err
			}
		}
	}
}
