package deletion

import (
	"context"
	"slices"
	"time"

	"github.com/erasure-dev/erasure/internal/job"
	"github.com/erasure-dev/erasure/internal/profile"
)

// unsubscribeAction opts out the matched profiles' consents that filter
// selects, and records an unsubscription per row that changed something.
// The profiles stay, with their data and history.
type unsubscribeAction struct {
	s      *Service
	filter profile.ConsentFilter
}

func (unsubscribeAction) consents() bool { return true }

// decide: a matched profile with a selected consent opted in is
// UNSUBSCRIBED (those consents are opted out); one with none is
// ALREADY_UNSUBSCRIBED. The row's sections are those holding a selected
// consent.
func (a unsubscribeAction) decide(batch []row) {
	for i := range batch {
		w := &batch[i]
		if w.outcome != 0 || w.match == nil {
			continue
		}
		w.sections, w.consents = nil, nil
		for _, c := range w.match.Consents {
			if !a.filter.Selects(c.ConsentRef) {
				continue
			}
			if !slices.Contains(w.sections, c.SectionID) {
				w.sections = append(w.sections, c.SectionID)
			}
			if c.Status == profile.OptIn {
				w.consents = append(w.consents, c.ConsentRef)
			}
		}
		w.outcome = job.AlreadyUnsubscribed
		if len(w.consents) > 0 {
			w.outcome = job.Unsubscribed
		}
	}
}

func (a unsubscribeAction) apply(ctx context.Context, r *run, batch []row, _ bool) error {
	var targets []profile.Match
	for _, w := range batch {
		if w.outcome == job.Unsubscribed {
			targets = append(targets, *w.match)
		}
	}
	now := a.s.now()
	err := a.s.store.OptOutConsents(ctx, r.job.AccountID, targets, a.filter, now, r.job.ID)
	if err == nil {
		err = a.s.injectFault(faultAfterChange)
	}
	if err != nil {
		return handBack(err)
	}
	err = a.s.store.RecordUnsubscriptions(ctx, r.job.AccountID, unsubscriptions(r.job, batch, now))
	if err == nil {
		err = a.s.injectFault(faultAfterRecord)
	}
	if err != nil {
		return handBack(err)
	}
	return nil
}

// unsubscriptions returns the audit records of a batch's unsubscribed rows.
func unsubscriptions(j *job.Job, batch []row, now time.Time) []job.Unsubscription {
	var out []job.Unsubscription
	at := now.UTC().Truncate(time.Millisecond)
	for _, w := range batch {
		if w.outcome != job.Unsubscribed {
			continue
		}
		out = append(out, job.Unsubscription{
			JobID:       j.ID,
			JobKind:     j.Kind,
			Row:         w.num,
			At:          at,
			KeyHash:     w.keyHash,
			ProfileHash: w.profileHash,
			Consents:    w.consents,
		})
	}
	return out
}
