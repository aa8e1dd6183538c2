package deletion

import (
	"context"
	"fmt"
	"slices"

	"github.com/erasure-dev/erasure/internal/job"
	"github.com/erasure-dev/erasure/internal/profile"
)

// maxStalledClaims is how many workers in a row may take a job over and
// find it where the one before started (a batch that fails after changing
// profiles every time, or a worker that dies in it) before the job is
// ended FAILED instead of being taken over forever.
const maxStalledClaims = 5

// endStalled ends a job that made no progress in maxStalledClaims
// attempts. Its report stays exact: past the checkpoint, a row whose
// change is done (its profile is gone, or its consents are opted out) is
// kept and counted, as its erasure record is written; a row whose change
// is not done has its outcome removed and counts as not processed; rows
// decided without a change (not found, invalid, duplicate, …) are kept.
func (r *run) endStalled() (string, error) {
	j := r.job
	var reason string
	err := r.withRetry(func(ctx context.Context) error {
		from, err := r.checkpointRow(ctx)
		if err != nil {
			return err
		}
		var past []job.RowOutcome
		for after := from; ; {
			page, err := r.s.store.ListOutcomes(ctx, j.AccountID, j.ID, after, 0, 10_000, nil)
			if err != nil {
				return err
			}
			past = append(past, page...)
			if len(page) < 10_000 {
				break
			}
			after = page[len(page)-1].Row
		}
		done, err := r.changesDone(ctx, past)
		if err != nil {
			return err
		}
		var keep []row
		var drop []int64
		for _, o := range past {
			if (o.Outcome == job.Deleted || o.Outcome == job.Unsubscribed) && !done[o.Row] {
				drop = append(drop, o.Row)
				continue
			}
			keep = append(keep, rowOf(j, o))
		}
		if err := r.s.store.DeleteOutcomeRows(ctx, j.AccountID, j.ID, drop); err != nil {
			return err
		}
		deleting := j.Action == job.Delete
		if deleting {
			if err := r.s.store.RecordErasures(ctx, j.AccountID, erasures(j, keep, r.s.now())); err != nil {
				return err
			}
		}
		// Counted once the store is as the report will say; a retry
		// starts again from the checkpoint's counts.
		counts, sections := j.Counts, sectionTotalsOf(j.Sections)
		tally(&counts, sections, keep, deleting)
		j.Counts, r.sections, j.Sections = counts, sections, sections.list()
		if len(keep) > 0 {
			j.LastRow = keep[len(keep)-1].num
		}
		where := "its first batch"
		if from > 0 {
			where = fmt.Sprintf("row %d", from)
		}
		reason = fmt.Sprintf("the job stopped making progress: %d attempts in a row could not get past %s (the service's log says why); the rows after it were not processed", maxStalledClaims, where)
		return nil
	})
	return reason, err
}

// checkpointRow is the last row the job's counts include.
func (r *run) checkpointRow(ctx context.Context) (int64, error) {
	j := r.job
	if j.LastRow > 0 || j.Counts.Rows == 0 {
		return j.LastRow, nil
	}
	// A job checkpointed before the last row was kept: every counted row
	// has one outcome, so it is the row of the Counts.Rows-th.
	var n, after int64
	for {
		page, err := r.s.store.ListOutcomes(ctx, j.AccountID, j.ID, after, 0, 10_000, nil)
		if err != nil {
			return 0, err
		}
		if int64(len(page)) >= j.Counts.Rows-n {
			return page[j.Counts.Rows-n-1].Row, nil
		}
		if len(page) < 10_000 {
			return 0, fmt.Errorf("job has %d outcomes, fewer than the %d rows it counts", n+int64(len(page)), j.Counts.Rows)
		}
		n += int64(len(page))
		after = page[len(page)-1].Row
	}
}

// changesDone says which of the rows with a change outcome had it done: a
// deleted row's profile no longer exists, an unsubscribed row's profile has
// every consent the row opted out opted out.
func (r *run) changesDone(ctx context.Context, outcomes []job.RowOutcome) (map[int64]bool, error) {
	j := r.job
	var ids []string
	for _, o := range outcomes {
		if (o.Outcome == job.Deleted || o.Outcome == job.Unsubscribed) && o.ProfileID != "" {
			ids = append(ids, o.ProfileID)
		}
	}
	done := map[int64]bool{}
	if len(ids) == 0 {
		return done, nil
	}
	profiles, err := r.s.store.ProfilesByID(ctx, j.AccountID, ids)
	if err != nil {
		return nil, err
	}
	for _, o := range outcomes {
		p, exists := profiles[o.ProfileID]
		switch o.Outcome {
		case job.Deleted:
			done[o.Row] = !exists
		case job.Unsubscribed:
			done[o.Row] = exists && optedOut(p, o.Consents)
		}
	}
	return done, nil
}

// optedOut says whether every consent of refs is opted out in p.
func optedOut(p profile.Profile, refs []profile.ConsentRef) bool {
	for _, ref := range refs {
		found := false
		for _, sec := range p.Sections {
			if sec.SectionID != ref.SectionID {
				continue
			}
			found = slices.ContainsFunc(sec.Consents, func(c profile.Consent) bool {
				return c.Channel == ref.Channel && c.Topic == ref.Topic && c.Status == profile.OptOut
			})
		}
		if !found {
			return false
		}
	}
	return true
}
