package server_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	erasurev1 "github.com/erasure-dev/erasure/gen/erasure/v1"
	"github.com/erasure-dev/erasure/gen/erasure/v1/erasurev1connect"
	"github.com/erasure-dev/erasure/internal/auth"
	"github.com/erasure-dev/erasure/internal/deletion"
	"github.com/erasure-dev/erasure/internal/identifier"
	"github.com/erasure-dev/erasure/internal/storagetest"
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
	// One row per batch and a checkpoint after each, so the long job is
	// still running when it is cancelled.
	e := newEnv(t, deletion.Config{BatchSize: 1, CheckpointInterval: time.Millisecond, MaxJobsPerAccount: 1})
	var many []string
	for i := range 200 {
		many = append(many, fmt.Sprintf("m%d@example.com", i))
		e.seed(t, newProfile("acme", identifier.Email, many[i], "s1"))
	}
	ps := e.seed(t,
		newProfile("acme", identifier.Email, "ann@example.com", "s1"),
		newProfile("acme", identifier.Email, "bob@example.com", "s1", "s2"),
		newProfile("other", identifier.Email, "ann@example.com", "s1"),
	)
	bobID := ps[1].ID
	uma := e.client(t, auth.Principal{Account: "acme", Subject: "uma", Kind: auth.KindUser, Role: auth.User})
	adam := e.client(t, auth.Principal{Account: "acme", Subject: "adam", Kind: auth.KindOperator, Role: auth.Admin})
	olga := e.client(t, auth.Principal{Account: "acme", Subject: "olga", Kind: auth.KindUser, Role: auth.Owner})

	list := deleteList(t, uma, "ann@example.com", "ANN@example.com", "nobody@example.com", "not an address")
	single, err := adam.DeleteProfile(ctx, connect.NewRequest(&erasurev1.DeleteProfileRequest{ProfileId: bobID}))
	if err != nil {
		t.Fatal(err)
	}
	// A long job, cancelled by someone else than who started it; while it
	// runs, a second job of the account waits in the queue (one job per
	// account runs at once) and is cancelled there.
	stream, err := uma.DeleteIdentifiers(ctx, connect.NewRequest(&erasurev1.DeleteIdentifiersRequest{Spec: emailSpec(), Values: many}))
	if err != nil {
		t.Fatal(err)
	}
	var cancelled, queued *erasurev1.Job
	for stream.Receive() {
		cancelled = stream.Msg().GetJob()
		if queued == nil && cancelled.GetCounts().GetRows() > 0 {
			q, err := adam.DeleteIdentifiers(ctx, connect.NewRequest(&erasurev1.DeleteIdentifiersRequest{Spec: emailSpec(), Values: []string{"m199@example.com"}}))
			if err != nil || !q.Receive() {
				t.Fatalf("second job: %v %v", err, q.Err())
			}
			queued = q.Msg().GetJob()
			res, err := olga.CancelJob(ctx, connect.NewRequest(&erasurev1.CancelJobRequest{JobId: queued.GetJobId()}))
			if err != nil {
				t.Fatal(err)
			}
			if queued = res.Msg.GetJob(); queued.GetState() != erasurev1.JobState_JOB_STATE_CANCELLED || queued.GetStartTime() != nil {
				t.Fatalf("the second job was not cancelled while queued: %v", queued)
			}
			q.Close()
			if _, err := olga.CancelJob(ctx, connect.NewRequest(&erasurev1.CancelJobRequest{JobId: cancelled.GetJobId()})); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if cancelled.GetState() != erasurev1.JobState_JOB_STATE_CANCELLED || cancelled.GetCounts().GetRows() >= 200 {
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
	// Per job, newest first.
	byJob := func(id string) []string {
		var out []string
		for _, line := range trail {
			if rest, ok := strings.CutPrefix(line, id+" "); ok {
				out = append(out, rest)
			}
		}
		return out
	}
	c := cancelled.GetCounts()
	for _, w := range []struct {
		job  string
		want []string
	}{
		{list.GetJobId(), []string{
			"AUDIT_ACTION_JOB_FINISHED uma/user/USER JOB_STATE_SUCCEEDED deleted=1 rows=4",
			"AUDIT_ACTION_JOB_STARTED uma/user/USER JOB_STATE_QUEUED deleted=0 rows=0"}},
		{single.Msg.GetJob().GetJobId(), []string{
			"AUDIT_ACTION_JOB_FINISHED adam/operator/ADMIN JOB_STATE_SUCCEEDED deleted=1 rows=1",
			"AUDIT_ACTION_JOB_STARTED adam/operator/ADMIN JOB_STATE_QUEUED deleted=0 rows=0"}},
		{queued.GetJobId(), []string{
			"AUDIT_ACTION_JOB_FINISHED adam/operator/ADMIN JOB_STATE_CANCELLED deleted=0 rows=0",
			"AUDIT_ACTION_JOB_CANCEL_REQUESTED olga/user/OWNER JOB_STATE_QUEUED deleted=0 rows=0", // the state when it was asked
			"AUDIT_ACTION_JOB_STARTED adam/operator/ADMIN JOB_STATE_QUEUED deleted=0 rows=0"}},
		{cancelled.GetJobId(), []string{
			fmt.Sprintf("AUDIT_ACTION_JOB_FINISHED uma/user/USER JOB_STATE_CANCELLED deleted=%d rows=%d", c.GetDeleted(), c.GetRows()),
			"CANCEL", // recorded while the job ran: its counts are those of that moment
			"AUDIT_ACTION_JOB_STARTED uma/user/USER JOB_STATE_QUEUED deleted=0 rows=0"}},
	} {
		got := byJob(w.job)
		if len(got) != len(w.want) {
			t.Errorf("job %s: trail\n%s\nwant\n%s", w.job, strings.Join(got, "\n"), strings.Join(w.want, "\n"))
			continue
		}
		for i := range got {
			if w.want[i] == "CANCEL" {
				if !strings.HasPrefix(got[i], "AUDIT_ACTION_JOB_CANCEL_REQUESTED olga/user/OWNER JOB_STATE_RUNNING") {
					t.Errorf("job %s event %d: %s, want the cancel request by olga", w.job, i, got[i])
				}
			} else if got[i] != w.want[i] {
				t.Errorf("job %s event %d: %s\nwant %s", w.job, i, got[i], w.want[i])
			}
		}
	}
	if len(trail) != 10 {
		t.Errorf("%d events in the trail, want 10:\n%s", len(trail), strings.Join(trail, "\n"))
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

	// The same address erased in two accounts has two unrelated hashes:
	// each account has its own secret.
	otherJob := deleteList(t, otherOwner, "ann@example.com")
	acmeHash, otherHash := erasureHash(t, list.GetJobId(), 1), erasureHash(t, otherJob.GetJobId(), 1)
	if len(acmeHash) != 32 || len(otherHash) != 32 || bytes.Equal(acmeHash, otherHash) {
		t.Errorf("ann's key hashes: acme %x, other %x; want two different 32-byte HMACs", acmeHash, otherHash)
	}

	// What is stored holds no identifier and no profile id in clear.
	stored := dumpCollections(t, "audit_events", "audit_erasures")
	if !strings.Contains(stored, list.GetJobId()) {
		t.Fatal("the dump of the audit collections is empty; the check below would prove nothing")
	}
	for _, secret := range []string{"ann@example.com", "bob@example.com", "nobody@example.com", "m0@example.com", bobID, ps[0].ID} {
		if strings.Contains(strings.ToLower(stored), strings.ToLower(secret)) {
			t.Errorf("the audit trail holds %q in clear", secret)
		}
	}
}

// rawDatabase is the test's database as stored.
func rawDatabase(t *testing.T) *mongo.Database { return storagetest.Database(t) }

// dumpCollections returns the test database's documents in the collections
// as extended JSON.
func dumpCollections(t *testing.T, names ...string) string {
	t.Helper()
	ctx := context.Background()
	db := rawDatabase(t)
	var b strings.Builder
	for _, name := range names {
		cur, err := db.Collection(name).Find(ctx, bson.D{})
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

// erasureHash returns the key hash of a job's row in the audit trail.
func erasureHash(t *testing.T, jobID string, row int64) []byte {
	t.Helper()
	var page struct {
		Rows    []int64  `bson:"rows"`
		KeyHash [][]byte `bson:"key_hash"`
	}
	err := rawDatabase(t).Collection("audit_erasures").FindOne(context.Background(), bson.D{{"job_id", jobID}, {"rows", row}}).Decode(&page)
	if err != nil {
		t.Fatalf("erasure record of job %s row %d: %v", jobID, row, err)
	}
	i := slices.Index(page.Rows, row)
	if i < 0 || i >= len(page.KeyHash) {
		t.Fatalf("erasure record page of job %s: rows %v, %d key hashes", jobID, page.Rows, len(page.KeyHash))
	}
	return page.KeyHash[i]
}
