package deletion

import (
	"bufio"
	"context"
	"io"
	"path"
	"strconv"
	"strings"
	"unicode"

	"github.com/erasure-dev/erasure/internal/job"
	"github.com/erasure-dev/erasure/internal/profile"
)

// ReportSamples is how many rows of each outcome a report summary holds.
const ReportSamples = 10

// Report is a job's report summary: what the import history shows for it.
type Report struct {
	View job.View
	// Outcomes has one entry per outcome with a count above zero, the
	// job's own outcomes first (see outcomeOrder).
	Outcomes []OutcomeSummary
	// RowsNotProcessed is how many rows a cancelled or failed job never
	// reached; set only for such a job whose row total is known.
	RowsNotProcessed *int64
	// OutcomesPurged says the per-row outcomes were deleted by retention:
	// the counts remain, no outcome has rows.
	OutcomesPurged bool
}

// OutcomeSummary is one outcome of a job: its count and its first rows.
type OutcomeSummary struct {
	Outcome job.Outcome
	// Count is the job's count of the outcome, as of its last checkpoint.
	Count int64
	// First are the first ReportSamples rows with the outcome, in row order.
	First []job.RowOutcome
}

// outcomeOrder is the order of a summary's outcomes: what the job did
// first, then why other rows were left alone.
func outcomeOrder(j *job.Job) []job.Outcome {
	switch {
	case j.Action == job.Unsubscribe:
		return []job.Outcome{job.Unsubscribed, job.AlreadyUnsubscribed, job.NotFound, job.Invalid, job.Duplicate}
	case j.Kind == job.FromSegment:
		return []job.Outcome{job.Deleted, job.NoLongerMatches, job.NotFound, job.Invalid, job.Duplicate}
	}
	return []job.Outcome{job.Deleted, job.NotFound, job.Invalid, job.Duplicate}
}

func countOf(c job.Counts, o job.Outcome) int64 {
	switch o {
	case job.NoLongerMatches:
		return c.NoLongerMatching
	case job.Deleted:
		return c.Deleted
	case job.NotFound:
		return c.NotFound
	case job.Invalid:
		return c.Invalid
	case job.Duplicate:
		return c.Duplicate
	case job.Unsubscribed:
		return c.Unsubscribed
	case job.AlreadyUnsubscribed:
		return c.AlreadyUnsubscribed
	}
	return 0
}

// reportHead is how many rows from a job's start a summary reads at once:
// in most jobs they hold the first rows of every outcome that occurred, and
// in a small job all of its rows.
const reportHead = 200

// Report returns the job's report summary (see erasure.v1 GetJobReport).
// The counts come from the job. The samples cost one query for the job's
// first reportHead rows, and one more for each outcome those rows hold
// fewer than ReportSamples of but the job has more of, starting after them
// (see storage's ListOutcomes for what each costs).
func (s *Service) Report(ctx context.Context, by Caller, jobID string) (*Report, error) {
	v, err := s.GetJob(ctx, by, jobID)
	if err != nil {
		return nil, err
	}
	j := &v.Job
	r := &Report{View: v, OutcomesPurged: j.OutcomesPurged}
	// A file job's total is zero until its rows were counted; a list's is
	// known when it is queued.
	if (j.State == job.Cancelled || j.State == job.Failed) && j.Counts.TotalRows > 0 {
		n := max(j.Counts.TotalRows-j.Counts.Rows, 0)
		r.RowsNotProcessed = &n
	}
	for _, o := range outcomeOrder(j) {
		if n := countOf(j.Counts, o); n > 0 {
			r.Outcomes = append(r.Outcomes, OutcomeSummary{Outcome: o, Count: n})
		}
	}
	if r.OutcomesPurged || len(r.Outcomes) == 0 {
		return r, nil
	}
	head, err := s.store.ListOutcomes(ctx, j.AccountID, j.ID, 0, outcomeEnd(j), reportHead, nil)
	if err != nil {
		return nil, err
	}
	missing := false
	for i := range r.Outcomes {
		sum := &r.Outcomes[i]
		for _, o := range head {
			if o.Outcome == sum.Outcome && len(sum.First) < ReportSamples {
				sum.First = append(sum.First, o)
			}
		}
		if len(head) == reportHead && len(sum.First) < ReportSamples && int64(len(sum.First)) < sum.Count {
			more, err := s.store.ListOutcomes(ctx, j.AccountID, j.ID, head[len(head)-1].Row, outcomeEnd(j), ReportSamples-len(sum.First), []job.Outcome{sum.Outcome})
			if err != nil {
				return nil, err
			}
			sum.First = append(sum.First, more...)
		}
		for k := range sum.First {
			sum.First[k].Consents = visibleConsents(by, sum.First[k].Consents)
		}
		missing = missing || len(sum.First) == 0
	}
	if missing && j.State.Terminal() {
		// Counted rows without outcomes: the sweeper may have deleted them
		// since the job was read. Say so rather than show nothing.
		again, err := s.getJob(ctx, by.AccountID, jobID)
		if err != nil {
			return nil, err
		}
		if again.OutcomesPurged {
			r.View.Job.OutcomesPurged, r.OutcomesPurged = true, true
			for i := range r.Outcomes {
				r.Outcomes[i].First = nil
			}
		}
	}
	return r, nil
}

// ReportContentType is the media type of a report file.
const ReportContentType = "text/csv; charset=utf-8"

// ReportFile is a job's full report as a CSV file, checked and ready to be
// written.
type ReportFile struct {
	// Filename is a name to save the file under.
	Filename string

	s   *Service
	by  Caller
	job *job.Job
}

// ReportFile returns the job's report file, or the error to give instead:
// NotFound for a job not of the caller's account, FailedPrecondition once
// its outcomes were deleted by retention. A running job's file holds the
// rows processed when each page is read.
func (s *Service) ReportFile(ctx context.Context, by Caller, jobID string) (*ReportFile, error) {
	j, err := s.getJob(ctx, by.AccountID, jobID)
	if err != nil {
		return nil, err
	}
	if err := s.outcomesKept(j); err != nil {
		return nil, err
	}
	return &ReportFile{Filename: reportFilename(j), s: s, by: by, job: j}, nil
}

// utf8BOM starts the file, so that Excel reads it as UTF-8 and not in the
// system's code page.
const utf8BOM = "\ufeff"

// WriteCSV writes the report to w: a byte order mark, a header row and one
// row per outcome, in row order, read outcomePage rows at a time, so the
// file's size costs no memory. Lines end in CRLF. Every cell is
// neutralised (see neutralise). An error leaves w with part of the file.
func (f *ReportFile) WriteCSV(ctx context.Context, w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteString(utf8BOM)
	consents := f.job.Action == job.Unsubscribe
	rec := []string{"row", "value", "normalized", "outcome", "reason", "duplicate_of_row", "profile_id", "hint"}
	if consents {
		rec = append(rec, "consents")
	}
	writeRecord(bw, rec)
	err := f.s.eachOutcomePage(ctx, f.by, f.job, nil, func(page []job.RowOutcome) error {
		for _, o := range page {
			rec = append(rec[:0],
				strconv.FormatInt(o.Row, 10), o.Value, o.Normalized, strings.ToUpper(o.Outcome.String()),
				o.Reason, "", o.ProfileID, o.Hint)
			if o.DuplicateOfRow > 0 {
				rec[5] = strconv.FormatInt(o.DuplicateOfRow, 10)
			}
			if consents {
				rec = append(rec, consentList(o.Consents))
			}
			for i := range rec {
				rec[i] = neutralise(rec[i])
			}
			writeRecord(bw, rec)
		}
		return bw.Flush()
	})
	if err != nil {
		return err
	}
	return bw.Flush()
}

// writeRecord writes one CSV record (RFC 4180) and a CRLF. encoding/csv
// would too, but with UseCRLF it drops a carriage return inside a cell,
// and a report shows values exactly as they were read. A bufio.Writer
// keeps its first error, which Flush returns.
func writeRecord(w *bufio.Writer, rec []string) {
	for i, cell := range rec {
		if i > 0 {
			w.WriteByte(',')
		}
		// Quoted when a reader could take it otherwise: a separator, a
		// quote or a line break inside, or spaces a reader may trim.
		if !strings.ContainsAny(cell, ",\"\r\n") && strings.TrimSpace(cell) == cell {
			w.WriteString(cell)
			continue
		}
		w.WriteByte('"')
		w.WriteString(strings.ReplaceAll(cell, `"`, `""`))
		w.WriteByte('"')
	}
	w.WriteString("\r\n")
}

// neutralise makes a cell that a spreadsheet would run as a formula plain
// text by prefixing an apostrophe: one that starts with = + - @, a tab or a
// carriage return (OWASP, CSV injection). Normalized phone numbers
// ("+4670…") are such cells too: the apostrophe also keeps a spreadsheet
// from reading them as numbers and dropping the plus.
func neutralise(cell string) string {
	if cell != "" && strings.IndexByte("=+-@\t\r", cell[0]) >= 0 {
		return "'" + cell
	}
	return cell
}

// consentList writes consents as section/channel/topic (section/channel
// without a topic), separated by "; ".
func consentList(refs []profile.ConsentRef) string {
	parts := make([]string, len(refs))
	for i, c := range refs {
		parts[i] = c.SectionID + "/" + c.Channel
		if c.Topic != "" {
			parts[i] += "/" + c.Topic
		}
	}
	return strings.Join(parts, "; ")
}

// reportFilename names a job's report file: the uploaded file's name with
// "-report-<job id>.csv" for its extension, or the action and kind for a
// job without a file. Other characters than letters, digits, ".", "-" and
// "_" become "_", so the name is safe to save under in any file system.
func reportFilename(j *job.Job) string {
	stem := ""
	if j.File.Filename != "" {
		base := path.Base(strings.ReplaceAll(j.File.Filename, `\`, "/"))
		stem = strings.TrimSuffix(base, path.Ext(base))
	}
	stem = strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || r == '.' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, stem)
	stem = strings.TrimLeft(stem, ".")
	if r := []rune(stem); len(r) > 100 {
		stem = string(r[:100])
	}
	if strings.Trim(stem, "_") == "" {
		stem = j.Action.String() + "-" + j.Kind.String()
	}
	return stem + "-report-" + j.ID + ".csv"
}
