package deletion

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/erasure-dev/erasure/internal/job"
	"github.com/erasure-dev/erasure/internal/profile"
	"github.com/erasure-dev/erasure/storage"
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
	var targets []storage.OptOut
	for _, w := range batch {
		if w.outcome == job.Unsubscribed {
			targets = append(targets, storage.OptOut{Profile: *w.match, Consents: w.consents})
		}
	}
	err := a.s.store.OptOutConsents(ctx, r.job.AccountID, targets, r.job.ID, a.s.now)
	var ue *storage.UnchangeableError
	if errors.As(err, &ue) {
		// Redoing cannot help: the job stops, saying which rows' profiles
		// to fix (by row: the job's error is kept for good, profile ids
		// are not).
		var problems []string
		for _, w := range batch {
			if p, ok := ue.Problems[profileID(w)]; ok && w.outcome == job.Unsubscribed {
				problems = append(problems, fmt.Sprintf("row %d: %s", w.num, p))
			}
		}
		return &Error{Kind: Invalid, Reason: "PROFILE_UNCHANGEABLE", Msg: "the profiles of some rows cannot be unsubscribed without rewriting the platform's data (" +
			strings.Join(problems, "; ") + "); the other rows of their batch were unsubscribed"}
	}
	if err == nil {
		err = a.s.injectFault(faultAfterChange)
	}
	if err != nil {
		return handBack(err)
	}
	now := a.s.now()
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
		out = append(out, job.Unsubscription{Erasure: recordOf(j, w, at), Consents: w.consents})
	}
	return out
}

// profileID is the id of the profile a row matched, or "".
func profileID(w row) string {
	if w.match == nil {
		return ""
	}
	return w.match.ID
}
