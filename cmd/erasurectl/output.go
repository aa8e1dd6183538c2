package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	erasurev1 "github.com/erasure-dev/erasure/gen/erasure/v1"
)

// printJSON writes v as one indented JSON document; protobuf messages in it
// are written as protojson (the field names grpcurl prints).
func (c *cli) printJSON(v any) error {
	b, err := json.MarshalIndent(toJSON(v), "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(c.tio.out, "%s\n", b)
	return err
}

func toJSON(v any) any {
	switch v := v.(type) {
	case proto.Message:
		b, err := protojson.Marshal(v)
		if err != nil {
			return map[string]string{"error": err.Error()}
		}
		return json.RawMessage(b)
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[k] = toJSON(x)
		}
		return m
	case []proto.Message:
		l := make([]any, len(v))
		for i, x := range v {
			l[i] = toJSON(x)
		}
		return l
	}
	return v
}

// finish prints the job's end and returns the exit status its state means.
// extra holds what -o json writes next to the job (the preview).
func (c *cli) finish(j *erasurev1.Job, extra map[string]any) error {
	if c.output == "json" {
		out := map[string]any{"job": j}
		for k, v := range extra {
			out[k] = v
		}
		if err := c.printJSON(out); err != nil {
			return err
		}
	} else {
		c.printJobEnd(c.tio.out, j)
	}
	return jobExit(j)
}

// jobExit is the exit status a job's state means.
func jobExit(j *erasurev1.Job) error {
	switch j.GetState() {
	case erasurev1.JobState_JOB_STATE_FAILED:
		return &exitStatus{code: exitFailed}
	case erasurev1.JobState_JOB_STATE_CANCELLED:
		return &exitStatus{code: exitCancelled}
	case erasurev1.JobState_JOB_STATE_SUCCEEDED:
		return nil
	}
	return &exitStatus{code: exitDetached}
}

// printJobEnd says how a job ended and where its report is.
func (c *cli) printJobEnd(w io.Writer, j *erasurev1.Job) {
	n := j.GetCounts()
	fmt.Fprintf(w, "Job %s %s", j.GetJobId(), stateWord(j))
	if j.GetStartTime() != nil && j.GetFinishTime() != nil {
		fmt.Fprintf(w, " in %s", j.GetFinishTime().AsTime().Sub(j.GetStartTime().AsTime()).Round(100*time.Millisecond))
	}
	fmt.Fprintf(w, ": %s.\n", countsLine(j.GetAction(), n))
	if j.GetError() != "" {
		fmt.Fprintf(w, "Error: %s\n", j.GetError())
	}
	if j.GetState() == erasurev1.JobState_JOB_STATE_CANCELLED || j.GetState() == erasurev1.JobState_JOB_STATE_FAILED {
		if left := n.GetTotalRows() - n.GetRows(); n.GetTotalRows() > 0 && left > 0 {
			fmt.Fprintf(w, "%s never processed: nothing was done to them.\n", plural(left, "row was", "rows were"))
		}
	}
	fmt.Fprintf(w, "Report: erasurectl report %s (add --csv FILE for every row)\n", j.GetJobId())
}

// countsLine sums a job's counts in words, the action's own first.
func countsLine(a erasurev1.JobAction, n *erasurev1.Counts) string {
	var parts []string
	add := func(v int64, what string) {
		if v > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", v, what))
		}
	}
	parts = append(parts, plural(n.GetRows(), "row", "rows"))
	if a == erasurev1.JobAction_JOB_ACTION_UNSUBSCRIBE {
		add(n.GetUnsubscribed(), "unsubscribed")
		add(n.GetAlreadyUnsubscribed(), "already unsubscribed")
	} else {
		parts = append(parts, plural(n.GetDeleted(), "profile deleted", "profiles deleted"))
	}
	add(n.GetNotFound(), "not found")
	add(n.GetNoLongerMatching(), "no longer matching")
	add(n.GetInvalid(), "invalid")
	add(n.GetDuplicate(), "duplicate")
	return strings.Join(parts, ", ")
}

// printPreview shows what the action would do.
func (c *cli) printPreview(r *request, what string, st *erasurev1.PreviewStatus) {
	w := c.tio.out
	var (
		counts   *erasurev1.Counts
		sections []*erasurev1.SectionCount
		invalid  []*erasurev1.RowOutcome
		hints    []*erasurev1.RowOutcome
		warnings []*erasurev1.PreviewWarning
		other    int64
		erased   int64
	)
	if d := st.GetDeletion(); d != nil {
		counts, sections, invalid, hints, warnings, other, erased = d.GetCounts(), d.GetSections(), d.GetInvalidSamples(), d.GetHintSamples(), d.GetWarnings(), d.GetOtherKeyTypeRows(), d.GetAlreadyErasedRows()
	} else {
		u := st.GetUnsubscribe()
		counts, sections, invalid, hints, warnings, other, erased = u.GetCounts(), u.GetSections(), u.GetInvalidSamples(), u.GetHintSamples(), u.GetWarnings(), u.GetOtherKeyTypeRows(), u.GetAlreadyErasedRows()
	}
	t, _ := identifierType(r.idType)
	fmt.Fprintf(w, "Preview: %s by %s, matched by %s (nothing is changed yet)\n", r.verb(), what, typeWords(t))
	row := func(label string, v int64, note string) {
		fmt.Fprintln(w, strings.TrimRight(fmt.Sprintf("  %-15s %10d  %s", label, v, note), " "))
	}
	row("rows", counts.GetRows(), "")
	row("valid", counts.GetValid(), "")
	row("invalid", counts.GetInvalid(), "")
	row("duplicate", counts.GetDuplicate(), "")
	if r.unsubscribe {
		row("matched", counts.GetMatched(), "")
		row("to unsubscribe", counts.GetUnsubscribed(), "profiles with an opted-in consent to opt out")
		row("already", counts.GetAlreadyUnsubscribed(), "profiles with nothing to opt out")
	} else {
		row("matched", counts.GetMatched(), "profiles to delete, with all their data")
	}
	row("not found", counts.GetNotFound(), "")
	if len(sections) > 0 {
		fmt.Fprintln(w, "Sections the matched profiles hold data in:")
		for _, s := range sections {
			note := ""
			if r.unsubscribe {
				note = fmt.Sprintf("%d to opt out", s.GetUnsubscribed())
			}
			row(s.GetSectionId(), s.GetProfiles(), note)
		}
	}
	if d := st.GetDeletion(); d.GetHiddenSectionProfiles() > 0 {
		fmt.Fprintf(w, "%s also hold data in sections your token does not show; deleting removes that data too.\n", plural(d.GetHiddenSectionProfiles(), "matched profile", "matched profiles"))
	}
	if other > 0 {
		fmt.Fprintf(w, "%s matched nothing as %s but are the identifier of a profile of another type.\n", plural(other, "row", "rows"), typeWords(t))
	}
	if erased > 0 {
		fmt.Fprintf(w, "%s matched nothing because an earlier job erased their profile.\n", plural(erased, "row", "rows"))
	}
	for _, x := range warnings {
		fmt.Fprintf(w, "Warning: %s\n", x.GetMessage())
	}
	if len(invalid) > 0 {
		fmt.Fprintln(w, "First invalid rows:")
		for _, o := range invalid {
			fmt.Fprintf(w, "  row %d: %s\n", o.GetRow(), o.GetReason())
		}
	}
	if len(hints) > 0 {
		fmt.Fprintln(w, "Rows that matched nothing, with a likely reason:")
		for _, o := range hints {
			fmt.Fprintf(w, "  row %d: %s\n", o.GetRow(), o.GetHint())
		}
	}
}

// typeWords is how an identifier type reads in a sentence.
func typeWords(t erasurev1.IdentifierType) string {
	switch t {
	case erasurev1.IdentifierType_IDENTIFIER_TYPE_EMAIL:
		return "e-mail address"
	case erasurev1.IdentifierType_IDENTIFIER_TYPE_PHONE:
		return "phone number"
	case erasurev1.IdentifierType_IDENTIFIER_TYPE_CRM_ID:
		return "CRM ID"
	}
	return "profile id"
}

// plural is "1 row" or "2 rows".
func plural(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
