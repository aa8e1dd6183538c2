package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/erasure-dev/erasure/auth"
	"github.com/erasure-dev/erasure/deletion"
	erasurev1 "github.com/erasure-dev/erasure/gen/erasure/v1"
	"github.com/erasure-dev/erasure/gen/erasure/v1/erasurev1connect"
	"github.com/erasure-dev/erasure/storagetest"
)

// deleteList runs a DeleteIdentifiers job to its end and returns its report.
func deleteList(t *testing.T, c erasurev1connect.ErasureServiceClient, values ...string) *erasurev1.Job {
	t.Helper()
	stream, err := c.DeleteIdentifiers(context.Background(), connect.NewRequest(&erasurev1.DeleteIdentifiersRequest{Spec: emailSpec(), Values: values}))
	if err != nil {
		t.Fatal(err)
	}
	var last *erasurev1.Job
	for stream.Receive() {
		last = stream.Msg().GetJob()
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	return last
}

// The audit trail records who started, cancelled and finished every
// deletion with its counts, proves each erasure to whoever presents the
// identifier, and holds no identifier itself.
func TestAuditTrail(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, deletion.Config{})
	var many []string
	for i := range 60 {
		many = append(many, fmt.Sprintf("m%d@example.com", i))
		e.seed(t, profile("acme", "email", many[i], "s1"))
	}
	ps := e.seed(t,
		profile("acme", "email", "ann@example.com", "s1"),
		profile("acme", "email", "bob@example.com", "s1", "s2"),
		profile("other", "email", "ann@example.com", "s1"),
	)
	bobID := ps[1].ID.Hex()
	uma := e.client(t, auth.Principal{Account: "acme", Subject: "uma", Kind: auth.KindUser, Role: auth.User})
	adam := e.client(t, auth.Principal{Account: "acme", Subject: "adam", Kind: auth.KindOperator, Role: auth.Admin})
	olga := e.client(t, auth.Principal{Account: "acme", Subject: "olga", Kind: auth.KindUser, Role: auth.Owner})

	list := deleteList(t, uma, "ann@example.com", "ANN@example.com", "nobody@example.com", "not an address")
	single, err := adam.DeleteProfile(ctx, connect.NewRequest(&erasurev1.DeleteProfileRequest{ProfileId: bobID}))
	if err != nil {
		t.Fatal(err)
	}
	// A job cancelled by someone else than who started it.
	stream, err := uma.DeleteIdentifiers(ctx, connect.NewRequest(&erasurev1.DeleteIdentifiersRequest{Spec: emailSpec(), Values: many}))
	if err != nil {
		t.Fatal(err)
	}
	var cancelled *erasurev1.Job
	for stream.Receive() {
		cancelled = stream.Msg().GetJob()
		if !cancelled.GetCancelRequested() && cancelled.GetCounts().GetRows() > 0 {
			if _, err := olga.CancelJob(ctx, connect.NewRequest(&erasurev1.CancelJobRequest{JobId: cancelled.GetJobId()})); err != nil {
				t.Fatal(err)
			}
			cancelled.CancelRequested = true
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if cancelled.GetState() != erasurev1.JobState_JOB_STATE_CANCELLED {
		t.Fatalf("the long job was not cancelled: %v", cancelled)
	}

	// A user may not read the trail.
	_, err = uma.ListAuditEvents(ctx, connect.NewRequest(&erasurev1.ListAuditEventsRequest{}))
	wantCode(t, err, connect.CodePermissionDenied, "read_audit_trail")
	_, err = uma.VerifyErasure(ctx, connect.NewRequest(&erasurev1.VerifyErasureRequest{Target: &erasurev1.VerifyErasureRequest_ProfileId{ProfileId: bobID}}))
	wantCode(t, err, connect.CodePermissionDenied, "read_audit_trail")

	// The whole trail, read two events a page, newest first.
	var trail []string
	token := ""
	for pages := 0; ; pages++ {
		res, err := olga.ListAuditEvents(ctx, connect.NewRequest(&erasurev1.ListAuditEventsRequest{PageSize: 2, PageToken: token}))
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range res.Msg.GetEvents() {
			c := ev.GetCounts()
			trail = append(trail, fmt.Sprintf("%s %s %s/%s/%s %s deleted=%d rows=%d", ev.GetJobId(), ev.GetAction(),
				ev.GetActor().GetSubject(), ev.GetActor().GetKind(), ev.GetActor().GetRole(), ev.GetJobState(), c.GetDeleted(), c.GetRows()))
		}
		if token = res.Msg.GetNextPageToken(); token == "" {
			break
		}
		if pages > 10 {
			t.Fatal("paging does not end")
		}
	}
	want := []string{
		fmt.Sprintf("%s AUDIT_ACTION_JOB_FINISHED uma/user/USER JOB_STATE_CANCELLED deleted=%d rows=%d", cancelled.GetJobId(), cancelled.GetCounts().GetDeleted(), cancelled.GetCounts().GetRows()),
		"CANCEL",
		fmt.Sprintf("%s AUDIT_ACTION_JOB_STARTED uma/user/USER JOB_STATE_QUEUED deleted=0 rows=0", cancelled.GetJobId()),
		fmt.Sprintf("%s AUDIT_ACTION_JOB_FINISHED adam/operator/ADMIN JOB_STATE_SUCCEEDED deleted=1 rows=1", single.Msg.GetJob().GetJobId()),
		fmt.Sprintf("%s AUDIT_ACTION_JOB_STARTED adam/operator/ADMIN JOB_STATE_QUEUED deleted=0 rows=0", single.Msg.GetJob().GetJobId()),
		fmt.Sprintf("%s AUDIT_ACTION_JOB_FINISHED uma/user/USER JOB_STATE_SUCCEEDED deleted=1 rows=4", list.GetJobId()),
		fmt.Sprintf("%s AUDIT_ACTION_JOB_STARTED uma/user/USER JOB_STATE_QUEUED deleted=0 rows=0", list.GetJobId()),
	}
	if len(trail) != len(want) {
		t.Fatalf("trail:\n%s\nwant %d events", strings.Join(trail, "\n"), len(want))
	}
	for i := range want {
		if want[i] == "CANCEL" {
			// Recorded while the job ran: its counts are those of that moment.
			if !strings.HasPrefix(trail[i], cancelled.GetJobId()+" AUDIT_ACTION_JOB_CANCEL_REQUESTED olga/user/OWNER JOB_STATE_RUNNING") {
				t.Errorf("event %d: %s, want the cancel request by olga", i, trail[i])
			}
			continue
		}
		if trail[i] != want[i] {
			t.Errorf("event %d: %s\nwant      %s", i, trail[i], want[i])
		}
	}
	// One job's events only.
	res, err := adam.ListAuditEvents(ctx, connect.NewRequest(&erasurev1.ListAuditEventsRequest{JobId: list.GetJobId()}))
	if err != nil || len(res.Msg.GetEvents()) != 2 {
		t.Fatalf("the list job's events: %v, %v", res, err)
	}

	// Verifying erasures: by identifier as a file would write it, by
	// profile id, and for people not erased.
	verify := func(c erasurev1connect.ErasureServiceClient, req *erasurev1.VerifyErasureRequest) string {
		t.Helper()
		res, err := c.VerifyErasure(ctx, connect.NewRequest(req))
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, er := range res.Msg.GetErasures() {
			out = append(out, fmt.Sprintf("%s:%d", er.GetJobId(), er.GetRow()))
		}
		return strings.Join(out, ",")
	}
	byValue := func(v string) *erasurev1.VerifyErasureRequest {
		return &erasurev1.VerifyErasureRequest{Spec: emailSpec(), Target: &erasurev1.VerifyErasureRequest_Value{Value: v}}
	}
	for _, c := range []struct {
		name string
		req  *erasurev1.VerifyErasureRequest
		want string
	}{
		{"ann by e-mail", byValue("  Ann@Example.COM "), list.GetJobId() + ":1"},
		{"bob by e-mail", byValue("bob@example.com"), single.Msg.GetJob().GetJobId() + ":1"},
		{"bob by profile id", &erasurev1.VerifyErasureRequest{Target: &erasurev1.VerifyErasureRequest_ProfileId{ProfileId: bobID}}, single.Msg.GetJob().GetJobId() + ":1"},
		{"a row that matched nothing", byValue("nobody@example.com"), ""},
		{"a profile the cancelled job did not reach", byValue(many[59]), ""},
	} {
		if got := verify(adam, c.req); got != c.want {
			t.Errorf("%s: erasures %q, want %q", c.name, got, c.want)
		}
	}
	// Another account's owner finds none of acme's erasures, not even of an
	// address it also has.
	otherOwner := e.as(t, "other", auth.Owner)
	if got := verify(otherOwner, byValue("ann@example.com")); got != "" {
		t.Errorf("another account sees acme's erasure: %s", got)
	}
	if res, err := otherOwner.ListAuditEvents(ctx, connect.NewRequest(&erasurev1.ListAuditEventsRequest{})); err != nil || len(res.Msg.GetEvents()) != 0 {
		t.Errorf("another account's trail: %v, %v", res, err)
	}
	_, err = adam.VerifyErasure(ctx, connect.NewRequest(byValue("ann at example")))
	wantCode(t, err, connect.CodeInvalidArgument, "not a valid e-mail")
	if err != nil && strings.Contains(err.Error(), "ann at example") {
		t.Errorf("the error echoes the value: %v", err)
	}

	// What is stored holds no identifier and no profile id in clear.
	stored := dumpCollections(t, "audit_events", "audit_erasures")
	if !strings.Contains(stored, list.GetJobId()) {
		t.Fatal("the dump of the audit collections is empty; the check below would prove nothing")
	}
	for _, secret := range []string{"ann@example.com", "bob@example.com", "nobody@example.com", "m0@example.com", bobID, ps[0].ID.Hex()} {
		if strings.Contains(strings.ToLower(stored), strings.ToLower(secret)) {
			t.Errorf("the audit trail holds %q in clear", secret)
		}
	}
}

// dumpCollections returns the test database's documents in the collections
// as extended JSON, read with the raw driver.
func dumpCollections(t *testing.T, names ...string) string {
	t.Helper()
	ctx := context.Background()
	c, err := mongo.Connect(options.Client().ApplyURI(storagetest.URI(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(ctx)
	var b strings.Builder
	for _, name := range names {
		cur, err := c.Database(storagetest.DatabaseName(t)).Collection(name).Find(ctx, bson.D{})
		if err != nil {
			t.Fatal(err)
		}
		for cur.Next(ctx) {
			js, err := bson.MarshalExtJSON(cur.Current, false, false)
			if err != nil {
				t.Fatal(err)
			}
			b.Write(js)
			b.WriteByte('\n')
		}
		if err := cur.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}
