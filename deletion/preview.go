package deletion

import (
	"context"
	"errors"
	"io"

	"github.com/erasure-dev/erasure/storage"
)

// Preview is what a deletion by a file would do. Nothing was deleted.
type Preview struct {
	Counts   storage.Counts
	Sections []storage.SectionCount
	// InvalidSamples are the first invalid rows, to fix before executing.
	InvalidSamples []storage.Outcome
	HasHeader      bool
}

const maxInvalidSamples = 10

// Preview reads the whole file and resolves every row against the account's
// profiles, without deleting anything.
func (s *Service) Preview(ctx context.Context, accountID string, src FileSource, spec Spec) (*Preview, error) {
	m, err := s.keyMatcher(spec)
	if err != nil {
		return nil, err
	}
	rows, err := s.openSource(ctx, accountID, src, m)
	if err != nil {
		return nil, err
	}
	defer rows.close()

	p := &Preview{HasHeader: rows.sh.hasHeader}
	sections := make(map[string]int64)
	c := newClassifier(m.norm, rows.label)
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
		if err := m.resolve(ctx, accountID, batch, false); err != nil {
			return nil, err
		}
		tally(&p.Counts, sections, batch, false)
		for _, r := range batch {
			if r.outcome == storage.OutcomeInvalid && len(p.InvalidSamples) < maxInvalidSamples {
				p.InvalidSamples = append(p.InvalidSamples, outcomeOf(r, "", accountID))
			}
		}
		if readErr != nil {
			break
		}
	}
	p.Counts.TotalRows = p.Counts.Rows
	p.Sections = sectionList(sections)
	return p, nil
}

func outcomeOf(r row, jobID, accountID string) storage.Outcome {
	o := storage.Outcome{
		AccountID:      accountID,
		JobID:          jobID,
		Row:            r.num,
		Value:          r.value,
		Normalized:     r.normalized,
		Outcome:        r.outcome,
		Reason:         r.reason,
		DuplicateOfRow: r.dupOf,
		Hint:           r.hint,
	}
	if r.match != nil {
		o.ProfileID, o.Sections = r.match.ID, r.match.Sections
	}
	return o
}
