package server_test

import (
	"context"
	"testing"
	"time"

	"connectrpc.com/connect"

	erasurev1 "github.com/erasure-dev/erasure/gen/erasure/v1"
	"github.com/erasure-dev/erasure/internal/auth"
	"github.com/erasure-dev/erasure/internal/deletion"
	"github.com/erasure-dev/erasure/internal/identifier"
	"github.com/erasure-dev/erasure/internal/job"
)

// Features are activated per account and checked like permissions: a call
// needing one the account lacks is PERMISSION_DENIED naming it, and deletes
// nothing.
func TestFeatureFlags(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// Accounts without stored features get only file deletion.
	e := newEnv(t, deletion.Config{DefaultFeatures: []deletion.Feature{deletion.FileDeletion}})
	ps := e.seed(t, newProfile("acme", identifier.Email, "ann@example.com", "s1"), newProfile("beta", identifier.Email, "ann@example.com", "s1"))

	_, err := e.connect.DeleteProfile(ctx, connect.NewRequest(&erasurev1.DeleteProfileRequest{ProfileId: ps[0].ID}))
	wantCode(t, err, connect.CodePermissionDenied, "the feature profile_deletion is not activated for this account")
	stream, err := e.connect.DeleteIdentifiers(ctx, connect.NewRequest(&erasurev1.DeleteIdentifiersRequest{Spec: emailSpec(), Values: []string{"ann@example.com"}}))
	err = streamErr(stream, err)
	wantCode(t, err, connect.CodePermissionDenied, "the feature list_deletion is not activated")
	if !e.exists(t, "acme", identifier.Email, "ann@example.com") {
		t.Fatal("a refused call deleted a profile")
	}
	// File deletion is on by default here.
	e.uploadGRPC(t, "acme", "a.csv", []byte("Email\nx@example.com\n"))

	// Stored features replace the defaults, for that account only.
	if err := e.svc.SetFeatures(ctx, "beta", []deletion.Feature{deletion.ProfileDeletion}); err != nil {
		t.Fatal(err)
	}
	beta := e.as(t, "beta", auth.Owner)
	if _, err := beta.DeleteProfile(ctx, connect.NewRequest(&erasurev1.DeleteProfileRequest{ProfileId: ps[1].ID})); err != nil {
		t.Fatalf("beta has profile_deletion: %v", err)
	}
	if e.exists(t, "beta", identifier.Email, "ann@example.com") {
		t.Fatal("beta's DeleteProfile did not delete")
	}
	_, err = beta.CreateUpload(ctx, connect.NewRequest(&erasurev1.CreateUploadRequest{Metadata: &erasurev1.UploadMetadata{Filename: "a.csv"}}))
	wantCode(t, err, connect.CodePermissionDenied, "file_deletion")
	_, err = beta.PreviewDeletion(ctx, connect.NewRequest(&erasurev1.PreviewDeletionRequest{Spec: emailSpec(),
		Source: &erasurev1.FileSource{UploadId: "0123456789abcdef01234567", Column: &erasurev1.FileSource_ColumnName{ColumnName: "Email"}}}))
	wantCode(t, err, connect.CodePermissionDenied, "file_deletion")
	_, err = beta.CreateUpload(ctx, connect.NewRequest(&erasurev1.CreateUploadRequest{Metadata: &erasurev1.UploadMetadata{Filename: "not a spreadsheet.pdf"}}))
	wantCode(t, err, connect.CodePermissionDenied, "file_deletion") // the feature before the request
	ex, err := beta.ExecuteDeletion(ctx, connect.NewRequest(&erasurev1.ExecuteDeletionRequest{Spec: emailSpec(),
		Source: &erasurev1.FileSource{UploadId: "0123456789abcdef01234567", Column: &erasurev1.FileSource_ColumnName{ColumnName: "Email"}}}))
	err = streamErr(ex, err)
	wantCode(t, err, connect.CodePermissionDenied, "the feature file_deletion is not activated")
	_, err = beta.PreviewDeletion(ctx, connect.NewRequest(&erasurev1.PreviewDeletionRequest{})) // no spec, no source
	wantCode(t, err, connect.CodePermissionDenied, "file_deletion")
	if err := e.svc.SetFeatures(ctx, "beta", nil); err != nil {
		t.Fatal(err)
	}
	_, err = beta.DeleteProfile(ctx, connect.NewRequest(&erasurev1.DeleteProfileRequest{ProfileId: "not an id"}))
	wantCode(t, err, connect.CodePermissionDenied, "profile_deletion")
	// The role check comes first: a USER is told about the role, not the feature.
	_, err = e.as(t, "beta", auth.User).DeleteProfile(ctx, connect.NewRequest(&erasurev1.DeleteProfileRequest{ProfileId: ps[1].ID}))
	wantCode(t, err, connect.CodePermissionDenied, "role USER lacks the permission delete_single_profile")
}

// Per-account limits on uploads in progress and active jobs refuse the call
// with RESOURCE_EXHAUSTED and advice, for that account only.
func TestPerAccountLimits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, deletion.Config{MaxUploadsPerAccount: 2, MaxActiveJobsPerAccount: 1})
	ps := e.seed(t, newProfile("acme", identifier.Email, "ann@example.com", "s1"), newProfile("beta", identifier.Email, "ann@example.com", "s1"))

	create := func(c interface {
		CreateUpload(context.Context, *connect.Request[erasurev1.CreateUploadRequest]) (*connect.Response[erasurev1.CreateUploadResponse], error)
	}) (string, error) {
		res, err := c.CreateUpload(ctx, connect.NewRequest(&erasurev1.CreateUploadRequest{Metadata: &erasurev1.UploadMetadata{Filename: "a.csv"}}))
		if err != nil {
			return "", err
		}
		return res.Msg.GetUpload().GetUploadId(), nil
	}
	first, err := create(e.connect)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := create(e.connect); err != nil {
		t.Fatal(err)
	}
	_, err = create(e.connect)
	wantCode(t, err, connect.CodeResourceExhausted, "2 uploads in progress")
	if _, err := create(e.as(t, "beta", auth.Owner)); err != nil {
		t.Fatalf("another account is not limited by acme's uploads: %v", err)
	}
	// Finishing an upload frees its place.
	if _, err := e.connect.UploadChunk(ctx, connect.NewRequest(&erasurev1.UploadChunkRequest{UploadId: first, Data: []byte("Email\n"), Last: true})); err != nil {
		t.Fatal(err)
	}
	if _, err := create(e.connect); err != nil {
		t.Fatalf("after one upload completed: %v", err)
	}

	// A job of acme's that runs elsewhere (its lease is far from expiry, so
	// no worker here takes it) fills acme's one place.
	lease := time.Now().Add(time.Hour)
	busy := &job.Job{AccountID: "acme", Kind: job.FromList, Action: job.Delete, State: job.Running, IdentifierType: identifier.Email,
		Lease: job.Lease{Owner: "elsewhere", Attempt: 1, ExpiresAt: &lease}}
	if err := e.store.CreateJob(ctx, busy, []string{"x@example.com"}); err != nil {
		t.Fatal(err)
	}
	_, err = e.connect.DeleteProfile(ctx, connect.NewRequest(&erasurev1.DeleteProfileRequest{ProfileId: ps[0].ID}))
	wantCode(t, err, connect.CodeResourceExhausted, "1 deletions queued or running")
	stream, err := e.connect.DeleteIdentifiers(ctx, connect.NewRequest(&erasurev1.DeleteIdentifiersRequest{Spec: emailSpec(), Values: []string{"ann@example.com"}}))
	err = streamErr(stream, err)
	wantCode(t, err, connect.CodeResourceExhausted, "cancel one (CancelJob)")
	if !e.exists(t, "acme", identifier.Email, "ann@example.com") {
		t.Fatal("a refused call deleted a profile")
	}
	if _, err := e.as(t, "beta", auth.Owner).DeleteProfile(ctx, connect.NewRequest(&erasurev1.DeleteProfileRequest{ProfileId: ps[1].ID})); err != nil {
		t.Fatalf("another account is not limited by acme's jobs: %v", err)
	}
}

// A user who sees only some sections is told how many matched profiles
// also hold data elsewhere, and is not shown the other sections' names.
func TestPreviewWarnsAboutHiddenSections(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, deletion.Config{})
	e.seed(t,
		newProfile("acme", identifier.Email, "ann@example.com", "s1"),
		newProfile("acme", identifier.Email, "bob@example.com", "s1", "secret-section"),
		newProfile("acme", identifier.Email, "carl@example.com", "secret-section"),
		newProfile("acme", identifier.Email, "dora@example.com", "s2"),
	)
	id := e.uploadGRPC(t, "acme", "a.csv", []byte("Email\nann@example.com\nbob@example.com\ncarl@example.com\nnobody@example.com\n"))
	req := &erasurev1.PreviewDeletionRequest{Spec: emailSpec(), Source: &erasurev1.FileSource{UploadId: id, Column: &erasurev1.FileSource_ColumnName{ColumnName: "Email"}}}

	limited := e.client(t, auth.Principal{Account: "acme", Subject: "uma", Kind: auth.KindUser, Role: auth.User, Sections: []string{"s1", "s2"}})
	res, err := limited.PreviewDeletion(ctx, connect.NewRequest(req))
	if err != nil {
		t.Fatal(err)
	}
	p := res.Msg
	if p.GetCounts().GetMatched() != 3 || p.GetHiddenSectionProfiles() != 2 || sections(p.GetSections()) != "s1=2" {
		t.Fatalf("limited preview: matched %d, hidden %d, sections %s; want 3, 2 (bob and carl), s1=2",
			p.GetCounts().GetMatched(), p.GetHiddenSectionProfiles(), sections(p.GetSections()))
	}
	// Seeing every section: nothing hidden, every section listed.
	res, err = e.connect.PreviewDeletion(ctx, connect.NewRequest(req))
	if err != nil {
		t.Fatal(err)
	}
	if p := res.Msg; p.GetHiddenSectionProfiles() != 0 || sections(p.GetSections()) != "s1=2 secret-section=2" {
		t.Fatalf("full preview: hidden %d, sections %s", p.GetHiddenSectionProfiles(), sections(p.GetSections()))
	}
}
