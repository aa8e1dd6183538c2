package deletion

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/erasure-dev/erasure/internal/identifier"
	"github.com/erasure-dev/erasure/internal/job"
)

// Preview is what a job would do. Nothing was changed.
type Preview struct {
	// Action is what the previewed job would do.
	Action job.Action
	Counts job.Counts
	// Sections are the per-section counts of the sections the caller may
	// see.
	Sections []job.SectionCount
	// InvalidSamples are the first invalid rows, to fix before executing.
	InvalidSamples []job.RowOutcome
	// HintSamples are the first rows not found that have a hint: why
	// nothing matched them.
	HintSamples []job.RowOutcome
	HasHeader   bool
	// HiddenSectionProfiles is, when the caller sees only some sections,
	// how many matched profiles also hold data in sections the caller
	// cannot see: deleting removes it there too.
	HiddenSectionProfiles int64
	// OtherKeyTypeRows are the rows not found whose value is the Unique
	// Identifier of a profile of another type: they would match only with
	// that type chosen.
	OtherKeyTypeRows int64
	// AlreadyErasedRows are the rows not found because an earlier job
	// erased their profile.
	AlreadyErasedRows int64
	// Warnings are mistakes the preview suspects, to look at before
	// executing.
	Warnings []Warning
}

// Warning is a mistake a preview suspects.
type Warning struct {
	// Reason is stable, for programs to branch on.
	Reason string
	// Message says what looks wrong and what to do.
	Message string
}

// Warning reasons.
const (
	// WarnTypeMismatch: the values look like identifiers of another type
	// than the one chosen.
	WarnTypeMismatch = "IDENTIFIER_TYPE_MISMATCH"
	// WarnOtherKeyType: rows would match only under another identifier
	// type.
	WarnOtherKeyType = "MATCHES_OTHER_KEY_TYPE"
)

const maxSamples = 10

// Preview reads the whole file and resolves every row against the account's
// profiles, deciding each as the task would, without changing anything.
func (s *Service) Preview(ctx context.Context, by Caller, src FileSource, spec Spec, task Task) (*Preview, error) {
	pr, err := s.startPreview(ctx, by, spec, task, job.FromFile)
	if err != nil {
		return nil, err
	}
	rows, err := s.openFileColumn(ctx, by.AccountID, src, pr.match)
	if err != nil {
		return nil, err
	}
	defer rows.close()
	pr.rowsAtMost = rows.rowsAtMost()
	p, err := pr.run(ctx, rows, rows.label)
	if err != nil {
		return nil, err
	}
	p.HasHeader = rows.sh.hasHeader
	if p.Counts.Rows == 0 {
		return nil, noRows(rows.sh.hasHeader)
	}
	if w, ok := pr.typeMismatch(rows.label); ok {
		w.Message += s.betterColumn(ctx, by.AccountID, src, spec.Type, rows.col)
		p.Warnings = append(p.Warnings, w)
	}
	return p, nil
}

// PreviewList resolves an inline list as StartList would run it, without
// changing anything.
func (s *Service) PreviewList(ctx context.Context, by Caller, values []string, spec Spec, task Task) (*Preview, error) {
	pr, err := s.startPreview(ctx, by, spec, task, job.FromList)
	if err != nil {
		return nil, err
	}
	if err := s.checkList(values); err != nil {
		return nil, err
	}
	pr.rowsAtMost = int64(len(values))
	p, err := pr.run(ctx, &listSource{items: values}, "list")
	if err != nil {
		return nil, err
	}
	if w, ok := pr.typeMismatch("list"); ok {
		p.Warnings = append(p.Warnings, w)
	}
	return p, nil
}

// noRows is the refusal of a file without data rows, at preview and at
// execution alike.
func noRows(hasHeader bool) error {
	if hasHeader {
		return invalidf("the file has a header row but no rows below it; put one identifier per row under the header").because("FILE_HAS_NO_ROWS")
	}
	return invalidf("the file has no rows; put one identifier per row").because("FILE_HAS_NO_ROWS")
}

// previewRun is one preview: what it checks rows against, and what it saw.
type previewRun struct {
	s     *Service
	by    Caller
	spec  Spec
	task  Task
	match matcher
	act   action
	// present counts the rows with a value; looksEmail and looksPhone
	// those whose value is a valid e-mail address or phone number.
	present, looksEmail, looksPhone int64
	// rowsAtMost bounds the rows the preview reads, 0 if unknown: it sizes
	// the duplicate check, which otherwise grows as it goes.
	rowsAtMost int64
}

func (s *Service) startPreview(ctx context.Context, by Caller, spec Spec, task Task, kind job.Kind) (*previewRun, error) {
	if err := checkAccount(by.AccountID); err != nil {
		return nil, err
	}
	task, err := task.check(by)
	if err != nil {
		return nil, err
	}
	if err := s.requireFeature(ctx, by.AccountID, task.feature(kind)); err != nil {
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
	return &previewRun{s: s, by: by, spec: spec, task: task, match: m, act: act}, nil
}

func (pr *previewRun) run(ctx context.Context, rows rowSource, label string) (*Preview, error) {
	s, accountID := pr.s, pr.by.AccountID
	hints := !s.cfg.DisableHints
	p := &Preview{Action: pr.task.Action}
	sections := sectionTotals{}
	// The bound can be far above the rows (line breaks inside cells, blank
	// lines): past a few million the set grows as the rows come instead.
	c := newClassifier(pr.match.norm, label, min(pr.rowsAtMost, 1<<22))
	defer c.release()
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
		if err := pr.match.resolve(ctx, accountID, batch, hints, pr.act.consents()); err != nil {
			return nil, err
		}
		if hints {
			if err := s.hintErased(ctx, accountID, pr.match, batch); err != nil {
				return nil, err
			}
		}
		pr.act.decide(batch)
		tally(&p.Counts, sections, batch, false)
		if pr.task.Action == job.Delete {
			p.HiddenSectionProfiles += countHidden(batch, pr.by.Sections)
		}
		for _, r := range batch {
			pr.look(r)
			switch {
			case r.outcome == job.Invalid && len(p.InvalidSamples) < maxSamples:
				p.InvalidSamples = append(p.InvalidSamples, sampleOf(r))
			case r.outcome == job.NotFound && r.hint != "" && len(p.HintSamples) < maxSamples:
				p.HintSamples = append(p.HintSamples, sampleOf(r))
			}
			if r.otherKey && !r.erased {
				p.OtherKeyTypeRows++
			}
			if r.erased {
				p.AlreadyErasedRows++
			}
		}
		if readErr != nil {
			break
		}
	}
	p.Counts.TotalRows = p.Counts.Rows
	p.Sections = visibleSections(pr.by, sections.list())
	if p.OtherKeyTypeRows > 0 {
		p.Warnings = append(p.Warnings, Warning{Reason: WarnOtherKeyType, Message: fmt.Sprintf(
			"%d rows match no profile keyed by %s, but a profile keyed by another type has their value as its identifier; only a deletion by that type removes those (see hint_samples)",
			p.OtherKeyTypeRows, displayName(pr.spec.Type))})
	}
	return p, nil
}

// look counts what a row's value looks like, whatever type was chosen.
func (pr *previewRun) look(r row) {
	v := strings.TrimSpace(r.value)
	if v == "" {
		return
	}
	pr.present++
	if identifier.Valid(identifier.Email, v, "") {
		pr.looksEmail++
	} else if identifier.Valid(identifier.Phone, v, pr.spec.DefaultRegion) {
		pr.looksPhone++
	}
}

// typeMismatch warns when most values look like identifiers of another
// type than the one chosen: an e-mail column run as phone numbers (every
// row invalid) or as CRM IDs (every row valid, none found).
func (pr *previewRun) typeMismatch(column string) (Warning, bool) {
	chosen := pr.spec.Type
	var looks identifier.Type
	var n int64
	switch {
	case chosen != identifier.Email && 2*pr.looksEmail > pr.present:
		looks, n = identifier.Email, pr.looksEmail
	case chosen != identifier.Phone && 2*pr.looksPhone > pr.present:
		looks, n = identifier.Phone, pr.looksPhone
	default:
		return Warning{}, false
	}
	what := map[identifier.Type]string{identifier.Email: "e-mail addresses", identifier.Phone: "phone numbers", identifier.CRMID: "CRM IDs"}
	return Warning{Reason: WarnTypeMismatch, Message: fmt.Sprintf(
		"the values of %s look like %s (%d of %d), not %s: choose %s as the Unique Identifier if the profiles were created with it",
		quoteColumn(column), what[looks], n, pr.present, what[chosen], displayName(looks))}, true
}

func quoteColumn(label string) string {
	if label == "list" {
		return "the list"
	}
	if strings.HasPrefix(label, "column ") {
		return label
	}
	return fmt.Sprintf("column %q", label)
}

// betterColumn names the file's column that looks most like type t, when
// it is not the column read (col, 0-based), as the end of a warning.
func (s *Service) betterColumn(ctx context.Context, accountID string, src FileSource, t identifier.Type, col int) string {
	in, err := s.Inspect(ctx, accountID, src.UploadID, src.Options)
	if err != nil {
		return ""
	}
	for _, sg := range in.Suggestions {
		if sg.Type != t || sg.ColumnNumber == col+1 || (sg.ValidSamples == 0 && t != identifier.CRMID) {
			continue
		}
		c := in.Columns[sg.ColumnNumber-1]
		name := fmt.Sprintf("column %d (%s)", c.Number, c.Letter)
		if c.Name != "" && !looksLikeIdentifier(c.Name) {
			name = fmt.Sprintf("column %d %q", c.Number, c.Name)
		}
		return fmt.Sprintf(", or the column that holds them: %s looks like it", name)
	}
	return ""
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

// sampleOf is a row shown in a preview: its value cut short, as any value
// the service echoes.
func sampleOf(r row) job.RowOutcome {
	o := outcomeOf(r)
	o.Value = clip(o.Value)
	return o
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
