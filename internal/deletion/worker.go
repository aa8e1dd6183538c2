package deletion

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/erasure-dev/erasure/storage"
)

// errInterrupted ends a job's run on shutdown, after a checkpoint.
var errInterrupted = errors.New("interrupted by shutdown")

// errLeaseLost ends a job's run when its lease ran out (the store could not
// be reached to renew it): another worker may own the job now.
var errLeaseLost = errors.New("lease lost")

// The points of a batch where Config.Fault is called: after its outcomes
// are stored, after its profiles are deleted, and after its erasures are
// recorded (the batch is then done but not yet counted).
const (
	FaultAfterOutcomes = "after-outcomes"
	FaultAfterDelete   = "after-delete"
	FaultAfterErasures = "after-erasures"
)

func (s *Service) fault(point string) error {
	if s.cfg.Fault == nil {
		return nil
	}
	return s.cfg.Fault(point)
}

// errHandBack means a batch failed after its outcomes were stored, with an
// error that retrying at once did not fix: the job is left to be redone when
// its lease expires, instead of failing with a report that is not true.
var errHandBack = errors.New("batch left unfinished")

// handBack turns a lasting error into errHandBack; transient ones are left
// for withRetry.
func handBack(err error) error {
	if storage.IsTransient(err) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return err
	}
	return fmt.Errorf("%w: %w", errHandBack, err)
}

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
	wg.Wait()
	return nil
}

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
		j, err := s.store.ClaimJob(ops, owner, s.cfg.Lease, s.cfg.MaxJobsPerAccount)
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

// runJob processes a claimed job to its end, or until shutdown or the loss
// of its lease, and logs what happened.
func (s *Service) runJob(stop, ops context.Context, j *storage.Job) {
	log := s.logger.With("job_id", j.ID.Hex(), "account_id", j.AccountID, "attempt", j.Attempt)
	log.InfoContext(ops, "job started", "kind", j.Kind, "identifier_type", j.IdentifierType, "resume_after_rows", j.Counts.Rows)
	// Nothing is deleted before the start is in the audit trail (stored
	// once, whoever records it first).
	err := s.withRetry(ops, j, func(ctx context.Context) error {
		return s.record(ctx, storage.AuditJobStarted, j.CreatedBy, j)
	})
	state, reason := "", ""
	if err == nil {
		state, reason, err = s.process(stop, ops, j)
	}
	switch {
	case errors.Is(err, errInterrupted):
		if err := s.withRetry(ops, j, func(ctx context.Context) error { return s.store.ReleaseLease(ctx, j) }); err != nil {
			log.WarnContext(ops, "could not hand the job back; another worker takes it when its lease expires", "error", err)
		}
		log.InfoContext(ops, "job handed back at shutdown", "rows", j.Counts.Rows)
		return
	case errors.Is(err, errHandBack):
		log.ErrorContext(ops, "a batch could not be finished; the job is redone from its stored outcomes when its lease expires", "error", err)
		return
	case errors.Is(err, errLeaseLost), errors.Is(err, storage.ErrConflict):
		log.WarnContext(ops, "job left to another worker: its lease ran out", "rows", j.Counts.Rows)
		return
	case ops.Err() != nil:
		log.WarnContext(ops, "job cut off by shutdown; another worker resumes it when its lease expires", "rows", j.Counts.Rows)
		return
	case err != nil:
		var e *Error
		if errors.As(err, &e) {
			reason = e.Msg
		} else {
			reason = "internal error; the counts show what was done before it"
			log.ErrorContext(ops, "job failed", "error", err)
		}
		state = storage.JobFailed
	}
	// Finishing is a write like any other: within the lease, or not at all
	// (then whoever takes the job over finishes it the same way). The
	// audit record comes first, so no job ends unrecorded; the worker that
	// finishes the job writes it last, so it is the one kept.
	var done *storage.Job
	final := *j
	final.State, final.Error = state, reason
	err = s.withRetry(ops, j, func(ctx context.Context) (err error) {
		if err := s.record(ctx, storage.AuditJobFinished, j.CreatedBy, &final); err != nil {
			return err
		}
		done, err = s.store.FinishJob(ctx, j, state, reason, s.cfg.OutcomeRetention)
		return err
	})
	if err != nil {
		log.WarnContext(ops, "could not finish the job; another worker will when its lease expires", "error", err)
		return
	}
	if j.UploadID != "" {
		if err := s.store.DeleteUpload(ops, j.AccountID, j.UploadID); err != nil {
			log.WarnContext(ops, "could not delete the job's upload; the sweeper will", "error", err)
		}
	}
	c := done.Counts
	log.InfoContext(ops, "job finished", "state", done.State, "rows", c.Rows, "deleted", c.Deleted,
		"not_found", c.NotFound, "invalid", c.Invalid, "duplicate", c.Duplicate)
}

// process runs a job's rows from its last checkpoint and returns the state
// it ends in.
//
// Every step can be redone: a batch writes its outcomes (with ids made of
// job and row) before it deletes, and counts come from those outcomes, so a
// batch redone after a crash, a takeover or a failed store call reads back
// what it had decided and ends with the same outcomes and counts as a run
// without the interruption.
func (s *Service) process(stop, ops context.Context, j *storage.Job) (state, reason string, err error) {
	m, err := s.matcherFor(j)
	if err != nil {
		return "", "", err
	}
	src, err := s.jobSource(ops, j, m)
	if err != nil {
		return "", "", err
	}
	defer src.close()

	c := newClassifier(m.norm, j.Column, j.Counts.TotalRows)
	// Rows before the checkpoint were done by an earlier claim: read them
	// again only to know which values the rest of the file repeats.
	for n := int64(0); n < j.Counts.Rows; n++ {
		num, value, present, err := src.next()
		if err != nil {
			return "", "", fmt.Errorf("skip to checkpoint: %w", err)
		}
		c.classify(num, value, present)
		j.LastRow = num
		if n%256 == 0 {
			if stop.Err() != nil {
				return "", "", errInterrupted
			}
			if err := s.keepLease(ops, j); err != nil {
				return "", "", err
			}
		}
	}
	// Rows after the checkpoint may have been begun by an earlier claim,
	// with another batch size: up to the last row with a stored outcome,
	// the stored outcomes are the truth and are read back.
	var redoUntil int64
	if j.Attempt > 1 {
		if err := s.withRetry(ops, j, func(ctx context.Context) (err error) {
			redoUntil, err = s.store.LastOutcomeRow(ctx, j.AccountID, j.ID.Hex())
			return err
		}); err != nil {
			return "", "", err
		}
	}
	sections := sectionMap(j.Sections)
	batch := make([]row, 0, s.cfg.BatchSize)
	checkCancel, lastCheckpoint := true, time.Now()
	for {
		if stop.Err() != nil {
			return "", "", errInterrupted
		}
		// Before the first batch and after every checkpoint: a cancelled
		// job deletes nothing more once the request is seen, at most a
		// checkpoint interval after it was recorded. A batch an earlier
		// claim began is finished first, so that the report counts what it
		// deleted.
		if checkCancel && redoUntil <= j.LastRow {
			if err := s.withRetry(ops, j, func(ctx context.Context) (err error) {
				j.CancelRequested, err = s.store.CancelRequested(ctx, j)
				return err
			}); err != nil {
				return "", "", err
			}
			if j.CancelRequested {
				return storage.JobCancelled, "", nil
			}
			checkCancel = false
		}
		var readErr error
		batch, readErr = readBatch(src, c, batch, s.cfg.BatchSize)
		if readErr != nil && !errors.Is(readErr, io.EOF) {
			return "", "", readErr
		}
		redo := len(batch) > 0 && batch[0].num <= redoUntil
		if err := s.withRetry(ops, j, func(ctx context.Context) error {
			err := s.deleteBatch(ctx, j, m, batch, sections, redo)
			redo = true // a retried batch reads back what its failed try stored
			return err
		}); err != nil {
			return "", "", err
		}
		if readErr != nil {
			return storage.JobSucceeded, "", nil
		}
		// Checkpoints are timed, not per batch: on MongoDB a batch takes
		// tens of milliseconds, and a checkpoint per batch would be a
		// third of the job's commands. Batches done since the last one are
		// redone exactly after a crash (their outcomes are read back).
		if time.Since(lastCheckpoint) >= s.cfg.CheckpointInterval || j.LeaseExpiresAt == nil || time.Until(*j.LeaseExpiresAt) <= s.cfg.Lease/2 {
			if err := s.checkpoint(ops, j); err != nil {
				return "", "", err
			}
			checkCancel, lastCheckpoint = true, time.Now()
		}
	}
}

// withRetry runs f until it succeeds, fails for good, or the job's lease
// (which cannot be renewed while the store is away) is about to run out.
// Each try is bounded by that moment, so nothing this worker sends can land
// after another worker may have taken the job over.
func (s *Service) withRetry(ops context.Context, j *storage.Job, f func(context.Context) error) error {
	backoff := 100 * time.Millisecond
	for {
		if j.LeaseExpiresAt == nil {
			return errLeaseLost
		}
		deadline := s.leaseDeadline(j)
		if time.Until(deadline) <= 0 {
			return errLeaseLost
		}
		ctx, cancel := context.WithDeadline(ops, deadline)
		err := f(ctx)
		cancel()
		if err == nil || ops.Err() != nil || !(storage.IsTransient(err) || errors.Is(err, context.DeadlineExceeded)) {
			return err
		}
		if time.Until(deadline) <= 0 {
			return errLeaseLost
		}
		s.logger.WarnContext(ops, "store unavailable; retrying", "job_id", j.ID.Hex(), "retry_in", backoff.String(), "error", err)
		select {
		case <-ops.Done():
			return ops.Err()
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// leaseDeadline is when this worker must stop writing for a job: a quarter
// of the lease before it expires, a margin for clock skew between instances
// and for calls still in flight.
func (s *Service) leaseDeadline(j *storage.Job) time.Time {
	return j.LeaseExpiresAt.Add(-s.cfg.Lease / 4)
}

// keepLease renews the job's lease when less than half of it is left; long
// reads between batches (counting or skipping rows) call it.
func (s *Service) keepLease(ops context.Context, j *storage.Job) error {
	if j.LeaseExpiresAt != nil && time.Until(*j.LeaseExpiresAt) > s.cfg.Lease/2 {
		return nil
	}
	return s.checkpoint(ops, j)
}

// checkpoint saves the job's counts and renews its lease, retrying while
// the lease lasts.
func (s *Service) checkpoint(ops context.Context, j *storage.Job) error {
	return s.withRetry(ops, j, func(ctx context.Context) error {
		return s.store.SaveProgress(ctx, j, s.cfg.Lease)
	})
}

// deleteBatch resolves a batch, records every row's outcome, then deletes
// the matched profiles, and adds the batch to the job's counts. Outcomes go
// first: if the delete is interrupted, the redo reads back what the batch
// had decided (redo) instead of finding its profiles already gone.
func (s *Service) deleteBatch(ctx context.Context, j *storage.Job, m matcher, batch []row, sections map[string]int64, redo bool) error {
	if len(batch) == 0 {
		return nil
	}
	work := slices.Clone(batch)
	if redo {
		if err := s.readBack(ctx, j, work); err != nil {
			return err
		}
	}
	if err := m.resolve(ctx, j.AccountID, work, !s.cfg.DisableHints); err != nil {
		return err
	}
	s.hashMatches(j.AccountID, work)
	outcomes := make([]storage.Outcome, len(work))
	var targets []storage.Match
	for i, r := range work {
		outcomes[i] = outcomeOf(r, j.ID.Hex(), j.AccountID)
		if r.match != nil {
			targets = append(targets, *r.match)
		}
	}
	if err := s.store.InsertOutcomes(ctx, outcomes); err != nil {
		return err
	}
	if err := s.fault(FaultAfterOutcomes); err != nil {
		return err
	}
	// From here on the batch must be finished, not failed: its outcomes
	// say DELETED, and a failed job would leave them (and the trail)
	// wrong. An error that retrying here cannot fix hands the job back, to
	// be redone from the stored outcomes when its lease expires.
	if err := s.deleteTargets(ctx, j, targets, redo); err != nil {
		return handBack(err)
	}
	// Recorded once the profiles are gone, so the trail never claims an
	// erasure that did not happen; a redone batch records what is missing.
	err := s.store.RecordErasures(ctx, s.erasures(j, work))
	if err == nil {
		err = s.fault(FaultAfterErasures)
	}
	if err != nil {
		return handBack(err)
	}
	tally(&j.Counts, sections, work, true)
	j.Sections = sectionList(sections)
	j.LastRow = work[len(work)-1].num
	return nil
}

// deleteTargets deletes a batch's matched profiles. When fewer are deleted
// than matched — normal in a redo, or when someone else deleted some in
// between — it looks for survivors and deletes them again: a multi-delete
// on a sharded cluster can miss documents that a chunk migration moves
// while it runs, and a batch must not report DELETED for a profile that
// exists.
func (s *Service) deleteTargets(ctx context.Context, j *storage.Job, targets []storage.Match, redo bool) error {
	n, err := s.store.DeleteProfiles(ctx, j.AccountID, targets)
	if err == nil {
		err = s.fault(FaultAfterDelete)
	}
	if err != nil || n == int64(len(targets)) {
		return err
	}
	for try := 0; ; try++ {
		left, err := s.store.RemainingProfiles(ctx, j.AccountID, targets)
		if err != nil || len(left) == 0 {
			return err
		}
		if try == 3 {
			return fmt.Errorf("%d profiles still exist after deleting them %d times", len(left), try+1)
		}
		s.logger.WarnContext(ctx, "profiles survived their batch's delete; deleting them again", "job_id", j.ID.Hex(), "left", len(left), "redo", redo)
		if _, err := s.store.DeleteProfiles(ctx, j.AccountID, left); err != nil {
			return err
		}
		targets = left
	}
}

// readBack fills the rows of a batch that already have a stored outcome
// with it, so that resolve leaves them as they were decided.
func (s *Service) readBack(ctx context.Context, j *storage.Job, batch []row) error {
	first, last := batch[0].num, batch[len(batch)-1].num
	stored, err := s.store.ListOutcomes(ctx, j.AccountID, j.ID.Hex(), first-1, len(batch), nil)
	if err != nil {
		return fmt.Errorf("read back batch: %w", err)
	}
	byRow := make(map[int64]storage.Outcome, len(stored))
	for _, o := range stored {
		if o.Row <= last {
			byRow[o.Row] = o
		}
	}
	for i := range batch {
		o, ok := byRow[batch[i].num]
		if !ok {
			continue
		}
		r := &batch[i]
		r.outcome, r.reason, r.dupOf, r.hint, r.normalized = o.Outcome, o.Reason, o.DuplicateOfRow, o.Hint, o.Normalized
		if o.Outcome == storage.OutcomeDeleted {
			r.match = &storage.Match{ID: o.ProfileID, Sections: o.Sections}
			if j.Kind != storage.KindProfile {
				// The profile's key is the row's value (outcomes stored
				// before the hashes were kept need it).
				r.match.KeyType, r.match.KeyValue = j.IdentifierType, o.Normalized
			}
			r.keyHash, r.profileHash = o.KeyHash, o.ProfileHash
		}
	}
	return nil
}

// jobSource opens a job's rows. For a file it first reads the whole file
// once to count its rows: a file that cannot be read to the end fails here,
// before anything is deleted, and progress can be given as a percentage.
func (s *Service) jobSource(ctx context.Context, j *storage.Job, m matcher) (rowSource, error) {
	switch j.Kind {
	case storage.KindProfile:
		return &listSource{items: []string{j.ProfileID}}, nil
	case storage.KindList:
		items, err := s.store.LoadItems(ctx, j)
		if err != nil {
			return nil, err
		}
		j.Counts.TotalRows = int64(len(items))
		return &listSource{items: items}, nil
	case storage.KindFile:
		src := FileSource{
			UploadID:     j.UploadID,
			Options:      FileOptions{Sheet: j.Sheet, Header: parseHeaderMode(j.HeaderMode)},
			ColumnName:   j.ColumnName,
			ColumnNumber: j.ColumnNumber,
		}
		if j.Counts.TotalRows == 0 {
			total, err := s.countRows(ctx, j, src, m)
			if err != nil {
				return nil, err
			}
			j.Counts.TotalRows = total
			if err := s.checkpoint(ctx, j); err != nil {
				return nil, err
			}
		}
		return s.openSource(ctx, j.AccountID, src, m)
	}
	return nil, fmt.Errorf("job kind %q cannot be run by a worker", j.Kind)
}

func (s *Service) countRows(ctx context.Context, j *storage.Job, src FileSource, m matcher) (int64, error) {
	rows, err := s.openSource(ctx, j.AccountID, src, m)
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
			if err := s.keepLease(ctx, j); err != nil {
				return 0, err
			}
		}
	}
}

func parseHeaderMode(s string) HeaderMode {
	switch s {
	case "present":
		return HeaderPresent
	case "absent":
		return HeaderAbsent
	}
	return HeaderAuto
}

// sweep deletes expired uploads and expired per-row outcomes.
func (s *Service) sweep(ctx context.Context) {
	t := time.NewTicker(s.cfg.SweepInterval)
	defer t.Stop()
	for {
		if err := s.SweepOnce(ctx); err != nil && ctx.Err() == nil {
			s.logger.WarnContext(ctx, "sweep failed; retrying at the next interval", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// SweepOnce deletes what has expired now: uploads no job took, and per-row
// outcomes past their retention.
func (s *Service) SweepOnce(ctx context.Context) error {
	now := time.Now()
	n, err := s.store.DeleteExpiredUploads(ctx, now)
	if err != nil {
		return err
	}
	if n > 0 {
		s.logger.InfoContext(ctx, "expired uploads deleted", "uploads", n)
	}
	if n, err := s.store.DeleteItemsOfEndedJobs(ctx); err != nil {
		return err
	} else if n > 0 {
		s.logger.InfoContext(ctx, "identifiers of ended list jobs deleted", "jobs", n)
	}
	for {
		jobs, err := s.store.JobsWithExpiredOutcomes(ctx, now, 100)
		if err != nil {
			return err
		}
		for i := range jobs {
			if err := s.store.DeleteOutcomes(ctx, jobs[i].AccountID, jobs[i].ID.Hex()); err != nil {
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
