package server_test

import (
	"context"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	erasurev1 "github.com/erasure-dev/erasure/gen/erasure/v1"
	"github.com/erasure-dev/erasure/gen/erasure/v1/erasurev1connect"
	"github.com/erasure-dev/erasure/internal/auth"
	"github.com/erasure-dev/erasure/internal/deletion"
	"github.com/erasure-dev/erasure/internal/identifier"
	"github.com/erasure-dev/erasure/internal/profile"
)

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

// The help-centre example: two profiles share an e-mail address, one keyed
// by e-mail and one by CRM ID. Deleting by e-mail removes only the first.
func TestArticleTwoProfilesExample(t *testing.T) {
	t.Parallel()
	e := newEnv(t, deletion.Config{})
	crm := newProfile("acme", identifier.CRMID, "CRM-1", "s1")
	crm.Email = "ann@example.com"
	e.seed(t,
		newProfile("acme", identifier.Email, "ann@example.com", "s1", "s2"),
		crm,
		newProfile("other", identifier.Email, "ann@example.com", "s1"),
	)
	stream, err := e.grpc.DeleteIdentifiers(context.Background(), &erasurev1.DeleteIdentifiersRequest{
		AccountId: "acme", Spec: emailSpec(), Values: []string{" Ann@Example.com "},
	})
	if err != nil {
		t.Fatal(err)
	}
	var last *erasurev1.Job
	for {
		res, err := stream.Recv()
		if err != nil {
			break
		}
		last = res.GetJob()
	}
	if last.GetState() != erasurev1.JobState_JOB_STATE_SUCCEEDED || last.GetCounts().GetDeleted() != 1 {
		t.Fatalf("job = %v, want succeeded with 1 deleted", last)
	}
	if e.exists(t, "acme", identifier.Email, "ann@example.com") {
		t.Error("the profile keyed by e-mail was not deleted")
	}
	if !e.exists(t, "acme", identifier.CRMID, "CRM-1") {
		t.Error("the profile keyed by CRM ID was deleted, though only its attribute matched")
	}
	if !e.exists(t, "other", identifier.Email, "ann@example.com") {
		t.Error("another account's profile was deleted")
	}
}

const flowCSV = "\ufeffName;E-mail;Phone\r\n" +
	"Ann;ann@example.com;+46701234567\r\n" + // 2 deleted
	"Bob; BOB@example.com ;\r\n" + // 3 deleted (normalized)
	"Cid;not-an-email;\r\n" + // 4 invalid
	"Dup;Ann@Example.com;\r\n" + // 5 duplicate of 2
	"Eve;eve@example.com;\r\n" + // 6 not found; a CRM-keyed profile has it as attribute
	"\r\n" + // blank line: no row, but counted in row numbers
	"Fay\r\n" + // 8 invalid: no cell in the column
	"Gus;gus@example.com;\r\n" // 9 not found here; exists in another account

func seedFlow(t *testing.T, e *env) {
	crm := newProfile("acme", identifier.CRMID, "CRM-9", "s3")
	crm.Email = "eve@example.com"
	e.seed(t,
		newProfile("acme", identifier.Email, "ann@example.com", "s1", "s2"),
		newProfile("acme", identifier.Email, "bob@example.com", "s1"),
		crm,
		newProfile("other", identifier.Email, "gus@example.com", "s1"),
		newProfile("other", identifier.Email, "ann@example.com", "s1"),
	)
}

func TestFileFlowCSV(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, deletion.Config{BatchSize: 3})
	seedFlow(t, e)
	id := e.uploadGRPC(t, "acme", "delete.csv", []byte(flowCSV))

	in, err := e.connect.InspectUpload(ctx, connect.NewRequest(&erasurev1.InspectUploadRequest{AccountId: "acme", UploadId: id}))
	if err != nil {
		t.Fatal(err)
	}
	if in.Msg.GetFormat() != erasurev1.FileFormat_FILE_FORMAT_CSV || in.Msg.GetDelimiter() != ";" || !in.Msg.GetHasHeader() {
		t.Fatalf("inspect = %v, want CSV with ';' and a header", in.Msg)
	}
	var names []string
	for _, c := range in.Msg.GetColumns() {
		names = append(names, c.GetName())
	}
	if !slices.Equal(names, []string{"Name", "E-mail", "Phone"}) {
		t.Fatalf("columns = %q", names)
	}
	suggested := map[erasurev1.IdentifierType]int32{}
	for _, s := range in.Msg.GetSuggestions() {
		suggested[s.GetIdentifierType()] = s.GetColumnNumber()
	}
	if suggested[erasurev1.IdentifierType_IDENTIFIER_TYPE_EMAIL] != 2 || suggested[erasurev1.IdentifierType_IDENTIFIER_TYPE_PHONE] != 3 {
		t.Fatalf("suggestions = %v, want e-mail in column 2 and phone in column 3", in.Msg.GetSuggestions())
	}

	src := &erasurev1.FileSource{UploadId: id, Column: &erasurev1.FileSource_ColumnName{ColumnName: "e-mail"}}
	pv, err := e.connect.PreviewDeletion(ctx, connect.NewRequest(&erasurev1.PreviewDeletionRequest{AccountId: "acme", Source: src, Spec: emailSpec()}))
	if err != nil {
		t.Fatal(err)
	}
	wantCounts := &erasurev1.Counts{TotalRows: 7, Rows: 7, Valid: 4, Invalid: 2, Duplicate: 1, Matched: 2, NotFound: 2}
	if got := pv.Msg.GetCounts(); !countsEqual(got, wantCounts) {
		t.Fatalf("preview counts = %v, want %v", got, wantCounts)
	}
	if got := sections(pv.Msg.GetSections()); got != "s1=2 s2=1" {
		t.Fatalf("preview sections = %s, want s1=2 s2=1", got)
	}
	if len(pv.Msg.GetInvalidSamples()) != 2 || pv.Msg.GetInvalidSamples()[0].GetRow() != 4 {
		t.Fatalf("invalid samples = %v, want rows 4 and 8", pv.Msg.GetInvalidSamples())
	}
	if !e.exists(t, "acme", identifier.Email, "ann@example.com") {
		t.Fatal("preview deleted a profile")
	}

	jobs := e.execute(t, &erasurev1.ExecuteDeletionRequest{AccountId: "acme", Source: src, Spec: emailSpec()})
	final := jobs[len(jobs)-1]
	wantCounts.Deleted = 2
	if final.GetState() != erasurev1.JobState_JOB_STATE_SUCCEEDED || !countsEqual(final.GetCounts(), wantCounts) {
		t.Fatalf("final job = %v, want succeeded with %v", final, wantCounts)
	}
	if got := sections(final.GetSections()); got != "s1=2 s2=1" {
		t.Fatalf("job sections = %s, want s1=2 s2=1", got)
	}
	if final.GetProgress().GetPercent() != 100 || final.GetFilename() != "delete.csv" || final.GetColumn() != "E-mail" {
		t.Fatalf("final job = %v, want 100%%, delete.csv, column E-mail", final)
	}
	if e.exists(t, "acme", identifier.Email, "ann@example.com") || e.exists(t, "acme", identifier.Email, "bob@example.com") {
		t.Error("matched profiles still exist")
	}
	for _, k := range []struct {
		account string
		typ     identifier.Type
		value   string
	}{{"acme", identifier.CRMID, "CRM-9"}, {"other", identifier.Email, "gus@example.com"}, {"other", identifier.Email, "ann@example.com"}} {
		if !e.exists(t, k.account, k.typ, k.value) {
			t.Errorf("profile %v was deleted but the file did not name it", k)
		}
	}

	rows := e.outcomes(t, "acme", final.GetJobId())
	type want struct {
		row     int64
		outcome erasurev1.Outcome
		detail  string // reason, hint or duplicate row
	}
	wants := []want{
		{2, erasurev1.Outcome_OUTCOME_DELETED, ""},
		{3, erasurev1.Outcome_OUTCOME_DELETED, ""},
		{4, erasurev1.Outcome_OUTCOME_INVALID, "@"},
		{5, erasurev1.Outcome_OUTCOME_DUPLICATE, "2"},
		{6, erasurev1.Outcome_OUTCOME_NOT_FOUND, "CRM ID"},
		{8, erasurev1.Outcome_OUTCOME_INVALID, "no cell in E-mail"},
		{9, erasurev1.Outcome_OUTCOME_NOT_FOUND, ""},
	}
	if len(rows) != len(wants) {
		t.Fatalf("got %d outcomes, want %d: %v", len(rows), len(wants), rows)
	}
	for i, w := range wants {
		r := rows[i]
		if r.GetRow() != w.row || r.GetOutcome() != w.outcome {
			t.Errorf("outcome %d = row %d %v, want row %d %v", i, r.GetRow(), r.GetOutcome(), w.row, w.outcome)
			continue
		}
		detail := r.GetReason() + r.GetHint()
		if r.GetDuplicateOfRow() != 0 {
			detail = itoa(r.GetDuplicateOfRow())
		}
		if w.detail == "" && detail != "" || !containsFold(detail, w.detail) {
			t.Errorf("row %d detail = %q, want %q", w.row, detail, w.detail)
		}
		if w.outcome == erasurev1.Outcome_OUTCOME_DELETED && r.GetProfileId() == "" {
			t.Errorf("row %d: deleted without a profile id", w.row)
		}
	}
	if rows[1].GetValue() != " BOB@example.com " || rows[1].GetNormalized() != "bob@example.com" {
		t.Errorf("row 3 value/normalized = %q/%q", rows[1].GetValue(), rows[1].GetNormalized())
	}

	// The history shows the job to its account only.
	list, err := e.connect.ListJobs(ctx, connect.NewRequest(&erasurev1.ListJobsRequest{AccountId: "acme"}))
	if err != nil || len(list.Msg.GetJobs()) != 1 || list.Msg.GetJobs()[0].GetJobId() != final.GetJobId() {
		t.Fatalf("ListJobs(acme) = %v, %v; want the one job", list, err)
	}
	otherClient := e.as(t, "other", auth.Owner)
	other, err := otherClient.ListJobs(ctx, connect.NewRequest(&erasurev1.ListJobsRequest{}))
	if err != nil || len(other.Msg.GetJobs()) != 0 {
		t.Fatalf("ListJobs(other) = %v, %v; want none", other, err)
	}
	_, err = otherClient.GetJob(ctx, connect.NewRequest(&erasurev1.GetJobRequest{JobId: final.GetJobId()}))
	wantCode(t, err, connect.CodeNotFound, "not found")
	os, err := otherClient.ListRowOutcomes(ctx, connect.NewRequest(&erasurev1.ListRowOutcomesRequest{JobId: final.GetJobId()}))
	if err != nil {
		t.Fatal(err)
	}
	if os.Receive() {
		t.Fatalf("another account reads outcomes: %v", os.Msg())
	}
	wantCode(t, os.Err(), connect.CodeNotFound, "not found")
	// The upload went with the job, and asking for it says so.
	_, err = e.connect.GetUpload(ctx, connect.NewRequest(&erasurev1.GetUploadRequest{AccountId: "acme", UploadId: id}))
	wantCode(t, err, connect.CodeFailedPrecondition, "was already used by job "+final.GetJobId())
	stream, err := e.connect.ExecuteDeletion(ctx, connect.NewRequest(&erasurev1.ExecuteDeletionRequest{Spec: emailSpec(),
		Source: &erasurev1.FileSource{UploadId: id, Column: &erasurev1.FileSource_ColumnName{ColumnName: "E-mail"}}}))
	wantCode(t, streamErr(stream, err), connect.CodeFailedPrecondition, "upload the file again")
}

func TestXLSXFromSpreadsheetWithChunkedUpload(t *testing.T) {
	t.Parallel()
	e := newEnv(t, deletion.Config{})
	// Made by LibreOffice from phones.csv (testdata/README.md): the
	// spreadsheet turned 0701234568 into the number 701234568 and
	// 46701234569 into a number without its '+'.
	data, err := os.ReadFile("testdata/phones.xlsx")
	if err != nil {
		t.Fatal(err)
	}
	e.seed(t,
		newProfile("acme", identifier.Phone, "+46701234567", "s1"),
		newProfile("acme", identifier.Phone, "+46701234568", "s1"),
		newProfile("acme", identifier.Phone, "+46701234569", "s2"),
		newProfile("acme", identifier.Phone, "+46701234570", "s2"),
	)
	id := e.uploadChunks(t, "acme", "phones.xlsx", data, 777)
	spec := &erasurev1.DeletionSpec{IdentifierType: erasurev1.IdentifierType_IDENTIFIER_TYPE_PHONE, DefaultRegion: "SE"}
	jobs := e.execute(t, &erasurev1.ExecuteDeletionRequest{
		AccountId: "acme", Spec: spec,
		Source: &erasurev1.FileSource{UploadId: id, Column: &erasurev1.FileSource_ColumnName{ColumnName: "Mobile"}},
	})
	final := jobs[len(jobs)-1]
	if final.GetState() != erasurev1.JobState_JOB_STATE_SUCCEEDED || final.GetCounts().GetDeleted() != 3 || final.GetCounts().GetRows() != 3 {
		t.Fatalf("job = %v, want 3 rows, 3 deleted", final)
	}
	if !e.exists(t, "acme", identifier.Phone, "+46701234570") {
		t.Fatal("a phone the file did not name was deleted")
	}
}

func TestCancelStopsAfterBatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, deletion.Config{BatchSize: 1})
	var values []string
	var ps []profile.Profile
	for i := range 300 {
		v := "p" + itoa(int64(i)) + "@example.com"
		values = append(values, v)
		ps = append(ps, newProfile("acme", identifier.Email, v, "s1"))
	}
	e.seed(t, ps...)
	stream, err := e.connect.DeleteIdentifiers(ctx, connect.NewRequest(&erasurev1.DeleteIdentifiersRequest{AccountId: "acme", Spec: emailSpec(), Values: values}))
	if err != nil {
		t.Fatal(err)
	}
	var last *erasurev1.Job
	cancelled := false
	for stream.Receive() {
		last = stream.Msg().GetJob()
		if !cancelled && last.GetCounts().GetRows() > 0 {
			res, err := e.connect.CancelJob(ctx, connect.NewRequest(&erasurev1.CancelJobRequest{AccountId: "acme", JobId: last.GetJobId()}))
			if err != nil {
				t.Fatal(err)
			}
			if !res.Msg.GetJob().GetCancelRequested() {
				t.Fatalf("cancel not recorded: %v", res.Msg.GetJob())
			}
			cancelled = true
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if last.GetState() != erasurev1.JobState_JOB_STATE_CANCELLED {
		t.Fatalf("state = %v, want cancelled", last.GetState())
	}
	c := last.GetCounts()
	if c.GetRows() >= 300 || c.GetRows() == 0 {
		t.Fatalf("rows = %d, want some but not all of 300", c.GetRows())
	}
	left, err := e.store.CountProfiles(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if c.GetDeleted() != 300-left || c.GetDeleted() != c.GetRows() {
		t.Fatalf("report says %d deleted of %d rows; the store lost %d profiles", c.GetDeleted(), c.GetRows(), 300-left)
	}
	if got := e.outcomes(t, "acme", last.GetJobId()); int64(len(got)) != c.GetRows() {
		t.Fatalf("%d outcomes for %d rows", len(got), c.GetRows())
	}
}

func TestWatchAfterDisconnect(t *testing.T) {
	t.Parallel()
	e := newEnv(t, deletion.Config{BatchSize: 2})
	var values []string
	var ps []profile.Profile
	for i := range 40 {
		v := "w" + itoa(int64(i)) + "@example.com"
		values = append(values, v)
		ps = append(ps, newProfile("acme", identifier.Email, v, "s1"))
	}
	e.seed(t, ps...)
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := e.grpc.DeleteIdentifiers(ctx, &erasurev1.DeleteIdentifiersRequest{AccountId: "acme", Spec: emailSpec(), Values: values})
	if err != nil {
		t.Fatal(err)
	}
	first, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	cancel() // the client goes away; the job must not

	watch, err := e.grpc.WatchJob(context.Background(), &erasurev1.WatchJobRequest{AccountId: "acme", JobId: first.GetJob().GetJobId()})
	if err != nil {
		t.Fatal(err)
	}
	var last *erasurev1.Job
	for {
		res, err := watch.Recv()
		if err != nil {
			break
		}
		last = res.GetJob()
	}
	if last.GetState() != erasurev1.JobState_JOB_STATE_SUCCEEDED || last.GetCounts().GetDeleted() != 40 {
		t.Fatalf("watched job = %v, want succeeded with 40 deleted", last)
	}
	if n, _ := e.store.CountProfiles(context.Background(), "acme"); n != 0 {
		t.Fatalf("%d profiles left", n)
	}
}

func TestDeleteProfile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, deletion.Config{})
	ps := e.seed(t, newProfile("acme", identifier.Email, "ann@example.com", "s1", "s2"), newProfile("other", identifier.Email, "ann@example.com", "s1"))
	id := ps[0].ID

	res, err := e.grpc.DeleteProfile(ctx, &erasurev1.DeleteProfileRequest{AccountId: "acme", ProfileId: id})
	if err != nil {
		t.Fatal(err)
	}
	if j := res.GetJob(); j.GetState() != erasurev1.JobState_JOB_STATE_SUCCEEDED || j.GetCounts().GetDeleted() != 1 || sections(j.GetSections()) != "s1=1 s2=1" {
		t.Fatalf("job = %v, want 1 deleted with sections s1, s2", j)
	}
	// Again: nothing left to delete. No job is queued for it; the answer
	// says when it was erased.
	before, err := e.connect.ListJobs(ctx, connect.NewRequest(&erasurev1.ListJobsRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.grpc.DeleteProfile(ctx, &erasurev1.DeleteProfileRequest{AccountId: "acme", ProfileId: id})
	if status.Code(err) != codes.NotFound || !strings.Contains(err.Error(), "was already erased by job "+res.GetJob().GetJobId()) ||
		!strings.Contains(err.Error(), "nothing was changed") {
		t.Fatalf("second delete: %v, want NOT_FOUND saying which job erased it", err)
	}
	// Another account's profile id deletes nothing, and is not found here.
	_, err = e.grpc.DeleteProfile(ctx, &erasurev1.DeleteProfileRequest{AccountId: "acme", ProfileId: ps[1].ID})
	if status.Code(err) != codes.NotFound || !strings.Contains(err.Error(), "not found in this account: nothing was changed") ||
		!e.exists(t, "other", identifier.Email, "ann@example.com") {
		t.Fatalf("a profile id of another account: %v", err)
	}
	after, err := e.connect.ListJobs(ctx, connect.NewRequest(&erasurev1.ListJobsRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	if len(after.Msg.GetJobs()) != len(before.Msg.GetJobs()) {
		t.Fatalf("%d jobs after two refused deletes, want %d: nothing is queued for a profile that does not exist", len(after.Msg.GetJobs()), len(before.Msg.GetJobs()))
	}
	_, err = e.connect.DeleteProfile(ctx, connect.NewRequest(&erasurev1.DeleteProfileRequest{AccountId: "acme", ProfileId: "ann@example.com"}))
	wantCode(t, err, connect.CodeInvalidArgument, "24 hexadecimal digits")
	// Errors travel into callers' logs: a pasted e-mail address is not echoed.
	if strings.Contains(err.Error(), "ann@example.com") {
		t.Fatalf("the error echoes the identifier: %v", err)
	}
	_, err = e.connect.GetJob(ctx, connect.NewRequest(&erasurev1.GetJobRequest{JobId: "ann@example.com"}))
	wantCode(t, err, connect.CodeNotFound, "24 hexadecimal digits")
	if strings.Contains(err.Error(), "ann@example.com") {
		t.Fatalf("the error echoes the identifier: %v", err)
	}
}

func TestErrorsTellTheUserWhatToDo(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, deletion.Config{MaxUploadBytes: 2000})
	id := e.uploadGRPC(t, "acme", "delete.csv", []byte(flowCSV))
	src := func(col string) *erasurev1.FileSource {
		return &erasurev1.FileSource{UploadId: id, Column: &erasurev1.FileSource_ColumnName{ColumnName: col}}
	}

	_, err := e.connect.PreviewDeletion(ctx, connect.NewRequest(&erasurev1.PreviewDeletionRequest{AccountId: "acme", Source: src("Mail"), Spec: emailSpec()}))
	wantCode(t, err, connect.CodeInvalidArgument, `column "Mail" not found; the file has: 1 "Name", 2 "E-mail", 3 "Phone"`)

	_, err = e.connect.PreviewDeletion(ctx, connect.NewRequest(&erasurev1.PreviewDeletionRequest{AccountId: "acme", Source: src("E-mail")}))
	wantCode(t, err, connect.CodeInvalidArgument, "identifier_type is required")

	_, err = e.connect.PreviewDeletion(ctx, connect.NewRequest(&erasurev1.PreviewDeletionRequest{AccountId: "acme", Source: &erasurev1.FileSource{UploadId: id}, Spec: emailSpec()}))
	wantCode(t, err, connect.CodeInvalidArgument, "choose the column")

	_, err = e.connect.PreviewDeletion(ctx, connect.NewRequest(&erasurev1.PreviewDeletionRequest{AccountId: "other", Source: src("E-mail"), Spec: emailSpec()}))
	wantCode(t, err, connect.CodeNotFound, "not found")

	_, err = e.connect.GetJob(ctx, connect.NewRequest(&erasurev1.GetJobRequest{AccountId: "acme", JobId: "6b0917391cf3dd3ed2f813c7"}))
	wantCode(t, err, connect.CodeNotFound, "job")

	up, err := e.connect.CreateUpload(ctx, connect.NewRequest(&erasurev1.CreateUploadRequest{Metadata: &erasurev1.UploadMetadata{AccountId: "acme", Filename: "a.csv"}}))
	if err != nil {
		t.Fatal(err)
	}
	uid := up.Msg.GetUpload().GetUploadId()
	_, err = e.connect.UploadChunk(ctx, connect.NewRequest(&erasurev1.UploadChunkRequest{AccountId: "acme", UploadId: uid, Offset: 10, Data: []byte("x")}))
	wantCode(t, err, connect.CodeFailedPrecondition, "send the chunk that starts at offset 0")
	_, err = e.connect.UploadChunk(ctx, connect.NewRequest(&erasurev1.UploadChunkRequest{AccountId: "acme", UploadId: uid, Data: make([]byte, 2001)}))
	wantCode(t, err, connect.CodeResourceExhausted, "larger than")
	_, err = e.connect.InspectUpload(ctx, connect.NewRequest(&erasurev1.InspectUploadRequest{AccountId: "acme", UploadId: uid}))
	wantCode(t, err, connect.CodeFailedPrecondition, "not complete")

	_, err = e.connect.CreateUpload(ctx, connect.NewRequest(&erasurev1.CreateUploadRequest{Metadata: &erasurev1.UploadMetadata{AccountId: "acme", Filename: "report.pdf"}}))
	wantCode(t, err, connect.CodeInvalidArgument, "save the file as .csv or .xlsx")

	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00")
	pid := e.uploadGRPC(t, "acme", "list.csv", png)
	_, err = e.connect.InspectUpload(ctx, connect.NewRequest(&erasurev1.InspectUploadRequest{AccountId: "acme", UploadId: pid}))
	wantCode(t, err, connect.CodeInvalidArgument, "")

	// The streamed upload stops as soon as the limit is passed.
	stream, err := e.grpc.UploadFile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_ = stream.Send(&erasurev1.UploadFileRequest{Payload: &erasurev1.UploadFileRequest_Metadata{Metadata: &erasurev1.UploadMetadata{AccountId: "acme", Filename: "big.csv"}}})
	for range 3 {
		_ = stream.Send(&erasurev1.UploadFileRequest{Payload: &erasurev1.UploadFileRequest_Chunk{Chunk: make([]byte, 1000)}})
	}
	_, err = stream.CloseAndRecv()
	if err == nil {
		t.Fatal("an upload over the limit was accepted")
	}
	if !strings.Contains(err.Error(), "ResourceExhausted") || !strings.Contains(err.Error(), "larger than the") {
		t.Fatalf("over-limit stream error = %v", err)
	}
}

func countsEqual(a, b *erasurev1.Counts) bool {
	return a.GetTotalRows() == b.GetTotalRows() && a.GetRows() == b.GetRows() && a.GetValid() == b.GetValid() &&
		a.GetInvalid() == b.GetInvalid() && a.GetDuplicate() == b.GetDuplicate() && a.GetMatched() == b.GetMatched() &&
		a.GetNotFound() == b.GetNotFound() && a.GetDeleted() == b.GetDeleted()
}

func sections(list []*erasurev1.SectionCount) string {
	var parts []string
	for _, s := range list {
		parts = append(parts, s.GetSectionId()+"="+itoa(s.GetProfiles()))
	}
	return strings.Join(parts, " ")
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// On shutdown an open progress stream ends with UNAVAILABLE and says how to
// follow the job, instead of breaking.
func TestShutdownEndsStreamsWithAdvice(t *testing.T) {
	t.Parallel()
	e := newEnv(t, deletion.Config{BatchSize: 1})
	var values []string
	for i := range 500 {
		values = append(values, "s"+itoa(int64(i))+"@example.com")
	}
	stream, err := e.connect.DeleteIdentifiers(context.Background(), connect.NewRequest(&erasurev1.DeleteIdentifiersRequest{AccountId: "acme", Spec: emailSpec(), Values: values}))
	if err != nil {
		t.Fatal(err)
	}
	if !stream.Receive() {
		t.Fatalf("no first message: %v", stream.Err())
	}
	e.stop()
	for stream.Receive() {
	}
	wantCode(t, stream.Err(), connect.CodeUnavailable, "re-attach with WatchJob")
}

// The same service answers gRPC-Web (what browsers behind a gRPC-Web proxy
// speak) on the same port, unary and server-streaming.
func TestGRPCWebOnTheSamePort(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, deletion.Config{})
	e.seed(t, newProfile("acme", identifier.Email, "ann@example.com", "s1"))
	web := erasurev1connect.NewErasureServiceClient(&http.Client{Transport: bearerTransport(e.token(t, "acme", auth.Admin))}, e.baseURL, connect.WithGRPCWeb())
	last := deleteList(t, web, "ann@example.com")
	if last.GetState() != erasurev1.JobState_JOB_STATE_SUCCEEDED || last.GetCounts().GetDeleted() != 1 {
		t.Fatalf("job over gRPC-Web = %v", last)
	}
	res, err := web.GetJob(ctx, connect.NewRequest(&erasurev1.GetJobRequest{AccountId: "acme", JobId: last.GetJobId()}))
	if err != nil || res.Msg.GetJob().GetCounts().GetDeleted() != 1 {
		t.Fatalf("GetJob over gRPC-Web = %v, %v", res, err)
	}
}
