package deletion

import (
	"context"
	"errors"
	"io"
	"slices"

	"github.com/erasure-dev/erasure/internal/job"
)

// Preview is what a job by a file would do. Nothing was changed.
type Preview struct {
	Counts job.Counts
	// Sections are the per-section counts of the sections the caller may
	// see.
	Sections []job.SectionCount
	// InvalidSamples are the first invalid rows, to fix before executing.
	InvalidSamples []job.RowOutcome
	HasHeader      bool
	// HiddenSectionProfiles is, when the caller sees only some sections,
	// how many matched profiles also hold data in sections the caller
	// cannot see: deleting removes it there too.
	HiddenSectionProfiles int64
}

const maxInvalidSamples = 10

// Preview reads the whole file and resolves every row against the account's
// profiles, deciding each as the task would, without changing anything.
func (s *Service) Preview(ctx context.Context, by Caller, src FileSource, spec Spec, task Task) (*Preview, error) {
	accountID := by.AccountID
	if err := checkAccount(accountID); err != nil {
		return nil, err
	}
	task, err := task.check(by)
	if err != nil {
		return nil, err
	}
	if err := s.requireFeature(ctx, accountID, task.feature(job.FromFile)); err != nil {
		return nil, err
	}
	act, err := s.actionFor(&job.Job{Action: task.Action, Unsubscribe: task.Unsubscribe})
	if err != nil {
		return nil, err
	}
	m, err := s.keyMatcher(spec)
	if err != nil {
		return nil, err
	}
	rows, err := s.openFileColumn(ctx, accountID, src, m)
	if err != nil {
		return nil, err
	}
	defer rows.close()

	p := &Preview{HasHeader: rows.sh.hasHeader}
	sections := sectionTotals{}
	c := newClassifier(m.norm, rows.label, 0)
	batch := make([]row, 0, s.cfg.BatchSize)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var readErr error
		batch, readErr = readBatch(rows, c, batch, s.cfg.BatchSize)
		if readErr != nil && !errors.Is(readErr, io.EOF) {
			return nil, readErr
		}
		if err := m.resolve(ctx, accountID, batch, false, act.consents()); err != nil {
			return nil, err
		}
		act.decide(batch)
		tally(&p.Counts, sections, batch, false)
		if task.Action == job.Delete {
			p.HiddenSectionProfiles += countHidden(batch, by.Sections)
		}
		for _, r := range batch {
			if r.outcome == job.Invalid && len(p.InvalidSamples) < maxInvalidSamples {
				p.InvalidSamples = append(p.InvalidSamples, outcomeOf(r))
			}
		}
		if readErr != nil {
			break
		}
	}
	p.Counts.TotalRows = p.Counts.Rows
	p.Sections = visibleSections(by, sections.list())
	return p, nil
}

// countHidden returns how many matched rows' profiles hold data in a
// section outside visible; none when visible is empty (all are visible).
func countHidden(batch []row, visible []string) int64 {
	if len(visible) == 0 {
		return 0
	}
	var n int64
	for _, r := range batch {
		if r.outcome != job.Deleted || r.match == nil {
			continue
		}
		if slices.ContainsFunc(r.match.Sections, func(sec string) bool { return !slices.Contains(visible, sec) }) {
			n++
		}
	}
	return n
}

// outcomeOf is the outcome of a decided row.
func outcomeOf(r row) job.RowOutcome {
	o := job.RowOutcome{
		Row:            r.num,
		Value:          r.value,
		Normalized:     r.normalized,
		Outcome:        r.outcome,
		Reason:         r.reason,
		DuplicateOfRow: r.dupOf,
		Hint:           r.hint,
	}
	if r.match != nil {
		o.ProfileID, o.Sections, o.Consents = r.match.ID, r.sections, r.consents
		o.KeyHash, o.ProfileHash = r.keyHash, r.profileHash
	}
	return o
}
