package server_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/status"

	erasurev1 "github.com/erasure-dev/erasure/gen/erasure/v1"
	"github.com/erasure-dev/erasure/gen/erasure/v1/erasurev1connect"
	"github.com/erasure-dev/erasure/internal/auth"
	"github.com/erasure-dev/erasure/internal/deletion"
	"github.com/erasure-dev/erasure/internal/identifier"
)

// details returns a Connect error's ErrorInfo and the fields its BadRequest
// names.
func details(t *testing.T, err error) (*errdetails.ErrorInfo, []string) {
	t.Helper()
	var ce *connect.Error
	if !errors.As(err, &ce) {
		t.Fatalf("%v is not a status", err)
	}
	var info *errdetails.ErrorInfo
	var fields []string
	for _, d := range ce.Details() {
		v, err := d.Value()
		if err != nil {
			t.Fatal(err)
		}
		switch v := v.(type) {
		case *errdetails.ErrorInfo:
			info = v
		case *errdetails.BadRequest:
			for _, f := range v.GetFieldViolations() {
				fields = append(fields, f.GetField())
			}
		}
	}
	if info == nil || info.GetDomain() != "erasure.v1" {
		t.Fatalf("%v carries no ErrorInfo of erasure.v1: %v", err, info)
	}
	return info, fields
}

// Every refusal says what went wrong for a program too: a stable reason,
// metadata and the field at fault, over Connect and gRPC alike; values
// echoed are cut short.
func TestErrorsCarryReasons(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, deletion.Config{MaxListItems: 3})
	ps := e.seed(t, newProfile("acme", identifier.Email, "ann@example.com", "s1"))
	long := strings.Repeat("x", 5000)
	upload := e.uploadChunks(t, "acme", "list.csv", []byte("Email\n"+long+"\nann@example.com\n"), 1000)
	src := func(column string) *erasurev1.FileSource {
		return &erasurev1.FileSource{UploadId: upload, Column: &erasurev1.FileSource_ColumnName{ColumnName: column}}
	}
	for _, c := range []struct {
		name   string
		call   func() error
		code   connect.Code
		reason string
		meta   map[string]string
		field  string
	}{
		{"no identifier type", func() error {
			_, err := e.connect.PreviewDeletion(ctx, connect.NewRequest(&erasurev1.PreviewDeletionRequest{Source: src("Email")}))
			return err
		}, connect.CodeInvalidArgument, "IDENTIFIER_TYPE_REQUIRED", nil, "spec.identifier_type"},
		{"column not found", func() error {
			_, err := e.connect.PreviewDeletion(ctx, connect.NewRequest(&erasurev1.PreviewDeletionRequest{Source: src(long), Spec: emailSpec()}))
			return err
		}, connect.CodeInvalidArgument, "COLUMN_NOT_FOUND", map[string]string{"column_name": strings.Repeat("x", 40) + "…"}, "source.column_name"},
		{"offset", func() error {
			res, err := e.connect.CreateUpload(ctx, connect.NewRequest(&erasurev1.CreateUploadRequest{Metadata: &erasurev1.UploadMetadata{Filename: "a.csv"}}))
			if err != nil {
				return err
			}
			_, err = e.connect.UploadChunk(ctx, connect.NewRequest(&erasurev1.UploadChunkRequest{UploadId: res.Msg.GetUpload().GetUploadId(), Offset: 5, Data: []byte("x")}))
			return err
		}, connect.CodeFailedPrecondition, "UPLOAD_OFFSET_MISMATCH", map[string]string{"received_bytes": "0"}, "offset"},
		{"list too long", func() error {
			s, err := e.connect.DeleteIdentifiers(ctx, connect.NewRequest(&erasurev1.DeleteIdentifiersRequest{Spec: emailSpec(), Values: []string{"a", "b", "c", "d"}}))
			return streamErr(s, err)
		}, connect.CodeResourceExhausted, "LIST_TOO_LONG", map[string]string{"limit": "3"}, "values"},
		{"role", func() error {
			_, err := e.as(t, "acme", auth.User).DeleteProfile(ctx, connect.NewRequest(&erasurev1.DeleteProfileRequest{ProfileId: ps[0].ID}))
			return err
		}, connect.CodePermissionDenied, "PERMISSION_MISSING", map[string]string{"role": "USER", "permissions": "delete_single_profile"}, ""},
		{"job not found", func() error {
			_, err := e.connect.GetJob(ctx, connect.NewRequest(&erasurev1.GetJobRequest{JobId: "0123456789abcdef01234567"}))
			return err
		}, connect.CodeNotFound, "JOB_NOT_FOUND", map[string]string{"job_id": "0123456789abcdef01234567"}, ""},
		{"no token", func() error {
			_, err := erasurev1connect.NewErasureServiceClient(http.DefaultClient, e.baseURL).ListJobs(ctx, connect.NewRequest(&erasurev1.ListJobsRequest{}))
			return err
		}, connect.CodeUnauthenticated, "TOKEN_MISSING", nil, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.call()
			if connect.CodeOf(err) != c.code {
				t.Fatalf("code %v (%v), want %v", connect.CodeOf(err), err, c.code)
			}
			if strings.Contains(err.Error(), long[:100]) {
				t.Fatalf("the error echoes a long value whole: %.200s", err.Error())
			}
			info, fields := details(t, err)
			if c.reason != "" && info.GetReason() != c.reason {
				t.Errorf("reason %q, want %q", info.GetReason(), c.reason)
			}
			for k, v := range c.meta {
				if info.GetMetadata()[k] != v {
					t.Errorf("metadata %v, want %s=%s", info.GetMetadata(), k, v)
				}
			}
			if c.field != "" && (len(fields) != 1 || fields[0] != c.field) {
				t.Errorf("fields at fault %v, want %s", fields, c.field)
			}
		})
	}

	// The same over gRPC: the details travel in the status.
	_, err := e.grpc.PreviewDeletion(ctx, &erasurev1.PreviewDeletionRequest{AccountId: "acme", Source: src("Email")})
	var reason string
	for _, d := range status.Convert(err).Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			reason = info.GetReason()
		}
	}
	if reason != "IDENTIFIER_TYPE_REQUIRED" {
		t.Fatalf("gRPC status %v: reason %q", err, reason)
	}

	// A preview's samples cut long values too.
	p, err := e.connect.PreviewDeletion(ctx, connect.NewRequest(&erasurev1.PreviewDeletionRequest{Source: src("Email"), Spec: emailSpec()}))
	if err != nil {
		t.Fatal(err)
	}
	if s := p.Msg.GetInvalidSamples(); len(s) != 1 || utf8.RuneCountInString(s[0].GetValue()) > 41 {
		t.Fatalf("invalid samples %v", s)
	}
}
