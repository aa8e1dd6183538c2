package deletion

import (
	"context"
	"fmt"
	"time"

	"github.com/erasure-dev/erasure/internal/job"
	"github.com/erasure-dev/erasure/internal/profile"
)

// deleteAction deletes the matched profiles (the document, and with it the
// profile's data in every section) and records an erasure per deleted row.
type deleteAction struct{ s *Service }

func (deleteAction) consents() bool { return false }

func (deleteAction) decide(batch []row) {
	for i := range batch {
		if w := &batch[i]; w.outcome == 0 && w.match != nil {
			w.outcome, w.sections = job.Deleted, w.match.Sections
		}
	}
}

func (a deleteAction) apply(ctx context.Context, r *run, batch []row, redo bool) error {
	var targets []profile.Match
	for _, w := range batch {
		if w.match != nil {
			targets = append(targets, *w.match)
		}
	}
	if err := a.deleteTargets(ctx, r, targets, redo); err != nil {
		return handBack(err)
	}
	// Recorded once the profiles are gone, so the trail never claims an
	// erasure that did not happen; a redone batch records what is missing.
	err := a.s.store.RecordErasures(ctx, r.job.AccountID, erasures(r.job, batch, a.s.now()))
	if err == nil {
		err = a.s.injectFault(faultAfterRecord)
	}
	if err != nil {
		return handBack(err)
	}
	return nil
}

// deleteTargets deletes a batch's matched profiles. When fewer are deleted
// than matched — normal in a redo, or when someone else deleted some in
// between — it looks for survivors and deletes them again: a multi-delete
// on a sharded cluster can miss documents that a chunk migration moves
// while it runs, and a batch must not report DELETED for a profile that
// exists.
func (a deleteAction) deleteTargets(ctx context.Context, r *run, targets []profile.Match, redo bool) error {
	store, accountID := a.s.store, r.job.AccountID
	n, err := store.DeleteProfiles(ctx, accountID, targets)
	if err == nil {
		err = a.s.injectFault(faultAfterChange)
	}
	if err != nil || n == int64(len(targets)) {
		return err
	}
	for try := 0; ; try++ {
		left, err := store.RemainingProfiles(ctx, accountID, targets)
		if err != nil || len(left) == 0 {
			return err
		}
		if try == 3 {
			return fmt.Errorf("%d profiles still exist after deleting them %d times", len(left), try+1)
		}
		r.log.WarnContext(ctx, "profiles survived their batch's delete; deleting them again", "left", len(left), "redo", redo)
		if _, err := store.DeleteProfiles(ctx, accountID, left); err != nil {
			return err
		}
		targets = left
	}
}

// erasures returns the erasure records of a batch's deleted rows.
func erasures(j *job.Job, batch []row, now time.Time) []job.Erasure {
	var out []job.Erasure
	at := now.UTC().Truncate(time.Millisecond)
	for _, w := range batch {
		if w.outcome != job.Deleted || w.match == nil {
			continue
		}
		out = append(out, recordOf(j, w, at))
	}
	return out
}

// recordOf is the audit record of what a job did to row w's profile at at:
// job, row, time, and the keyed hashes of the profile's identifier and id.
func recordOf(j *job.Job, w row, at time.Time) job.Erasure {
	return job.Erasure{JobID: j.ID, JobKind: j.Kind, Row: w.num, At: at, KeyHash: w.keyHash, ProfileHash: w.profileHash}
}

// matchOf is the profile a stored outcome matched, as a redone batch needs
// it.
func matchOf(j *job.Job, o job.RowOutcome) *profile.Match {
	m := &profile.Match{ID: o.ProfileID, Sections: o.Sections}
	if j.Kind != job.FromProfile && j.Kind != job.FromSegment {
		// The profile's key is the row's value (outcomes stored before the
		// hashes were kept need it).
		m.Key = profile.Key{Type: j.IdentifierType, Value: o.Normalized}
	}
	return m
}
