package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	erasurev1 "github.com/erasure-dev/erasure/gen/erasure/v1"
	"github.com/erasure-dev/erasure/gen/erasure/v1/erasurev1connect"
	"github.com/erasure-dev/erasure/internal/auth"
	"github.com/erasure-dev/erasure/internal/deletion"
	"github.com/erasure-dev/erasure/internal/identifier"
)

// Full jobs by e-mail, phone and CRM ID — matched, unmatched, invalid and
// duplicate rows, hints — plus refused tokens and mistaken requests: the
// server's log (at debug level) holds none of the identifiers, and no token,
// while every call's line names its request id, account and token subject,
// and a refusal's also its reason and peer.
func TestLogsHoldNoIdentifiers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, deletion.Config{})
	ps := e.seed(t,
		newProfile("acme", identifier.Email, "ann.secret@example.com", "s1"),
		newProfile("acme", identifier.Phone, "+46701234567", "s1"),
		newProfile("acme", identifier.CRMID, "CRM-SECRET-42", "s1"),
		newProfile("acme", identifier.CRMID, "hinted.secret@example.com", "s1"), // explains an unmatched e-mail row
	)
	identifiers := []string{
		"ann.secret@example.com", "ANN.SECRET@EXAMPLE.COM", "hinted.secret@example.com", "nobody.secret@example.com", "broken-secret-address",
		"+46701234567", "070-123 45 67", "701234567", "+46709999999",
		"CRM-SECRET-42", "CRM-SECRET-404",
	}
	run := func(spec *erasurev1.DeletionSpec, column, file string) {
		t.Helper()
		id := e.uploadGRPC(t, "acme", "delete.csv", []byte(file))
		req := &erasurev1.ExecuteDeletionRequest{Spec: spec, Source: &erasurev1.FileSource{UploadId: id, Column: &erasurev1.FileSource_ColumnName{ColumnName: column}}}
		if _, err := e.connect.PreviewDeletion(ctx, connect.NewRequest(&erasurev1.PreviewDeletionRequest{Spec: spec, Source: req.Source})); err != nil {
			t.Fatal(err)
		}
		jobs := e.execute(t, req)
		last := jobs[len(jobs)-1]
		if last.GetState() != erasurev1.JobState_JOB_STATE_SUCCEEDED || last.GetCounts().GetDeleted() != 1 {
			t.Fatalf("job: %v", last)
		}
		e.outcomes(t, "acme", last.GetJobId())
	}
	run(emailSpec(), "Email", "Email\nann.secret@example.com\nANN.SECRET@EXAMPLE.COM\nhinted.secret@example.com\nnobody.secret@example.com\nbroken-secret-address\n")
	run(&erasurev1.DeletionSpec{IdentifierType: erasurev1.IdentifierType_IDENTIFIER_TYPE_PHONE, DefaultRegion: "SE"}, "Phone",
		"Phone\n070-123 45 67\n+46701234567\n701234567\n+46709999999\n")
	run(&erasurev1.DeletionSpec{IdentifierType: erasurev1.IdentifierType_IDENTIFIER_TYPE_CRM_ID}, "CRM", "CRM\nCRM-SECRET-42\nCRM-SECRET-404\n")

	// Mistakes that carry identifiers where ids belong, and verification.
	_, err := e.connect.DeleteProfile(ctx, connect.NewRequest(&erasurev1.DeleteProfileRequest{ProfileId: "ann.secret@example.com"}))
	wantCode(t, err, connect.CodeInvalidArgument, "")
	_, err = e.connect.GetJob(ctx, connect.NewRequest(&erasurev1.GetJobRequest{JobId: "+46701234567"}))
	wantCode(t, err, connect.CodeNotFound, "")
	if _, err := e.connect.VerifyErasure(ctx, connect.NewRequest(&erasurev1.VerifyErasureRequest{Spec: emailSpec(),
		Target: &erasurev1.VerifyErasureRequest_Value{Value: "ann.secret@example.com"}})); err != nil {
		t.Fatal(err)
	}
	if _, err := e.connect.DeleteProfile(ctx, connect.NewRequest(&erasurev1.DeleteProfileRequest{ProfileId: ps[3].ID})); err != nil {
		t.Fatal(err)
	}

	// Refused tokens: not a JWT (an address pasted), expired, unknown key.
	expired, _ := auth.Sign(e.key, auth.Principal{Account: "acme", Subject: "x", Kind: auth.KindUser, Role: auth.Owner}, -time.Hour)
	tokens := []string{"ann.secret@example.com", expired, e.token(t, "acme", auth.Owner)}
	for _, tok := range tokens[:2] {
		c := erasurev1connect.NewErasureServiceClient(&http.Client{Transport: bearerTransport(tok)}, e.baseURL)
		_, err := c.ListJobs(ctx, connect.NewRequest(&erasurev1.ListJobsRequest{}))
		wantCode(t, err, connect.CodeUnauthenticated, "")
	}

	// A request id the caller chose comes back and is in the call's line.
	req := connect.NewRequest(&erasurev1.ListJobsRequest{})
	req.Header().Set("X-Request-Id", "batch-7:retry-2")
	res, err := e.connect.ListJobs(ctx, req)
	if err != nil || res.Header().Get("X-Request-Id") != "batch-7:retry-2" {
		t.Fatalf("ListJobs with a request id: %v, header %q", err, res.Header().Get("X-Request-Id"))
	}
	// One that could carry anything else is replaced.
	req = connect.NewRequest(&erasurev1.ListJobsRequest{})
	req.Header().Set("X-Request-Id", "ann.secret@example.com is gone")
	if res, err := e.connect.ListJobs(ctx, req); err != nil || len(res.Header().Get("X-Request-Id")) != 24 {
		t.Fatalf("ListJobs with an unusable request id: %v, header %q", err, res.Header().Get("X-Request-Id"))
	}

	logs := e.logs.String()
	// Every call's line says which request, account and token subject; a
	// refusal's also why and from where.
	lines := strings.Split(logs, "\n")
	has := func(parts ...string) bool {
		for _, l := range lines {
			all := true
			for _, p := range parts {
				all = all && strings.Contains(l, p)
			}
			if all {
				return true
			}
		}
		return false
	}
	for _, want := range [][]string{
		{"msg=rpc", "request_id=batch-7:retry-2", "ListJobs", "code=ok", "account_id=acme", "subject=tester"},
		{"msg=rpc", "level=WARN", "code=unauthenticated", "reason=TOKEN_INVALID", "peer=127.0.0.1:"},
		{"msg=rpc", "level=WARN", "GetJob", "code=not_found", "reason=JOB_NOT_FOUND", "account_id=acme", "subject=tester", "peer=127.0.0.1:"},
		{"msg=rpc", "DeleteProfile", "code=invalid_argument", "reason=", "subject=tester"},
	} {
		if !has(want...) {
			t.Errorf("no log line has all of %q", want)
		}
	}
	for _, want := range []string{"job finished", "code=unauthenticated", "code=invalid_argument"} {
		if !strings.Contains(strings.ToLower(logs), strings.ToLower(want)) {
			t.Fatalf("the log lacks %q, so it did not see the calls this test checks:\n%s", want, logs)
		}
	}
	secrets := append(identifiers, tokens...)
	for _, p := range ps {
		secrets = append(secrets, p.ID)
	}
	for _, secret := range secrets {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds %q", secret)
		}
	}
	// Normalized forms too (the phone numbers' digits, the address folded).
	for _, secret := range []string{"46701234567", "701234567", "46709999999", "nobody.secret", "broken-secret", "crm-secret"} {
		if strings.Contains(strings.ToLower(logs), secret) {
			t.Errorf("the log holds %q", secret)
		}
	}
	if t.Failed() {
		t.Logf("log:\n%s", logs)
	}
}
