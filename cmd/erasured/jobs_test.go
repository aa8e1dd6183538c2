package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/grpchealth"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	erasurev1 "github.com/erasure-dev/erasure/gen/erasure/v1"
	"github.com/erasure-dev/erasure/internal/erasuredtest"
	"github.com/erasure-dev/erasure/internal/identifier"
	"github.com/erasure-dev/erasure/internal/profile"
	"github.com/erasure-dev/erasure/internal/storagetest"
	"github.com/erasure-dev/erasure/internal/testkit"
	"github.com/erasure-dev/erasure/storage"
)

// These tests run the real erasured binary as child processes against one
// embedded engine that the test owns, so instances can be killed, stopped
// and doubled while the store lives on (and the store can be stopped while
// an instance lives on).

func TestMain(m *testing.M) { erasuredtest.Main(m) }

// The data of every job test: 240 profiles of account acme keyed by e-mail,
// the same addresses in account other, and a file of 300 rows naming 200 of
// acme's profiles plus rows that are invalid, duplicate or match nothing.
// Each profile has an e-mail consent (opted out already for every fourth)
// and an SMS consent, for the unsubscribe.
const (
	profilesPerAccount = 240
	fileRows           = 300
)

func seed(t *testing.T, uri, db string) *storage.Store {
	t.Helper()
	ctx := context.Background()
	store, err := storage.Open(ctx, storage.Options{URI: uri, Database: db})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close(context.Background()) })
	var ps []profile.Profile
	for _, account := range []string{"acme", "other"} {
		for n := range profilesPerAccount {
			id := fmt.Sprintf("%08x%016x", len(account), n+1)
			email := profile.OptIn
			if n%4 == 3 {
				email = profile.OptOut
			}
			at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
			ps = append(ps, profile.Profile{ID: id, AccountID: account, Key: profile.Key{Type: identifier.Email, Value: fmt.Sprintf("k%04d@example.com", n)},
				Sections: []profile.Section{{SectionID: fmt.Sprintf("s%d", n%3), Consents: []profile.Consent{
					{Channel: "email", Topic: "news", Status: email, At: at},
					{Channel: "sms", Topic: "news", Status: profile.OptIn, At: at},
				}}}})
		}
	}
	if err := store.InsertProfiles(ctx, ps); err != nil {
		t.Fatal(err)
	}
	return store
}

func fileData() []byte {
	var b strings.Builder
	b.WriteString("Email\n")
	for n := range fileRows {
		switch {
		case n%15 == 7:
			fmt.Fprintf(&b, "not-an-address-%d\n", n)
		case n%15 == 11:
			fmt.Fprintf(&b, "K%04d@Example.com\n", n-1) // a duplicate of the row before
		case n%10 == 9:
			fmt.Fprintf(&b, "nobody%04d@example.com\n", n)
		default:
			fmt.Fprintf(&b, "k%04d@example.com\n", n*200/fileRows)
		}
	}
	return []byte(b.String())
}

// action is what a crash test's job does: delete or unsubscribe e-mail by
// the file, or delete the profiles of a segment (those opted in to e-mail).
type action string

const (
	deleting      action = "delete"
	unsubscribing action = "unsubscribe"
	fromSegment   action = "segment"
)

// optedIn is the segment of a fromSegment job: 180 of acme's 240 profiles.
var optedIn = &erasurev1.Segment{Root: &erasurev1.SegmentGroup{Op: erasurev1.SegmentGroupOp_SEGMENT_GROUP_OP_ALL, Children: []*erasurev1.SegmentNode{
	{Node: &erasurev1.SegmentNode_Consent{Consent: &erasurev1.ConsentCondition{Channel: "email", Status: erasurev1.ConsentStatus_CONSENT_STATUS_OPT_IN}}},
}}}

// startJob uploads the file and starts a job of act by it; it returns the
// job's progress stream.
func startJob(t *testing.T, i *erasuredtest.Instance, act action) func() (*erasurev1.Job, error) {
	t.Helper()
	ctx := context.Background()
	if act == fromSegment {
		// Deleting from a segment is off by default: turn it on for acme.
		store, err := storage.Open(ctx, storage.Options{URI: i.URI, Database: i.DB})
		if err != nil {
			t.Fatal(err)
		}
		err = store.SetAccountFeatures(ctx, "acme", []string{"segment_deletion"})
		store.Close(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pre, err := i.Client.PreviewSegmentDeletion(ctx, &erasurev1.PreviewSegmentDeletionRequest{AccountId: "acme", Segment: optedIn})
		if err != nil {
			t.Fatal(err)
		}
		if pre.GetProfiles() != 180 {
			t.Fatalf("segment preview: %v, want 180 profiles", pre)
		}
		stream, err := i.Client.ExecuteSegmentDeletion(ctx, &erasurev1.ExecuteSegmentDeletionRequest{AccountId: "acme", SnapshotId: pre.GetSnapshotId(), ExpectedProfiles: 180})
		if err != nil {
			t.Fatal(err)
		}
		return func() (*erasurev1.Job, error) {
			res, err := stream.Recv()
			return res.GetJob(), err
		}
	}
	up, err := i.Client.UploadFile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := up.Send(&erasurev1.UploadFileRequest{Payload: &erasurev1.UploadFileRequest_Metadata{Metadata: &erasurev1.UploadMetadata{AccountId: "acme", Filename: "list.csv"}}}); err != nil {
		t.Fatal(err)
	}
	if err := up.Send(&erasurev1.UploadFileRequest{Payload: &erasurev1.UploadFileRequest_Chunk{Chunk: fileData()}}); err != nil {
		t.Fatal(err)
	}
	res, err := up.CloseAndRecv()
	if err != nil {
		t.Fatal(err)
	}
	source := &erasurev1.FileSource{UploadId: res.GetUpload().GetUploadId(), Column: &erasurev1.FileSource_ColumnName{ColumnName: "Email"}}
	spec := &erasurev1.DeletionSpec{IdentifierType: erasurev1.IdentifierType_IDENTIFIER_TYPE_EMAIL}
	if act == unsubscribing {
		stream, err := i.Client.ExecuteUnsubscribe(ctx, &erasurev1.ExecuteUnsubscribeRequest{
			AccountId: "acme", Source: source, Spec: spec, Unsubscribe: &erasurev1.UnsubscribeSpec{Channel: "email"}})
		if err != nil {
			t.Fatal(err)
		}
		return func() (*erasurev1.Job, error) {
			res, err := stream.Recv()
			return res.GetJob(), err
		}
	}
	stream, err := i.Client.ExecuteDeletion(ctx, &erasurev1.ExecuteDeletionRequest{AccountId: "acme", Source: source, Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	return func() (*erasurev1.Job, error) {
		res, err := stream.Recv()
		return res.GetJob(), err
	}
}

// follow reads snapshots until the job has processed at least rows rows
// (or ended), and returns the last one.
func follow(t *testing.T, recv func() (*erasurev1.Job, error), rows int64) *erasurev1.Job {
	t.Helper()
	for {
		j, err := recv()
		if err != nil {
			t.Fatalf("progress stream: %v", err)
		}
		if j.GetCounts().GetRows() >= rows || j.GetState() >= erasurev1.JobState_JOB_STATE_SUCCEEDED {
			return j
		}
	}
}

// finish watches a job to its end on instance i and returns its report:
// the job and every row outcome.
func finish(t *testing.T, i *erasuredtest.Instance, jobID string) report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	w, err := i.Client.WatchJob(ctx, &erasurev1.WatchJobRequest{AccountId: "acme", JobId: jobID})
	if err != nil {
		t.Fatal(err)
	}
	var last *erasurev1.Job
	for {
		res, err := w.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("watch: %v", err)
		}
		last = res.GetJob()
	}
	rows, err := i.Client.ListRowOutcomes(ctx, &erasurev1.ListRowOutcomesRequest{AccountId: "acme", JobId: jobID})
	if err != nil {
		t.Fatal(err)
	}
	var outcomes []string
	var deleted []*erasurev1.RowOutcome
	unsubscribed := 0
	for {
		res, err := rows.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res.GetRows() {
			outcomes = append(outcomes, fmt.Sprintf("%d %v %q %q %q %d %s %q %v", r.GetRow(), r.GetOutcome(), r.GetValue(), r.GetNormalized(),
				r.GetReason(), r.GetDuplicateOfRow(), r.GetProfileId(), r.GetHint(), r.GetConsents()))
			switch r.GetOutcome() {
			case erasurev1.Outcome_OUTCOME_DELETED:
				deleted = append(deleted, r)
			case erasurev1.Outcome_OUTCOME_UNSUBSCRIBED:
				unsubscribed++
			}
		}
	}
	return report{
		state:    last.GetState(),
		c:        last.GetCounts(),
		counts:   fmt.Sprint(last.GetCounts()),
		sections: fmt.Sprint(last.GetSections()),
		outcomes: outcomes,
		audit:    auditOf(ctx, t, i, jobID, deleted, unsubscribed),
		profiles: profilesOf(t, i.URI, i.DB),
	}
}

// profilesOf describes the profiles of both accounts as stored, less the
// dates and job ids that differ between runs: key, consents and consent
// history.
func profilesOf(t *testing.T, uri, db string) string {
	t.Helper()
	ctx := context.Background()
	c, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(ctx)
	cur, err := c.Database(db).Collection("profiles").Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{"account_id", 1}, {"_id", 1}}))
	if err != nil {
		t.Fatal(err)
	}
	var docs []struct {
		AccountID string                 `bson:"account_id"`
		Key       struct{ Value string } `bson:"key"`
		Sections  []struct {
			SectionID string `bson:"section_id"`
			Consents  []struct {
				Channel, Topic, Status string
			} `bson:"consents"`
			ConsentHistory []struct {
				Channel, Topic, Status string
				PreviousStatus         string `bson:"previous_status"`
				Source                 string `bson:"source"`
			} `bson:"consent_history"`
		} `bson:"sections"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, d := range docs {
		fmt.Fprintf(&b, "%s %s %+v\n", d.AccountID, d.Key.Value, d.Sections)
	}
	return b.String()
}

// auditOf describes what the audit trail holds about a job: its events and,
// for some of its deleted rows, the erasures VerifyErasure finds (each must
// be recorded exactly once, however often the job was interrupted).
func auditOf(ctx context.Context, t *testing.T, i *erasuredtest.Instance, jobID string, deleted []*erasurev1.RowOutcome, unsubscribed int) []string {
	t.Helper()
	events, err := i.Client.ListAuditEvents(ctx, &erasurev1.ListAuditEventsRequest{JobId: jobID})
	if err != nil {
		t.Fatal(err)
	}
	// Every deleted row has exactly one erasure record, and no other row.
	store, err := storage.Open(ctx, storage.Options{URI: i.URI, Database: i.DB})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close(ctx)
	recorded, err := store.CountErasures(ctx, "acme", jobID)
	if err != nil {
		t.Fatal(err)
	}
	records, err := store.CountUnsubscriptions(ctx, "acme", jobID)
	if err != nil {
		t.Fatal(err)
	}
	out := []string{fmt.Sprintf("%d erasures and %d unsubscriptions recorded", recorded, records)}
	if recorded != int64(len(deleted)) || records != int64(unsubscribed) {
		t.Errorf("%d erasure records for %d deleted rows, %d unsubscription records for %d unsubscribed rows", recorded, len(deleted), records, unsubscribed)
	}
	for _, e := range events.GetEvents() {
		out = append(out, fmt.Sprintf("%v %v %v", e.GetAction(), e.GetJobState(), e.GetCounts()))
	}
	for k := 0; k < len(deleted); k += max(1, len(deleted)/8) {
		r := deleted[k]
		req := &erasurev1.VerifyErasureRequest{
			Target: &erasurev1.VerifyErasureRequest_Value{Value: r.GetValue()},
			Spec:   &erasurev1.DeletionSpec{IdentifierType: erasurev1.IdentifierType_IDENTIFIER_TYPE_EMAIL},
		}
		if r.GetValue() == r.GetProfileId() { // a segment job's rows are profile ids
			req = &erasurev1.VerifyErasureRequest{Target: &erasurev1.VerifyErasureRequest_ProfileId{ProfileId: r.GetProfileId()}}
		}
		found, err := i.Client.VerifyErasure(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		var rowsFound []int64
		for _, e := range found.GetErasures() {
			if e.GetJobId() == jobID {
				rowsFound = append(rowsFound, e.GetRow())
			}
		}
		out = append(out, fmt.Sprintf("row %d erased by rows %v", r.GetRow(), rowsFound))
	}
	return out
}

type report struct {
	state            erasurev1.JobState
	c                *erasurev1.Counts
	counts, sections string
	outcomes         []string
	audit            []string
	// profiles are acme's profiles as stored after the job (profilesOf).
	profiles string
}

func (r report) diff(ref report) string {
	if r.state != ref.state {
		return fmt.Sprintf("state %v, want %v", r.state, ref.state)
	}
	if r.counts != ref.counts {
		return fmt.Sprintf("counts %s, want %s", r.counts, ref.counts)
	}
	if r.sections != ref.sections {
		return fmt.Sprintf("sections %s, want %s", r.sections, ref.sections)
	}
	if len(r.outcomes) != len(ref.outcomes) {
		return fmt.Sprintf("%d outcomes, want %d", len(r.outcomes), len(ref.outcomes))
	}
	for k := range r.outcomes {
		if r.outcomes[k] != ref.outcomes[k] {
			return fmt.Sprintf("outcome %d: %s, want %s", k, r.outcomes[k], ref.outcomes[k])
		}
	}
	if a, b := strings.Join(r.audit, "\n"), strings.Join(ref.audit, "\n"); a != b {
		return fmt.Sprintf("audit trail:\n%s\nwant:\n%s", a, b)
	}
	if r.profiles != ref.profiles {
		return fmt.Sprintf("profiles as stored:\n%s\nwant:\n%s", r.profiles, ref.profiles)
	}
	return ""
}

// reference runs a job of act once without interruption, for all the
// tests of one engine.
var references = map[action]*struct {
	once sync.Once
	r    report
}{deleting: {}, unsubscribing: {}, fromSegment: {}}

func reference(t *testing.T, e *erasuredtest.Engine, act action) report {
	t.Helper()
	ent := references[act]
	ent.once.Do(func() {
		db := "ref_" + string(act)
		seed(t, e.Srv.URI(), db)
		i := erasuredtest.StartInstance(t, e, e.Srv.URI(), db)
		first, err := startJob(t, i, act)()
		if err != nil {
			t.Fatal(err)
		}
		ent.r = finish(t, i, first.GetJobId())
	})
	ref := ent.r
	if ref.state != erasurev1.JobState_JOB_STATE_SUCCEEDED {
		t.Fatalf("reference job did not succeed: %+v", ref)
	}
	// The trail of the uninterrupted run: started, then finished with the
	// report's counts; each sampled row erased once, by itself.
	if act == unsubscribing {
		if len(ref.audit) != 3 || !strings.HasPrefix(ref.audit[1], "AUDIT_ACTION_JOB_FINISHED JOB_STATE_SUCCEEDED") || ref.c.GetUnsubscribed() == 0 ||
			ref.c.GetAlreadyUnsubscribed() == 0 || !strings.Contains(ref.profiles, "opt_out") {
			t.Fatalf("reference unsubscribe: %s\n%q", ref.counts, ref.audit)
		}
		return ref
	}
	if len(ref.audit) < 5 || !strings.HasPrefix(ref.audit[1], "AUDIT_ACTION_JOB_FINISHED JOB_STATE_SUCCEEDED") ||
		!strings.HasPrefix(ref.audit[2], "AUDIT_ACTION_JOB_STARTED") {
		t.Fatalf("reference audit trail: %q", ref.audit)
	}
	for _, line := range ref.audit[3:] {
		var row, erasedBy int64
		if _, err := fmt.Sscanf(line, "row %d erased by rows [%d]", &row, &erasedBy); err != nil || row != erasedBy {
			t.Fatalf("reference audit trail: %q", line)
		}
	}
	return ref
}

// checkStore asserts that exactly the profiles the file matched are gone
// from acme, and that account other is untouched. (For an unsubscribe
// every profile stays: the report's profiles say how they changed.)
func checkStore(t *testing.T, store *storage.Store, ref report) {
	t.Helper()
	ctx := context.Background()
	deleted := 0
	for _, o := range ref.outcomes {
		if strings.Contains(o, "OUTCOME_DELETED") {
			deleted++
		}
	}
	if n, _ := store.CountProfiles(ctx, "acme"); n != int64(profilesPerAccount-deleted) {
		t.Errorf("acme has %d profiles, want %d", n, profilesPerAccount-deleted)
	}
	if n, _ := store.CountProfiles(ctx, "other"); n != profilesPerAccount {
		t.Errorf("other has %d profiles, want all %d", n, profilesPerAccount)
	}
}

// claimPIDs returns the process ids in the owners of a job's claims, in
// claim order.
func claimPIDs(t *testing.T, uri, db, jobID string) []string {
	t.Helper()
	var pids []string
	for _, o := range storagetest.Claims(t, uri, db, "acme", jobID) {
		parts := strings.Split(o, "/")
		if len(parts) < 3 {
			t.Fatalf("claim owner %q has no process id", o)
		}
		pids = append(pids, parts[1])
	}
	return pids
}

// A SIGKILL at any point of a job loses nothing: the restarted instance
// takes the job over when its lease expires and ends with the report of a
// run that was never interrupted, having deleted (or unsubscribed) exactly
// the same profiles.
func TestKill9ResumesExactly(t *testing.T) {
	e := erasuredtest.StartEngine(t)
	for _, c := range []struct {
		act action
		at  int64
	}{{deleting, 0}, {deleting, 40}, {deleting, 120}, {deleting, 200}, {unsubscribing, 40}, {unsubscribing, 200}, {fromSegment, 40}, {fromSegment, 120}} {
		ref := reference(t, e, c.act)
		at := c.at
		t.Run(fmt.Sprintf("%s after %d rows", c.act, at), func(t *testing.T) {
			db := fmt.Sprintf("kill_%s_%d", c.act, at)
			store := seed(t, e.Srv.URI(), db)
			// The worker stops in the batch after `at` rows, with that
			// batch's outcomes stored and nothing else done, whatever the
			// machine's speed; it is killed there.
			a := erasuredtest.StartInstanceWithEnv(t, e, e.Srv.URI(), db, []string{fmt.Sprintf("ERASURE_TEST_PAUSE_AFTER_ROWS=%d", at)})
			seen := follow(t, startJob(t, a, c.act), at)
			if seen.GetState() >= erasurev1.JobState_JOB_STATE_SUCCEEDED {
				t.Fatalf("the job ended before the kill: %v", seen)
			}
			waitPaused(t, a)
			// The killed instance leaves its copy of the upload (identifiers
			// in clear) in its work directory; the next one to start removes it.
			copies := uploadCopies(t, e.WorkDir)
			if c.act != fromSegment && len(copies) != 1 {
				t.Fatalf("copies of the upload in the work directory while the job runs: %v, want 1", copies)
			}
			a.Kill(t)

			b := erasuredtest.StartInstance(t, e, e.Srv.URI(), db)
			got := finish(t, b, seen.GetJobId())
			if d := got.diff(ref); d != "" {
				t.Fatalf("report after kill -9 differs from an uninterrupted run: %s", d)
			}
			checkStore(t, store, ref)
			if left := uploadCopies(t, e.WorkDir); len(left) > 0 {
				t.Errorf("copies of the upload left on disk after the restart and the job's end: %v", left)
			}
			for _, path := range copies {
				if _, err := os.Stat(filepath.Dir(path)); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("the killed instance's work directory %s is still there: %v", filepath.Dir(path), err)
				}
			}
			// The killed process claimed first and the restarted one last.
			// (On a loaded machine an owner may also lose its 2 s lease and
			// claim its job again in between; the report is exact anyway.)
			pids := claimPIDs(t, e.Srv.URI(), db, seen.GetJobId())
			if at > 0 && (len(pids) < 2 || pids[0] != fmt.Sprint(a.Cmd.Process.Pid) || pids[len(pids)-1] != fmt.Sprint(b.Cmd.Process.Pid)) {
				t.Errorf("claims by processes %v, want %d (killed) first and %d (restarted) last", pids, a.Cmd.Process.Pid, b.Cmd.Process.Pid)
			}
		})
	}
}

// waitPaused waits until one of the instances says the test hook paused
// its worker (ERASURE_TEST_PAUSE_AFTER_ROWS). Waited for, not timed: the
// deadline only ends a broken run.
func waitPaused(t *testing.T, instances ...*erasuredtest.Instance) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(20 * time.Millisecond) {
		for _, i := range instances {
			if strings.Contains(i.Logs.String(), "paused by the test hook") {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no worker paused")
		}
	}
}

// uploadCopies lists the copies of uploads in the instances' work
// directories under root.
func uploadCopies(t *testing.T, root string) []string {
	t.Helper()
	copies, err := filepath.Glob(filepath.Join(root, "instance-*", "erasure-upload-*"))
	if err != nil {
		t.Fatal(err)
	}
	return copies
}

// With two instances on one store, killing the one running a job hands it
// to the other, which finishes it exactly.
func TestSecondInstanceTakesOver(t *testing.T) {
	e := erasuredtest.StartEngine(t)
	for _, act := range []action{deleting, unsubscribing} {
		t.Run(string(act), func(t *testing.T) { secondInstanceTakesOver(t, e, act) })
	}
}

func secondInstanceTakesOver(t *testing.T, e *erasuredtest.Engine, act action) {
	ref := reference(t, e, act)
	db := "takeover_" + string(act)
	store := seed(t, e.Srv.URI(), db)
	// Whichever instance claims the job stops in the batch after row 60
	// (the test hook pauses a job's first claim only), whatever the
	// machine's speed, and is killed there; the other runs it through.
	pause := []string{"ERASURE_TEST_PAUSE_AFTER_ROWS=60"}
	instances := []*erasuredtest.Instance{erasuredtest.StartInstanceWithEnv(t, e, e.Srv.URI(), db, pause), erasuredtest.StartInstanceWithEnv(t, e, e.Srv.URI(), db, pause)}
	seen := follow(t, startJob(t, instances[0], act), 60)
	waitPaused(t, instances...)
	pids := claimPIDs(t, e.Srv.URI(), db, seen.GetJobId())
	var owner, other *erasuredtest.Instance
	for _, i := range instances {
		if fmt.Sprint(i.Cmd.Process.Pid) == pids[len(pids)-1] {
			owner = i
		} else {
			other = i
		}
	}
	if owner == nil {
		t.Fatalf("no instance has pid %s", pids[0])
	}
	owner.Kill(t)
	killed := time.Now()
	got := finish(t, other, seen.GetJobId())
	t.Logf("the other instance finished the job %v after the kill", time.Since(killed).Round(time.Millisecond))
	if d := got.diff(ref); d != "" {
		t.Fatalf("report after takeover differs from an uninterrupted run: %s", d)
	}
	checkStore(t, store, ref)
	if after := claimPIDs(t, e.Srv.URI(), db, seen.GetJobId()); len(after) <= len(pids) || after[len(after)-1] != fmt.Sprint(other.Cmd.Process.Pid) {
		t.Errorf("claims by processes %v, want the surviving %d to claim last", after, other.Cmd.Process.Pid)
	}
}

// Two instances serve one queue: jobs created on either run on both, each
// job under exactly one claim (so no batch is processed twice), and every
// report is exact.
func TestTwoInstancesShareTheQueue(t *testing.T) {
	e := erasuredtest.StartEngine(t)
	db := "shared"
	store := seed(t, e.Srv.URI(), db)
	instances := []*erasuredtest.Instance{
		// A lease far longer than a job: a second claim could only mean a
		// job was taken from a live worker.
		erasuredtest.StartInstance(t, e, e.Srv.URI(), db, "-workers", "1", "-max-jobs-per-account", "0", "-lease", "60s"),
		erasuredtest.StartInstance(t, e, e.Srv.URI(), db, "-workers", "1", "-max-jobs-per-account", "0", "-lease", "60s"),
	}
	const jobs, per = 4, profilesPerAccount / 4
	ids := make([]string, jobs)
	for k := range jobs {
		var values []string
		for n := k * per; n < (k+1)*per; n++ {
			values = append(values, fmt.Sprintf("k%04d@example.com", n))
		}
		stream, err := instances[k%2].Client.DeleteIdentifiers(context.Background(), &erasurev1.DeleteIdentifiersRequest{
			AccountId: "acme", Values: values, Spec: &erasurev1.DeletionSpec{IdentifierType: erasurev1.IdentifierType_IDENTIFIER_TYPE_EMAIL}})
		if err != nil {
			t.Fatal(err)
		}
		first, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		ids[k] = first.GetJob().GetJobId()
	}
	owners := map[string]bool{}
	for k, id := range ids {
		got := finish(t, instances[(k+1)%2], id)
		if got.state != erasurev1.JobState_JOB_STATE_SUCCEEDED || got.c.GetDeleted() != per {
			t.Errorf("job %d: %v %s, want succeeded with %d deleted", k, got.state, got.counts, per)
		}
		pids := claimPIDs(t, e.Srv.URI(), db, id)
		if len(pids) != 1 {
			t.Errorf("job %d has claims %v, want exactly one", k, pids)
		}
		owners[pids[0]] = true
	}
	if len(owners) != 2 {
		t.Errorf("all jobs ran on %v; want both instances used", owners)
	}
	if n, _ := store.CountProfiles(context.Background(), "acme"); n != 0 {
		t.Errorf("acme has %d profiles left, want 0", n)
	}
	if n, _ := store.CountProfiles(context.Background(), "other"); n != profilesPerAccount {
		t.Errorf("other has %d profiles, want %d", n, profilesPerAccount)
	}
}

// SIGTERM: the instance finishes its batch, hands the job back and exits;
// the client's stream ends with advice to re-attach; another instance picks
// the job up at once (well before the 30 s lease would expire).
func TestSIGTERMHandsTheJobBack(t *testing.T) {
	e := erasuredtest.StartEngine(t)
	ref := reference(t, e, deleting)
	db := "sigterm"
	store := seed(t, e.Srv.URI(), db)
	a := erasuredtest.StartInstance(t, e, e.Srv.URI(), db, "-lease", "30s")
	recv := startJob(t, a, deleting)
	seen := follow(t, recv, 60)
	if err := a.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for {
		_, err := recv()
		if err == nil {
			continue
		}
		if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "re-attach with WatchJob") {
			t.Fatalf("stream ended with %v, want UNAVAILABLE with advice to re-attach", err)
		}
		break
	}
	select {
	case err := <-a.Exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("still running 15 s after SIGTERM")
	}
	start := time.Now()
	b := erasuredtest.StartInstance(t, e, e.Srv.URI(), db, "-lease", "30s")
	got := finish(t, b, seen.GetJobId())
	if d := got.diff(ref); d != "" {
		t.Fatalf("report after SIGTERM differs from an uninterrupted run: %s", d)
	}
	if took := time.Since(start); took > 25*time.Second {
		t.Errorf("the next instance needed %v: the job was not handed back", took)
	}
	checkStore(t, store, ref)
}

// The store goes away for a few seconds mid-job: the worker retries and the
// job ends with the exact report.
func TestStoreOutageMidJob(t *testing.T) {
	e := erasuredtest.StartEngine(t)
	for _, act := range []action{deleting, unsubscribing} {
		t.Run(string(act), func(t *testing.T) { storeOutageMidJob(t, e, act) })
	}
}

func storeOutageMidJob(t *testing.T, e *erasuredtest.Engine, act action) {
	ref := reference(t, e, act)
	db := "outage_" + string(act)
	store := seed(t, e.Srv.URI(), db)
	// A short server selection timeout makes store calls fail during the
	// outage instead of waiting it out inside the driver, so the worker's
	// own retries are what carries the job through.
	// Small batches make the job outlast the engine's own shutdown, which
	// lets requests in flight finish for a few seconds; the report does not
	// depend on the batch size.
	a := erasuredtest.StartInstance(t, e, e.Srv.URI()+"?serverSelectionTimeoutMS=500", db, "-lease", "30s", "-batch-size", "2")
	seen := follow(t, startJob(t, a, act), 20)
	e.Stop()
	time.Sleep(3 * time.Second)
	e.Start(t)
	got := finish(t, a, seen.GetJobId())
	if d := got.diff(ref); d != "" {
		t.Fatalf("report after an outage differs from an uninterrupted run: %s", d)
	}
	checkStore(t, store, ref)
	// The outage meets the worker between store calls (it retries) or in
	// one (the engine, shutting down, fails it with InternalError where
	// MongoDB says InterruptedAtShutdown: the batch is handed back and redone
	// from its outcomes); which, depends on timing, and either is a test.
	if logs := a.Logs.String(); !strings.Contains(logs, "store unavailable; retrying") && !strings.Contains(logs, "a batch could not be finished") {
		t.Errorf("the worker never met the outage; the test proved nothing:\n%s", logs)
	}
}

// A cancel sent to one instance stops a job running on another, after its
// current batch; the report says what had been deleted, exactly.
func TestCancelReachesAnotherInstance(t *testing.T) {
	e := erasuredtest.StartEngine(t)
	db := "cancel"
	store := seed(t, e.Srv.URI(), db)
	// The instance running the job waits in the batch after row 40 until
	// the cancel (sent to the other) reaches it, whatever the machine's
	// speed.
	pause := []string{"ERASURE_TEST_PAUSE_AFTER_ROWS=40"}
	instances := []*erasuredtest.Instance{erasuredtest.StartInstanceWithEnv(t, e, e.Srv.URI(), db, pause), erasuredtest.StartInstanceWithEnv(t, e, e.Srv.URI(), db, pause)}
	seen := follow(t, startJob(t, instances[0], deleting), 40)
	waitPaused(t, instances...)
	pids := claimPIDs(t, e.Srv.URI(), db, seen.GetJobId())
	other := instances[0]
	if fmt.Sprint(other.Cmd.Process.Pid) == pids[0] {
		other = instances[1]
	}
	res, err := other.Client.CancelJob(context.Background(), &erasurev1.CancelJobRequest{AccountId: "acme", JobId: seen.GetJobId()})
	if err != nil || !res.GetJob().GetCancelRequested() {
		t.Fatalf("cancel = %v, %v", res, err)
	}
	got := finish(t, other, seen.GetJobId())
	if got.state != erasurev1.JobState_JOB_STATE_CANCELLED {
		t.Fatalf("state %v, want cancelled", got.state)
	}
	deleted := 0
	for _, o := range got.outcomes {
		if strings.Contains(o, "OUTCOME_DELETED") {
			deleted++
		}
	}
	if len(got.outcomes) >= fileRows || got.c.GetRows() != int64(len(got.outcomes)) {
		t.Fatalf("counts %s with %d outcomes: want the rows done before the cancel, one outcome each", got.counts, len(got.outcomes))
	}
	if got.c.GetDeleted() != int64(deleted) {
		t.Fatalf("counts %s, but %d outcomes say deleted", got.counts, deleted)
	}
	if n, _ := store.CountProfiles(context.Background(), "acme"); n != int64(profilesPerAccount-deleted) {
		t.Fatalf("acme has %d profiles; the report says %d of %d were deleted", n, deleted, profilesPerAccount)
	}
}

// `erasured features` stores an account's features; a running instance
// applies them at once, to that account only.
func TestFeaturesCommand(t *testing.T) {
	e := erasuredtest.StartEngine(t)
	db := "features"
	seed(t, e.Srv.URI(), db)
	i := erasuredtest.StartInstance(t, e, e.Srv.URI(), db)
	features := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(erasuredtest.Build(t, "cmd/erasured"), append([]string{"features", "-mongodb-uri", e.Srv.URI(), "-database", db}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("erasured features %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if got := features("-account", "acme"); !strings.Contains(got, "no features stored") {
		t.Fatalf("before: %q", got)
	}
	if got := features("-account", "acme", "-set", "file_deletion"); got != "acme: file_deletion" {
		t.Fatalf("set: %q", got)
	}
	ctx := context.Background()
	_, err := i.Client.DeleteProfile(ctx, &erasurev1.DeleteProfileRequest{ProfileId: fmt.Sprintf("%08x%016x", 4, 1)})
	if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "profile_deletion is not activated") {
		t.Fatalf("DeleteProfile without the feature: %v", err)
	}
	if out, err := exec.Command(erasuredtest.Build(t, "cmd/erasured"), "features", "-mongodb-uri", e.Srv.URI(), "-database", db, "-account", "acme", "-set", "everything").CombinedOutput(); err == nil ||
		!strings.Contains(string(out), `unknown feature "everything"`) {
		t.Fatalf("an unknown feature: %v\n%s", err, out)
	}
	if got := features("-account", "acme", "-set", "none"); got != "acme: none" {
		t.Fatalf("none: %q", got)
	}
	if got := features("-account", "other"); !strings.Contains(got, "no features stored") {
		t.Fatalf("other account: %q", got)
	}
}

// Readiness follows the store: health (grpc.health.v1) and /readyz say
// NOT_SERVING while the store is stopped and SERVING again once it is back,
// and on SIGTERM the instance goes on answering, not ready, for its drain
// time before the listener closes.
func TestReadinessFollowsTheStore(t *testing.T) {
	e := erasuredtest.StartEngine(t)
	db := "readiness"
	seed(t, e.Srv.URI(), db)
	a := erasuredtest.StartInstance(t, e, e.Srv.URI()+"?serverSelectionTimeoutMS=500", db, "-shutdown-drain", "3s")
	health := grpchealth.NewClient(http.DefaultClient, "http://"+a.Addr)
	state := func() (code int, body string, serving grpchealth.Status) {
		res, err := http.Get("http://" + a.Addr + "/readyz")
		if err != nil {
			return 0, err.Error(), 0
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		h, err := health.Check(ctx, &grpchealth.CheckRequest{})
		if err != nil {
			return res.StatusCode, string(b), 0
		}
		return res.StatusCode, string(b), h.Status
	}
	// waitFor polls the instance until it is in the state wanted (the
	// store is pinged every 2 s), or fails after a minute.
	waitFor := func(what string, code int, body string, serving grpchealth.Status) {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for {
			c, b, s := state()
			if c == code && strings.Contains(b, body) && s == serving {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: /readyz %d %q, health %v; want %d %q, %v", what, c, b, s, code, body, serving)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitFor("with the store", http.StatusOK, "ready", grpchealth.StatusServing)
	if res, err := http.Get("http://" + a.Addr + "/healthz"); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: %v %v", res, err)
	}
	e.Stop()
	waitFor("with the store stopped", http.StatusServiceUnavailable, "the store does not answer", grpchealth.StatusNotServing)
	e.Start(t)
	waitFor("with the store back", http.StatusOK, "ready", grpchealth.StatusServing)

	if err := a.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitFor("shutting down, before the listener closes", http.StatusServiceUnavailable, "shutting down", grpchealth.StatusNotServing)
	if err := <-a.Exited; err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	for _, line := range []string{"not ready: the store does not answer", "ready again: the store answers"} {
		if !strings.Contains(a.Logs.String(), line) {
			t.Errorf("the log lacks %q", line)
		}
	}
}

// A call that starts a job, retried with its request id after the server
// restarted, gets the job the first call started; the same id with another
// request is refused naming that job. The Go client gives every such call
// an id of its own, written into the request.
func TestRequestIDSurvivesARestart(t *testing.T) {
	e := erasuredtest.StartEngine(t)
	db := "request_ids"
	store := seed(t, e.Srv.URI(), db)
	a := erasuredtest.StartInstance(t, e, e.Srv.URI(), db)
	ctx := context.Background()
	req := &erasurev1.DeleteIdentifiersRequest{AccountId: "acme", RequestId: "crm-sync:2026-12-01:42",
		Spec: &erasurev1.DeletionSpec{IdentifierType: erasurev1.IdentifierType_IDENTIFIER_TYPE_EMAIL}, Values: []string{"k0001@example.com", "k0002@example.com"}}
	first := runList(t, a, req)
	a.Kill(t)

	b := erasuredtest.StartInstance(t, e, e.Srv.URI(), db)
	again := runList(t, b, req)
	if again.GetJobId() != first.GetJobId() || again.GetCounts().GetDeleted() != 2 {
		t.Fatalf("the retry after a restart got job %s %v, want the first call's %s", again.GetJobId(), again.GetCounts(), first.GetJobId())
	}
	jobs, err := b.Client.ListJobs(ctx, &erasurev1.ListJobsRequest{AccountId: "acme"})
	if err != nil || len(jobs.GetJobs()) != 1 {
		t.Fatalf("%d jobs in the history, %v; want the one", len(jobs.GetJobs()), err)
	}
	if n, _ := store.CountProfiles(ctx, "acme"); n != profilesPerAccount-2 {
		t.Fatalf("acme has %d profiles, want %d", n, profilesPerAccount-2)
	}

	other := proto.Clone(req).(*erasurev1.DeleteIdentifiersRequest)
	other.Values = []string{"k0003@example.com"}
	stream, err := b.Client.DeleteIdentifiers(ctx, other)
	if err == nil {
		_, err = stream.Recv()
	}
	if status.Code(err) != codes.AlreadyExists || !strings.Contains(status.Convert(err).Message(), first.GetJobId()) {
		t.Fatalf("the id with another request: %v", err)
	}

	// Without an id the client makes one, writes it into the request, and
	// sending the same message again gets the same job.
	auto := &erasurev1.DeleteIdentifiersRequest{Spec: req.Spec, Values: []string{"k0004@example.com"}}
	j1 := runList(t, b, auto)
	if auto.GetRequestId() == "" {
		t.Fatal("the client set no request id")
	}
	if j2 := runList(t, b, auto); j2.GetJobId() != j1.GetJobId() {
		t.Fatalf("the same message twice started jobs %s and %s", j1.GetJobId(), j2.GetJobId())
	}
}

// runList runs a DeleteIdentifiers call on instance i to its end.
func runList(t *testing.T, i *erasuredtest.Instance, req *erasurev1.DeleteIdentifiersRequest) *erasurev1.Job {
	t.Helper()
	stream, err := i.Client.DeleteIdentifiers(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	var last *erasurev1.Job
	for {
		res, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return last
		}
		if err != nil {
			t.Fatal(err)
		}
		last = res.GetJob()
	}
}

// Metrics, scraped from the separate listener while a job runs and after it
// ended: calls by procedure and code, rows by outcome, batch times, the
// shared queue, uploads; and no identifier anywhere in them.
func TestMetricsDuringAJob(t *testing.T) {
	e := erasuredtest.StartEngine(t)
	db := "metrics"
	seed(t, e.Srv.URI(), db)
	metricsAddr := testkit.FreeAddr(t)
	a := erasuredtest.StartInstance(t, e, e.Srv.URI(), db, "-metrics-addr", metricsAddr)
	scrape := func() string {
		t.Helper()
		res, err := http.Get("http://" + metricsAddr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b)
	}
	// value returns the value of the sample line starting with prefix.
	value := func(text, prefix string) float64 {
		t.Helper()
		for _, line := range strings.Split(text, "\n") {
			if strings.HasPrefix(line, prefix+" ") {
				v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimPrefix(line, prefix)), 64)
				if err != nil {
					t.Fatal(err)
				}
				return v
			}
		}
		t.Fatalf("no sample %s in:\n%s", prefix, text)
		return 0
	}
	recv := startJob(t, a, deleting)
	seen := follow(t, recv, 40)
	during := scrape()
	if seen.GetState() == erasurev1.JobState_JOB_STATE_RUNNING && value(during, "erasure_jobs_running") != 1 {
		t.Errorf("while the job runs: erasure_jobs_running is %v", value(during, "erasure_jobs_running"))
	}
	if value(during, `erasure_rows_total{action="delete",outcome="deleted"}`) <= 0 {
		t.Error("no deleted rows counted while the job runs")
	}
	finish(t, a, seen.GetJobId())
	after := scrape()
	for _, c := range []struct {
		sample string
		min    float64
	}{
		{`erasure_rows_total{action="delete",outcome="deleted"}`, 173},
		{`erasure_rows_total{action="delete",outcome="invalid"}`, 1},
		{`erasure_batch_duration_seconds_count{action="delete"}`, 30},
		{`erasure_jobs_ended_total{action="delete",state="succeeded"}`, 1},
		{`erasure_rpc_requests_total{code="ok",procedure="/erasure.v1.ErasureService/UploadFile"}`, 1},
		{`erasure_rpc_requests_total{code="not_found",procedure="/erasure.v1.ErasureService/GetJob"}`, 1},
		{`erasure_upload_bytes_total`, float64(len(fileData()))},
		{`erasure_jobs_queued`, 0},
		{`erasure_queue_oldest_age_seconds`, 0},
	} {
		if v := value(after, c.sample); v < c.min {
			t.Errorf("%s = %v, want at least %v", c.sample, v, c.min)
		}
	}
	if v := value(after, `erasure_rows_total{action="delete",outcome="deleted"}`); v != 173 {
		t.Errorf("deleted rows counted %v, want the job's 173", v)
	}
	for _, secret := range []string{"@example.com", "acme", "k0001"} {
		if strings.Contains(after, secret) {
			t.Errorf("the metrics hold %q", secret)
		}
	}
	// The same listener serves the Go profiler, for operators.
	res, err := http.Get("http://" + metricsAddr + "/debug/pprof/heap?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	heap, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(heap), "heap profile") {
		t.Errorf("GET /debug/pprof/heap: %s, %.200q", res.Status, heap)
	}

	// An operator who asks for it gets rows and ended jobs by account (the
	// same file again: its profiles are gone, so its rows are not found).
	a.Kill(t)
	metricsAddr = testkit.FreeAddr(t)
	b := erasuredtest.StartInstance(t, e, e.Srv.URI(), db, "-metrics-addr", metricsAddr, "-metrics-account-label")
	finish(t, b, follow(t, startJob(t, b, deleting), 0).GetJobId())
	labelled := scrape()
	if value(labelled, `erasure_rows_total{account="acme",action="delete",outcome="not_found"}`) <= 0 ||
		value(labelled, `erasure_jobs_ended_total{account="acme",action="delete",state="succeeded"}`) != 1 {
		t.Error("no metrics by account with -metrics-account-label")
	}
	if strings.Contains(labelled, "@example.com") {
		t.Error("the labelled metrics hold an identifier")
	}
}

// Settings whose batch may not fit in three quarters of the lease on a
// slow store are warned about at start, naming what to change.
func TestWarnsWhenABatchMayOutliveTheLease(t *testing.T) {
	e := erasuredtest.StartEngine(t)
	const warning = "lower -batch-size or raise -lease"
	fits := erasuredtest.StartInstance(t, e, e.Srv.URI(), "lease_fits") // 10 rows, 2 s
	tight := erasuredtest.StartInstance(t, e, e.Srv.URI(), "lease_tight", "-batch-size", "2000")
	if strings.Contains(fits.Logs.String(), warning) {
		t.Errorf("warned with batches of 10 rows and a 2 s lease:\n%s", fits.Logs.String())
	}
	if !strings.Contains(tight.Logs.String(), warning) || !strings.Contains(tight.Logs.String(), "batch_may_take=4s") {
		t.Errorf("no warning with batches of 2,000 rows and a 2 s lease:\n%s", tight.Logs.String())
	}
}
