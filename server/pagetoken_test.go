package server_test

import (
	"context"
	"testing"

	"connectrpc.com/connect"

	erasurev1 "github.com/erasure-dev/erasure/gen/erasure/v1"
	"github.com/erasure-dev/erasure/internal/auth"
	"github.com/erasure-dev/erasure/internal/deletion"
)

// Page tokens are opaque and bound to the account and the query: a token
// pages on for whoever got it, and is refused with INVALID_PAGE_TOKEN when
// altered, made up (a plain job id, as tokens once were), taken to another
// account, or used with another query.
func TestPageTokensAreBound(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, deletion.Config{})
	acme, other := e.as(t, "acme", auth.Owner), e.as(t, "other", auth.Owner)
	a := deleteList(t, acme, "a@example.com")
	b := deleteList(t, acme, "b@example.com")
	deleteList(t, acme, "c@example.com")
	deleteList(t, other, "d@example.com")

	first, err := acme.ListJobs(ctx, connect.NewRequest(&erasurev1.ListJobsRequest{PageSize: 1}))
	if err != nil {
		t.Fatal(err)
	}
	token := first.Msg.GetNextPageToken()
	second, err := acme.ListJobs(ctx, connect.NewRequest(&erasurev1.ListJobsRequest{PageSize: 1, PageToken: token}))
	if err != nil || len(second.Msg.GetJobs()) != 1 || second.Msg.GetJobs()[0].GetJobId() == first.Msg.GetJobs()[0].GetJobId() {
		t.Fatalf("the second page: %v, %v", second, err)
	}
	events, err := acme.ListAuditEvents(ctx, connect.NewRequest(&erasurev1.ListAuditEventsRequest{PageSize: 1, JobId: a.GetJobId()}))
	if err != nil || events.Msg.GetNextPageToken() == "" {
		t.Fatalf("audit events of one job: %v, %v", events, err)
	}
	auditToken := events.Msg.GetNextPageToken()
	altered := []byte(token)
	altered[len(altered)/2] ^= 1

	refused := map[string]func() error{
		"a token altered": func() error {
			_, err := acme.ListJobs(ctx, connect.NewRequest(&erasurev1.ListJobsRequest{PageToken: string(altered)}))
			return err
		},
		"a plain job id": func() error {
			_, err := acme.ListJobs(ctx, connect.NewRequest(&erasurev1.ListJobsRequest{PageToken: b.GetJobId()}))
			return err
		},
		"another account's use": func() error {
			_, err := other.ListJobs(ctx, connect.NewRequest(&erasurev1.ListJobsRequest{PageToken: token}))
			return err
		},
		"a jobs token for the audit trail": func() error {
			_, err := acme.ListAuditEvents(ctx, connect.NewRequest(&erasurev1.ListAuditEventsRequest{PageToken: token}))
			return err
		},
		"one job's audit token for another job": func() error {
			_, err := acme.ListAuditEvents(ctx, connect.NewRequest(&erasurev1.ListAuditEventsRequest{JobId: b.GetJobId(), PageToken: auditToken}))
			return err
		},
	}
	for what, call := range refused {
		err := call()
		if info, fields := details(t, err); connect.CodeOf(err) != connect.CodeInvalidArgument || info.GetReason() != "INVALID_PAGE_TOKEN" || len(fields) != 1 || fields[0] != "page_token" {
			t.Errorf("%s: %v", what, err)
		}
	}
	if _, err := acme.ListAuditEvents(ctx, connect.NewRequest(&erasurev1.ListAuditEventsRequest{JobId: a.GetJobId(), PageToken: auditToken})); err != nil {
		t.Errorf("the audit token with its own job: %v", err)
	}
}
