package deletion

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/erasure-dev/erasure/internal/job"
)

// The points of a batch where Service.fault is called: after its outcomes
// are stored, after its action changed the profiles, and after the action
// recorded what it did (the batch is then done but not yet counted).
const (
	faultAfterOutcomes = "after-outcomes"
	faultAfterChange   = "after-change"
	faultAfterRecord   = "after-record"
)

func (s *Service) injectFault(point string) error {
	if s.fault == nil {
		return nil
	}
	return s.fault(point)
}

// An action is what a job does to the profiles its rows matched. It is the
// one part of a job that depends on what the job is for: reading rows,
// matching them, storing outcomes, leases, checkpoints, redo, cancel and the
// audit trail's start and finish are the engine's, the same for every job.
type action interface {
	// consents reports whether decide needs the matched profiles' consents.
	consents() bool
	// decide gives every undecided row that matched a profile its
	// outcome, and the sections (and consents) it concerns.
	decide(batch []row)
	// apply changes the profiles a batch's rows matched, after every row's
	// outcome is stored, and records what it did. It may be called again
	// for the same rows (a batch redone after an interruption: redo is
	// set) and must then finish what is missing without doing anything
	// twice. An error after a change was made is wrapped with handBack.
	apply(ctx context.Context, r *run, batch []row, redo bool) error
}

// doBatch resolves a batch, records every row's outcome, then applies the
// job's action to the matched profiles, and adds the batch to the job's
// counts. Outcomes go first: if the action is interrupted, the redo reads
// back what the batch had decided (redo) instead of finding its profiles
// already changed.
func (r *run) doBatch(ctx context.Context, batch []row, redo bool) error {
	if len(batch) == 0 {
		return nil
	}
	j := r.job
	start := time.Now()
	work := slices.Clone(batch)
	if redo {
		if err := r.readBack(ctx, work); err != nil {
			return err
		}
	}
	if err := r.match.resolve(ctx, j.AccountID, work, !r.s.cfg.DisableHints, r.act.consents()); err != nil {
		return err
	}
	if !r.s.cfg.DisableHints {
		if err := r.s.hintErased(ctx, j.AccountID, r.match, work); err != nil {
			return err
		}
	}
	r.act.decide(work)
	r.s.hashMatches(j.AccountID, work)
	if err := r.storeOutcomes(ctx, work); err != nil {
		return err
	}
	if err := r.s.injectFault(faultAfterOutcomes); err != nil {
		return err
	}
	if r.s.cfg.Pause && !r.paused && j.Lease.Attempt == 1 && j.Counts.Rows >= r.s.cfg.PauseAfterRows {
		if err := r.pause(ctx); err != nil {
			return err
		}
	}
	// From here on the batch must be finished, not failed: its outcomes
	// say what was done, and a failed job would leave them (and the trail)
	// wrong. The action hands the job back on an error that retrying here
	// cannot fix, to be redone from the stored outcomes.
	if err := r.act.apply(ctx, r, work, redo); err != nil {
		return err
	}
	tally(&j.Counts, r.sections, work, true)
	j.Sections = r.sections.list()
	r.lastRow = work[len(work)-1].num
	j.LastRow = r.lastRow
	if took := time.Since(start); took > r.s.cfg.Lease*3/4 {
		// The lease is renewed between batches: a batch this long lets
		// another instance take the job over while it runs, and the job
		// goes back and forth instead of getting done.
		r.log.WarnContext(ctx, "a batch took more than three quarters of the lease, so another instance may take the job over in the middle of a batch; lower -batch-size or raise -lease",
			"took", took.Round(time.Millisecond).String(), "lease", r.s.cfg.Lease.String(), "rows", len(work), "batch_size", r.s.cfg.BatchSize)
	}
	if m := r.s.cfg.Metrics; m != nil {
		outcomes := map[string]int{}
		for _, w := range work {
			outcomes[w.outcome.String()]++
		}
		m.Batch(j.AccountID, j.Action.String(), time.Since(start), outcomes)
	}
	return nil
}

// storeOutcomes stores the outcomes of the rows of a batch that have none
// stored yet (in a redo, the rows readBack did not fill), each run of such
// rows in pages of its own, so that no row is stored twice whatever batch
// size an earlier try had.
func (r *run) storeOutcomes(ctx context.Context, batch []row) error {
	for len(batch) > 0 {
		if batch[0].stored {
			batch = batch[1:]
			continue
		}
		n := 1
		for n < len(batch) && !batch[n].stored {
			n++
		}
		outcomes := make([]job.RowOutcome, n)
		for i, w := range batch[:n] {
			outcomes[i] = outcomeOf(w)
		}
		if err := r.s.store.InsertOutcomes(ctx, r.job.AccountID, r.job.ID, outcomes); err != nil {
			return err
		}
		batch = batch[n:]
	}
	return nil
}

// readBack fills the rows of a batch that already have a stored outcome
// with it, so that resolve leaves them as they were decided.
func (r *run) readBack(ctx context.Context, batch []row) error {
	j := r.job
	first, last := batch[0].num, batch[len(batch)-1].num
	stored, err := r.s.store.ListOutcomes(ctx, j.AccountID, j.ID, first-1, last, len(batch), nil)
	if err != nil {
		return fmt.Errorf("read back batch: %w", err)
	}
	byRow := make(map[int64]job.RowOutcome, len(stored))
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
		batch[i] = rowOf(j, o)
	}
	return nil
}

// pause is the end-to-end tests' hook (Config.Pause): in the middle of a
// batch, with its outcomes stored, it saves a checkpoint and waits, keeping
// the lease, until shutdown (errInterrupted) or until someone asks the job
// to stop (then the batch goes on and the job stops after it, as a cancel
// does). Only a job's first claim pauses, so an instance that takes it over
// runs it through.
func (r *run) pause(ctx context.Context) error {
	r.paused = true
	if err := r.checkpoint(); err != nil {
		return err
	}
	r.log.WarnContext(ctx, "paused by the test hook (ERASURE_TEST_PAUSE_AFTER_ROWS) until shutdown or a cancel request", "rows", r.job.Counts.Rows)
	for {
		select {
		case <-r.stop.Done():
			return errInterrupted
		case <-time.After(100 * time.Millisecond):
		}
		if err := r.keepLease(); err != nil {
			return err
		}
		if cancelled, err := r.cancelRequested(); err != nil || cancelled {
			r.checkCancel = true
			return err
		}
	}
}

// rowOf is a row as its stored outcome says it was decided.
func rowOf(j *job.Job, o job.RowOutcome) row {
	w := row{num: o.Row, value: o.Value, normalized: o.Normalized, outcome: o.Outcome, reason: o.Reason, dupOf: o.DuplicateOfRow, hint: o.Hint, stored: true}
	if o.ProfileID != "" {
		w.match = matchOf(j, o)
		w.sections, w.consents = o.Sections, o.Consents
		w.keyHash, w.profileHash = o.KeyHash, o.ProfileHash
	}
	return w
}
