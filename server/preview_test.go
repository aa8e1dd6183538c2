package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	erasurev1 "github.com/erasure-dev/erasure/gen/erasure/v1"
	"github.com/erasure-dev/erasure/internal/deletion"
	"github.com/erasure-dev/erasure/internal/identifier"
)

func warningsOf(res *erasurev1.PreviewDeletionResponse) string {
	var b strings.Builder
	for _, w := range res.GetWarnings() {
		b.WriteString(w.GetReason() + ": " + w.GetMessage() + "\n")
	}
	return b.String()
}

// The mistakes a new user makes on day one are caught before anything
// runs: the wrong identifier type for the column, rows that would match
// only under another type, a file with no rows.
func TestPreviewCatchesMistakes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, deletion.Config{})
	e.seed(t,
		newProfile("acme", identifier.Email, "ann@example.com", "s1"),
		newProfile("acme", identifier.Email, "bob@example.com", "s1"),
		newProfile("acme", identifier.Phone, "+46701234567", "s1"),
	)
	file := "Name,Email,Phone\nAnn,ann@example.com,+46701234567\nBob,bob@example.com,+46701234568\nCid,cid@example.com,+46701234569\n"
	upload := e.uploadChunks(t, "acme", "mixed.csv", []byte(file), 1000)
	byColumn := func(name string) *erasurev1.FileSource {
		return &erasurev1.FileSource{UploadId: upload, Column: &erasurev1.FileSource_ColumnName{ColumnName: name}}
	}

	// An e-mail column previewed as phone numbers: every row invalid, and
	// the warning names the type the values have and the column that
	// holds phone numbers. (Over gRPC, as an internal service calls.)
	asPhone, err := e.grpc.PreviewDeletion(ctx, &erasurev1.PreviewDeletionRequest{AccountId: "acme", Source: byColumn("Email"),
		Spec: &erasurev1.DeletionSpec{IdentifierType: erasurev1.IdentifierType_IDENTIFIER_TYPE_PHONE, DefaultRegion: "SE"}})
	if err != nil {
		t.Fatal(err)
	}
	if w := warningsOf(asPhone); asPhone.GetCounts().GetInvalid() != 3 ||
		!strings.Contains(w, `IDENTIFIER_TYPE_MISMATCH: the values of column "Email" look like e-mail addresses (3 of 3), not phone numbers`) ||
		!strings.Contains(w, `column 3 "Phone" looks like it`) {
		t.Fatalf("e-mail column as phone: %v\n%s", asPhone.GetCounts(), w)
	}

	// The same column as CRM IDs: every row valid, none found. The warning
	// says so, and two rows would match only with e-mail chosen, with the
	// hint their rows would get after the job.
	asCRM, err := e.connect.PreviewDeletion(ctx, connect.NewRequest(&erasurev1.PreviewDeletionRequest{Source: byColumn("Email"),
		Spec: &erasurev1.DeletionSpec{IdentifierType: erasurev1.IdentifierType_IDENTIFIER_TYPE_CRM_ID}}))
	if err != nil {
		t.Fatal(err)
	}
	p := asCRM.Msg
	if w := warningsOf(p); p.GetCounts().GetNotFound() != 3 || p.GetOtherKeyTypeRows() != 2 ||
		!strings.Contains(w, "look like e-mail addresses (3 of 3), not CRM IDs") || !strings.Contains(w, "MATCHES_OTHER_KEY_TYPE: 2 rows") {
		t.Fatalf("e-mail column as CRM ID: %v, %d other key type\n%s", p.GetCounts(), p.GetOtherKeyTypeRows(), w)
	}
	if len(p.GetHintSamples()) != 2 || p.GetHintSamples()[0].GetHint() != "a profile has this value as its e-mail identifier; delete with e-mail as the Unique Identifier to remove it" {
		t.Fatalf("hint samples %v", p.GetHintSamples())
	}

	// The right type and column: no warning.
	right, err := e.connect.PreviewDeletion(ctx, connect.NewRequest(&erasurev1.PreviewDeletionRequest{Source: byColumn("Email"), Spec: emailSpec()}))
	if err != nil {
		t.Fatal(err)
	}
	if len(right.Msg.GetWarnings()) != 0 || right.Msg.GetCounts().GetMatched() != 2 {
		t.Fatalf("the right column: %v\n%s", right.Msg.GetCounts(), warningsOf(right.Msg))
	}

	// A file with a header and no rows is refused at the preview, as the
	// execution would refuse it.
	empty := e.uploadChunks(t, "acme", "empty.csv", []byte("Email\n"), 100)
	_, err = e.connect.PreviewDeletion(ctx, connect.NewRequest(&erasurev1.PreviewDeletionRequest{Spec: emailSpec(),
		Source: &erasurev1.FileSource{UploadId: empty, Column: &erasurev1.FileSource_ColumnName{ColumnName: "Email"}}}))
	wantCode(t, err, connect.CodeInvalidArgument, "the file has a header row but no rows below it")
}

// A list can be previewed like a file, and a value an earlier job erased is
// explained — in the preview and in the job's rows — by the audit trail's
// keyed hashes.
func TestPreviewListAndAlreadyErased(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, deletion.Config{})
	e.seed(t, newProfile("acme", identifier.Email, "ann@example.com", "s1"), newProfile("acme", identifier.Email, "bob@example.com", "s1"))
	first := deleteList(t, e.connect, "ann@example.com")
	if first.GetCounts().GetDeleted() != 1 {
		t.Fatalf("first job %v", first)
	}

	res, err := e.grpc.PreviewDeletion(ctx, &erasurev1.PreviewDeletionRequest{AccountId: "acme", Spec: emailSpec(),
		Values: []string{"ANN@example.com", "bob@example.com", "nobody@example.com", "not an address"}})
	if err != nil {
		t.Fatal(err)
	}
	want := "already erased by job " + first.GetJobId() + " on " + time.Now().UTC().Format(time.DateOnly)
	if c := res.GetCounts(); c.GetRows() != 4 || c.GetMatched() != 1 || c.GetNotFound() != 2 || c.GetInvalid() != 1 ||
		res.GetAlreadyErasedRows() != 1 || len(res.GetHintSamples()) != 1 || res.GetHintSamples()[0].GetHint() != want {
		t.Fatalf("list preview %v, %d already erased, hints %v; want %q", c, res.GetAlreadyErasedRows(), res.GetHintSamples(), want)
	}
	_, err = e.grpc.PreviewDeletion(ctx, &erasurev1.PreviewDeletionRequest{AccountId: "acme", Spec: emailSpec(), Values: []string{"x@example.com"},
		Source: &erasurev1.FileSource{UploadId: "0123456789abcdef01234567"}})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "not both") {
		t.Fatalf("source and values: %v", err)
	}

	// The same value run again: the row says which job erased it.
	again := deleteList(t, e.connect, "ann@example.com")
	rows := e.outcomes(t, "acme", again.GetJobId())
	if len(rows) != 1 || rows[0].GetOutcome() != erasurev1.Outcome_OUTCOME_NOT_FOUND || rows[0].GetHint() != want {
		t.Fatalf("second run's row %v, want not found with %q", rows, want)
	}
}

// A wizard's Cancel discards its upload at once.
func TestDeleteUpload(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, deletion.Config{})
	id := e.uploadGRPC(t, "acme", "list.csv", []byte("Email\nann@example.com\n"))
	if _, err := e.connect.DeleteUpload(ctx, connect.NewRequest(&erasurev1.DeleteUploadRequest{UploadId: id})); err != nil {
		t.Fatal(err)
	}
	_, err := e.connect.GetUpload(ctx, connect.NewRequest(&erasurev1.GetUploadRequest{UploadId: id}))
	wantCode(t, err, connect.CodeNotFound, "not found")
	if _, err := e.grpc.DeleteUpload(ctx, &erasurev1.DeleteUploadRequest{AccountId: "acme", UploadId: id}); status.Code(err) != codes.NotFound {
		t.Fatalf("deleting it again: %v, want NOT_FOUND", err)
	}
	// Another account cannot discard acme's upload.
	other := e.uploadGRPC(t, "acme", "other.csv", []byte("Email\nbob@example.com\n"))
	_, err = e.as(t, "beta", "OWNER").DeleteUpload(ctx, connect.NewRequest(&erasurev1.DeleteUploadRequest{UploadId: other}))
	wantCode(t, err, connect.CodeNotFound, "not found")
	if _, err := e.connect.GetUpload(ctx, connect.NewRequest(&erasurev1.GetUploadRequest{UploadId: other})); err != nil {
		t.Fatalf("acme's upload after another account's delete: %v", err)
	}
}

// Quotes a spreadsheet program reads as text — a height, a coordinate — in
// a cell that does not start with a quote do not make the file unreadable:
// the rows are read as Excel and LibreOffice read them.
func TestQuotesInsideCells(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, deletion.Config{})
	e.seed(t, newProfile("acme", identifier.Email, "ann@example.com", "s1"), newProfile("acme", identifier.Email, "bob@example.com", "s1"))
	file := "Name,Height,Where,Email\nAnn,5'11\",37°36'37.8\"N,ann@example.com\nBob,\"6'2\"\"\",\"55°45'N\",bob@example.com\n"
	id := e.uploadGRPC(t, "acme", "quotes.csv", []byte(file))
	in, err := e.grpc.InspectUpload(ctx, &erasurev1.InspectUploadRequest{AccountId: "acme", UploadId: id})
	if err != nil {
		t.Fatal(err)
	}
	if c := in.GetColumns(); len(c) != 4 || c[1].GetSamples()[0] != `5'11"` || c[2].GetSamples()[0] != `37°36'37.8"N` || c[1].GetSamples()[1] != `6'2"` {
		t.Fatalf("columns %v", c)
	}
	jobs := e.execute(t, &erasurev1.ExecuteDeletionRequest{Spec: emailSpec(),
		Source: &erasurev1.FileSource{UploadId: id, Column: &erasurev1.FileSource_ColumnName{ColumnName: "Email"}}})
	if last := jobs[len(jobs)-1]; last.GetCounts().GetDeleted() != 2 {
		t.Fatalf("job %v, want both rows deleted", last)
	}
}
