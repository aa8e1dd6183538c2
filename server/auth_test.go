package server_test

import (
	"context"
	"crypto/ed25519"
	"net/http"
	"reflect"
	"testing"
	"time"

	"connectrpc.com/connect"

	erasurev1 "github.com/erasure-dev/erasure/gen/erasure/v1"
	"github.com/erasure-dev/erasure/gen/erasure/v1/erasurev1connect"
	"github.com/erasure-dev/erasure/internal/auth"
	"github.com/erasure-dev/erasure/internal/deletion"
	"github.com/erasure-dev/erasure/internal/identifier"
)

// calls makes every RPC once with the given client and ids, and returns
// each call's error by name.
func calls(ctx context.Context, c erasurev1connect.ErasureServiceClient, account, uploadID, jobID, profileID string) map[string]error {
	errs := map[string]error{}
	src := &erasurev1.FileSource{UploadId: uploadID, Column: &erasurev1.FileSource_ColumnName{ColumnName: "Email"}}
	_, errs["CreateUpload"] = c.CreateUpload(ctx, connect.NewRequest(&erasurev1.CreateUploadRequest{Metadata: &erasurev1.UploadMetadata{AccountId: account, Filename: "a.csv"}}))
	_, errs["UploadChunk"] = c.UploadChunk(ctx, connect.NewRequest(&erasurev1.UploadChunkRequest{AccountId: account, UploadId: uploadID, Offset: 0, Data: []byte("x")}))
	_, errs["GetUpload"] = c.GetUpload(ctx, connect.NewRequest(&erasurev1.GetUploadRequest{AccountId: account, UploadId: uploadID}))
	_, errs["InspectUpload"] = c.InspectUpload(ctx, connect.NewRequest(&erasurev1.InspectUploadRequest{AccountId: account, UploadId: uploadID}))
	_, errs["PreviewDeletion"] = c.PreviewDeletion(ctx, connect.NewRequest(&erasurev1.PreviewDeletionRequest{AccountId: account, Source: src, Spec: emailSpec()}))
	s1, err := c.ExecuteDeletion(ctx, connect.NewRequest(&erasurev1.ExecuteDeletionRequest{AccountId: account, Source: src, Spec: emailSpec()}))
	errs["ExecuteDeletion"] = streamErr(s1, err)
	s2, err := c.WatchJob(ctx, connect.NewRequest(&erasurev1.WatchJobRequest{AccountId: account, JobId: jobID}))
	errs["WatchJob"] = streamErr(s2, err)
	s3, err := c.ListRowOutcomes(ctx, connect.NewRequest(&erasurev1.ListRowOutcomesRequest{AccountId: account, JobId: jobID}))
	errs["ListRowOutcomes"] = streamErr(s3, err)
	_, errs["GetJobReport"] = c.GetJobReport(ctx, connect.NewRequest(&erasurev1.GetJobReportRequest{AccountId: account, JobId: jobID}))
	s7, err := c.DownloadReport(ctx, connect.NewRequest(&erasurev1.DownloadReportRequest{AccountId: account, JobId: jobID}))
	errs["DownloadReport"] = streamErr(s7, err)
	_, errs["GetJob"] = c.GetJob(ctx, connect.NewRequest(&erasurev1.GetJobRequest{AccountId: account, JobId: jobID}))
	_, errs["CancelJob"] = c.CancelJob(ctx, connect.NewRequest(&erasurev1.CancelJobRequest{AccountId: account, JobId: jobID}))
	_, errs["ListJobs"] = c.ListJobs(ctx, connect.NewRequest(&erasurev1.ListJobsRequest{AccountId: account}))
	_, errs["DeleteProfile"] = c.DeleteProfile(ctx, connect.NewRequest(&erasurev1.DeleteProfileRequest{AccountId: account, ProfileId: profileID}))
	s4, err := c.DeleteIdentifiers(ctx, connect.NewRequest(&erasurev1.DeleteIdentifiersRequest{AccountId: account, Spec: emailSpec(), Values: []string{"ann@example.com"}}))
	errs["DeleteIdentifiers"] = streamErr(s4, err)
	_, errs["ListAuditEvents"] = c.ListAuditEvents(ctx, connect.NewRequest(&erasurev1.ListAuditEventsRequest{AccountId: account, JobId: jobID}))
	_, errs["VerifyErasure"] = c.VerifyErasure(ctx, connect.NewRequest(&erasurev1.VerifyErasureRequest{AccountId: account, Spec: emailSpec(),
		Target: &erasurev1.VerifyErasureRequest_Value{Value: "carl@example.com"}}))
	_, errs["DeleteUpload"] = c.DeleteUpload(ctx, connect.NewRequest(&erasurev1.DeleteUploadRequest{AccountId: account, UploadId: uploadID}))
	sp, err := c.StartPreview(ctx, connect.NewRequest(&erasurev1.StartPreviewRequest{AccountId: account, Source: src, Spec: emailSpec()}))
	errs["StartPreview"] = streamErr(sp, err)
	wp, err := c.WatchPreview(ctx, connect.NewRequest(&erasurev1.WatchPreviewRequest{AccountId: account, PreviewId: jobID}))
	errs["WatchPreview"] = streamErr(wp, err)
	_, errs["CancelPreview"] = c.CancelPreview(ctx, connect.NewRequest(&erasurev1.CancelPreviewRequest{AccountId: account, PreviewId: jobID}))
	optOut := &erasurev1.UnsubscribeSpec{Channel: "email"}
	_, errs["PreviewUnsubscribe"] = c.PreviewUnsubscribe(ctx, connect.NewRequest(&erasurev1.PreviewUnsubscribeRequest{AccountId: account, Source: src, Spec: emailSpec(), Unsubscribe: optOut}))
	s5, err := c.ExecuteUnsubscribe(ctx, connect.NewRequest(&erasurev1.ExecuteUnsubscribeRequest{AccountId: account, Source: src, Spec: emailSpec(), Unsubscribe: optOut}))
	errs["ExecuteUnsubscribe"] = streamErr(s5, err)
	s6, err := c.UnsubscribeIdentifiers(ctx, connect.NewRequest(&erasurev1.UnsubscribeIdentifiersRequest{AccountId: account, Spec: emailSpec(), Unsubscribe: optOut, Values: []string{"ann@example.com"}}))
	errs["UnsubscribeIdentifiers"] = streamErr(s6, err)
	_, errs["UnsubscribeProfile"] = c.UnsubscribeProfile(ctx, connect.NewRequest(&erasurev1.UnsubscribeProfileRequest{AccountId: account, ProfileId: profileID, Unsubscribe: optOut}))
	us := c.UploadFile(ctx)
	_ = us.Send(&erasurev1.UploadFileRequest{Payload: &erasurev1.UploadFileRequest_Metadata{Metadata: &erasurev1.UploadMetadata{AccountId: account, Filename: "a.csv"}}})
	_, errs["UploadFile"] = us.CloseAndReceive()
	return errs
}

const rpcCount = 26

// acmeState makes an upload, a finished job and a live profile in acme.
func acmeState(t *testing.T, e *env) (uploadID, jobID, profileID string) {
	t.Helper()
	ps := e.seed(t, newProfile("acme", identifier.Email, "ann@example.com", "s1"), newProfile("acme", identifier.Email, "bob@example.com", "s1"),
		newProfile("acme", identifier.Email, "carl@example.com", "s1"))
	// carl is erased, so the trail has something to leak.
	if j := deleteList(t, e.connect, "carl@example.com"); j.GetCounts().GetDeleted() != 1 {
		t.Fatalf("carl not deleted: %v", j)
	}
	uploadID = e.uploadGRPC(t, "acme", "delete.csv", []byte("Email\nbob@example.com\n"))
	jobs := e.execute(t, &erasurev1.ExecuteDeletionRequest{AccountId: "acme", Spec: emailSpec(),
		Source: &erasurev1.FileSource{UploadId: e.uploadGRPC(t, "acme", "other.csv", []byte("Email\nnobody@example.com\n")), Column: &erasurev1.FileSource_ColumnName{ColumnName: "Email"}}})
	return uploadID, jobs[len(jobs)-1].GetJobId(), ps[0].ID
}

func TestEveryCallNeedsAValidToken(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, deletion.Config{})
	_, stranger, _ := ed25519.GenerateKey(nil)
	foreign, _ := auth.Sign(stranger, auth.Principal{Account: "acme", Subject: "x", Kind: auth.KindUser, Role: auth.Owner}, time.Hour)
	expired, _ := auth.Sign(e.key, auth.Principal{Account: "acme", Subject: "x", Kind: auth.KindUser, Role: auth.Owner}, -time.Hour)
	// What a call that got through would change: ann (named by id and by
	// address in the calls below) and her consents, and the job history.
	ps := e.seed(t, consented("acme", "ann@example.com", "s1"))
	before := rawProfile(t, "acme", "ann@example.com")
	for name, c := range map[string]struct {
		client erasurev1connect.ErasureServiceClient
		says   string
	}{
		"no token":      {erasurev1connect.NewErasureServiceClient(http.DefaultClient, e.baseURL), "erasured token"},
		"foreign key":   {erasurev1connect.NewErasureServiceClient(&http.Client{Transport: bearerTransport(foreign)}, e.baseURL), "not signed by a key this service trusts"},
		"expired token": {erasurev1connect.NewErasureServiceClient(&http.Client{Transport: bearerTransport(expired)}, e.baseURL), "expired"},
		"not a JWT":     {erasurev1connect.NewErasureServiceClient(&http.Client{Transport: bearerTransport("hello")}, e.baseURL), "not a JWT"},
	} {
		errs := calls(ctx, c.client, "acme", "0123456789abcdef01234567", "0123456789abcdef01234567", ps[0].ID)
		if len(errs) != rpcCount {
			t.Fatalf("%d calls made, want all %d", len(errs), rpcCount)
		}
		for rpc, err := range errs {
			if connect.CodeOf(err) != connect.CodeUnauthenticated || !containsFold(err.Error(), c.says) {
				t.Errorf("%s: %s = %v, want Unauthenticated saying %q", name, rpc, err, c.says)
			}
		}
	}
	if after := rawProfile(t, "acme", "ann@example.com"); !reflect.DeepEqual(after, before) {
		t.Fatalf("unauthenticated calls changed ann:\n%v\nwas\n%v", after, before)
	}
	jobs, err := e.connect.ListJobs(ctx, connect.NewRequest(&erasurev1.ListJobsRequest{}))
	if err != nil || len(jobs.Msg.GetJobs()) != 0 {
		t.Fatalf("unauthenticated calls left jobs: %v, %v", jobs, err)
	}
}

// The isolation matrix: every call made with a token of another account,
// aimed at acme's upload, job and profile, reads, watches, cancels and
// deletes nothing of acme's — whether it names acme or not.
func TestAnotherAccountReachesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, deletion.Config{})
	uploadID, jobID, profileID := acmeState(t, e)
	intruder := e.as(t, "other", auth.Owner)

	// Naming acme: every call is NOT_FOUND, as for an account that does not exist.
	for rpc, err := range calls(ctx, intruder, "acme", uploadID, jobID, profileID) {
		if connect.CodeOf(err) != connect.CodeNotFound {
			t.Errorf("naming acme: %s = %v, want NotFound", rpc, err)
		}
	}
	// In its own account, acme's ids name nothing.
	errs := calls(ctx, intruder, "", uploadID, jobID, profileID)
	for _, rpc := range []string{"UploadChunk", "GetUpload", "InspectUpload", "PreviewDeletion", "ExecuteDeletion", "PreviewUnsubscribe", "ExecuteUnsubscribe", "DeleteUpload", "StartPreview", "WatchPreview", "CancelPreview", "WatchJob", "ListRowOutcomes", "GetJobReport", "DownloadReport", "GetJob", "CancelJob"} {
		if connect.CodeOf(errs[rpc]) != connect.CodeNotFound {
			t.Errorf("own account, acme's ids: %s = %v, want NotFound", rpc, errs[rpc])
		}
	}
	// Nor does the audit trail show anything of acme's: it holds only the
	// intruder's own jobs (made by the calls above).
	events, err := intruder.ListAuditEvents(ctx, connect.NewRequest(&erasurev1.ListAuditEventsRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range events.Msg.GetEvents() {
		if _, err := intruder.GetJob(ctx, connect.NewRequest(&erasurev1.GetJobRequest{JobId: ev.GetJobId()})); err != nil || ev.GetJobId() == jobID {
			t.Errorf("other's audit trail shows a job that is not its own: %v (%v)", ev, err)
		}
	}
	events, err = intruder.ListAuditEvents(ctx, connect.NewRequest(&erasurev1.ListAuditEventsRequest{JobId: jobID}))
	if err != nil || len(events.Msg.GetEvents()) != 0 {
		t.Errorf("other's audit trail for acme's job: %v, %v", events, err)
	}
	found, err := intruder.VerifyErasure(ctx, connect.NewRequest(&erasurev1.VerifyErasureRequest{Spec: emailSpec(),
		Target: &erasurev1.VerifyErasureRequest_Value{Value: "carl@example.com"}}))
	if err != nil || len(found.Msg.GetErasures()) != 0 {
		t.Errorf("other verifies acme's erasure: %v, %v", found, err)
	}
	found, err = e.connect.VerifyErasure(ctx, connect.NewRequest(&erasurev1.VerifyErasureRequest{Spec: emailSpec(),
		Target: &erasurev1.VerifyErasureRequest_Value{Value: "carl@example.com"}}))
	if err != nil || len(found.Msg.GetErasures()) != 1 {
		t.Errorf("acme verifies its own erasure of carl: %v, %v", found, err)
	}
	list, err := intruder.ListJobs(ctx, connect.NewRequest(&erasurev1.ListJobsRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range list.Msg.GetJobs() {
		if j.GetJobId() == jobID || j.GetAccountId() != "other" {
			t.Fatalf("other's history shows %v", j)
		}
	}
	// Nothing of acme's changed.
	if !e.exists(t, "acme", identifier.Email, "ann@example.com") || !e.exists(t, "acme", identifier.Email, "bob@example.com") {
		t.Fatal("another account's calls deleted an acme profile")
	}
	up, err := e.connect.GetUpload(ctx, connect.NewRequest(&erasurev1.GetUploadRequest{UploadId: uploadID}))
	if err != nil || !up.Msg.GetUpload().GetComplete() {
		t.Fatalf("acme's upload after the intrusion: %v, %v", up, err)
	}
	j, err := e.connect.GetJob(ctx, connect.NewRequest(&erasurev1.GetJobRequest{JobId: jobID}))
	if err != nil || j.Msg.GetJob().GetCancelRequested() || j.Msg.GetJob().GetState() != erasurev1.JobState_JOB_STATE_SUCCEEDED {
		t.Fatalf("acme's job after the intrusion: %v, %v", j, err)
	}
}

func TestRoleTable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, deletion.Config{})
	ps := e.seed(t, newProfile("acme", identifier.Email, "ann@example.com", "s1"), newProfile("acme", identifier.Email, "bob@example.com", "s1"))

	user := e.as(t, "acme", auth.User)
	_, err := user.DeleteProfile(ctx, connect.NewRequest(&erasurev1.DeleteProfileRequest{ProfileId: ps[0].ID}))
	wantCode(t, err, connect.CodePermissionDenied, "role USER lacks the permission delete_single_profile")
	if !e.exists(t, "acme", identifier.Email, "ann@example.com") {
		t.Fatal("a refused call deleted the profile")
	}
	// A user may delete in bulk and read reports.
	stream, err := user.DeleteIdentifiers(ctx, connect.NewRequest(&erasurev1.DeleteIdentifiersRequest{Spec: emailSpec(), Values: []string{"bob@example.com"}}))
	if err := streamErr(stream, err); err != nil {
		t.Fatalf("USER bulk delete: %v", err)
	}
	if _, err := user.ListJobs(ctx, connect.NewRequest(&erasurev1.ListJobsRequest{})); err != nil {
		t.Fatalf("USER reads reports: %v", err)
	}
	for k, role := range []auth.Role{auth.Admin, auth.Owner} {
		_, err := e.as(t, "acme", role).DeleteProfile(ctx, connect.NewRequest(&erasurev1.DeleteProfileRequest{ProfileId: ps[0].ID}))
		switch {
		case k == 0 && err != nil:
			t.Fatalf("%s DeleteProfile: %v", role, err)
		case k == 1 && connect.CodeOf(err) != connect.CodeNotFound:
			t.Fatalf("%s DeleteProfile of a profile already erased: %v, want NOT_FOUND", role, err)
		}
	}
	if e.exists(t, "acme", identifier.Email, "ann@example.com") {
		t.Fatal("an admin's DeleteProfile did not delete")
	}
}
