package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/erasure-dev/erasure/internal/demo"
	"github.com/erasure-dev/erasure/internal/erasuredtest"
	"github.com/erasure-dev/erasure/storage"
)

// These tests run erasurectl against the real erasured binary on an
// embedded store: most in-process (run with buffers for its terminal), the
// progress bar and Ctrl-C as a process on a pseudo-terminal (pty_test.go).

func TestMain(m *testing.M) { erasuredtest.Main(m) }

// demoProfiles are seeded into account acme; demo.Profile says who they
// are: person0001@example.com … are e-mail keyed (n%10 < 7), every 50th
// profile is tagged internal_test.
const demoProfiles = 300

type env struct {
	engine *erasuredtest.Engine
	inst   *erasuredtest.Instance
	db     string
	dir    string
}

// newEnv seeds a database of its own and starts erasured on it with extra
// flags.
func newEnv(t *testing.T, extra ...string) *env {
	t.Helper()
	e := &env{engine: erasuredtest.StartEngine(t), db: "ctl", dir: t.TempDir()}
	ctx := context.Background()
	store, err := storage.Open(ctx, storage.Options{URI: e.engine.Srv.URI(), Database: e.db})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close(ctx)
	if _, err := demo.Seed(ctx, store, erasuredtest.Account, demoProfiles); err != nil {
		t.Fatal(err)
	}
	e.inst = erasuredtest.StartInstance(t, e.engine, e.engine.Srv.URI(), e.db, extra...)
	return e
}

// result is what one erasurectl command did.
type result struct {
	code   int
	stdout string
	stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// ctl runs erasurectl in-process against the env's server, with stdin and
// neither stdin nor stderr a terminal.
func (e *env) ctl(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	vars := map[string]string{"ERASURE_SERVER": e.inst.Addr, "ERASURE_TOKEN": e.engine.Token}
	code := run(context.Background(), args, terminalIO{
		in:  strings.NewReader(stdin),
		out: &out,
		err: &errOut,
		env: func(name string) (string, bool) { v, ok := vars[name]; return v, ok },
	})
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}

// file writes a file into the env's directory and returns its path.
func (e *env) file(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(e.dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// count counts the documents of one of the store's collections.
func (e *env) count(t *testing.T, collection string, filter bson.M) int64 {
	t.Helper()
	ctx := context.Background()
	c, err := mongo.Connect(options.Client().ApplyURI(e.engine.Srv.URI()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(ctx)
	n, err := c.Database(e.db).Collection(collection).CountDocuments(ctx, filter)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (e *env) profiles(t *testing.T) int64 {
	t.Helper()
	return e.count(t, "profiles", bson.M{"account_id": erasuredtest.Account})
}

// previewRow is a line of the preview's counts.
func previewRow(label string, n int64) string { return fmt.Sprintf("  %-15s %10d", label, n) }

// peopleCSV names 5 e-mail keyed profiles, one twice, an invalid value and
// an address nobody has.
const peopleCSV = "Name,Email\r\na,person0001@example.com\r\nb,PERSON0002@example.com\r\nc,not-an-address\r\nd,nobody@example.com\r\ne,person0003@example.com\r\nf,person0001@example.com\r\ng,person0004@example.com\r\nh,person0005@example.com\r\n"

func TestDeleteFromAFile(t *testing.T) {
	e := newEnv(t)
	path := e.file(t, "people.csv", peopleCSV)

	// Without a terminal to ask on and without --yes: the preview, and
	// nothing changed; the upload is discarded at once.
	r := e.ctl(t, "", "delete", "--type", "email", "--column", "Email", path)
	if r.code != exitDeclined {
		t.Fatalf("delete without --yes and no terminal: %v", r)
	}
	for _, want := range []string{`Preview: delete by people.csv, column "Email", matched by e-mail address`, previewRow("rows", 8), previewRow("matched", 5) + "  profiles to delete", previewRow("invalid", 1), previewRow("duplicate", 1), previewRow("not found", 1), "row 4: "} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("preview lacks %q:\n%s", want, r.stdout)
		}
	}
	if !strings.Contains(r.stderr, "--yes") {
		t.Errorf("the refusal does not name --yes: %s", r.stderr)
	}
	if n := e.profiles(t); n != demoProfiles {
		t.Fatalf("%d profiles after a declined delete, want %d", n, demoProfiles)
	}
	if n := e.count(t, "uploads", bson.M{}); n != 0 {
		t.Errorf("%d uploads kept after a declined delete, want 0 (it holds personal data)", n)
	}

	// With --yes, as a script: one JSON document with the preview and the
	// job; progress lines on stderr.
	r = e.ctl(t, "", "delete", "--type", "email", "--column", "Email", "--yes", "-o", "json", path)
	if r.code != exitOK {
		t.Fatalf("delete --yes: %v", r)
	}
	var doc struct {
		Preview struct {
			Deletion struct {
				Counts map[string]string `json:"counts"`
			} `json:"deletion"`
		} `json:"preview"`
		Job struct {
			JobID  string            `json:"jobId"`
			State  string            `json:"state"`
			Counts map[string]string `json:"counts"`
		} `json:"job"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("stdout is not one JSON document: %v\n%s", err, r.stdout)
	}
	if doc.Job.State != "JOB_STATE_SUCCEEDED" || doc.Job.Counts["deleted"] != "5" || doc.Preview.Deletion.Counts["matched"] != "5" {
		t.Errorf("json: job %s %v, preview %v; want succeeded with 5 deleted as previewed", doc.Job.State, doc.Job.Counts, doc.Preview.Deletion.Counts)
	}
	if !regexp.MustCompile(`job \w+ succeeded: 8 of 8 rows \(100%\)`).MatchString(r.stderr) {
		t.Errorf("no plain progress line for the end on stderr:\n%s", r.stderr)
	}
	if n := e.profiles(t); n != demoProfiles-5 {
		t.Errorf("%d profiles after deleting 5, want %d", n, demoProfiles-5)
	}

	// The report, in words and as CSV, and the proof.
	r = e.ctl(t, "", "report", doc.Job.JobID)
	for _, want := range []string{"deleted: 5", "not found: 1", "invalid: 1", "duplicate: 1", "same as row 2"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("report lacks %q:\n%v", want, r)
		}
	}
	csvPath := filepath.Join(e.dir, "report.csv")
	if r = e.ctl(t, "", "report", doc.Job.JobID, "--csv", csvPath); r.code != exitOK {
		t.Fatalf("report --csv: %v", r)
	}
	b, err := os.ReadFile(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(string(b)), "\r\n"); len(lines) != 9 || !strings.Contains(lines[2], "PERSON0002@example.com,person0002@example.com,DELETED") {
		t.Errorf("report CSV: %d lines, want the header and 8 rows:\n%s", len(lines), b)
	}
	if r = e.ctl(t, "", "verify", "--type", "email", " Person0003@example.com "); r.code != exitOK || !strings.Contains(r.stdout, "by job "+doc.Job.JobID+" (file, row 6)") {
		t.Errorf("verify a deleted address: %v", r)
	}
	if r = e.ctl(t, "nobody@example.com\n", "verify", "--type", "email", "-"); r.code != exitNotErased {
		t.Errorf("verify an address nobody had: %v", r)
	}

	// The same file again: the preview finds nothing left to delete.
	r = e.ctl(t, "", "delete", "--type", "email", "--column", "Email", "--yes", path)
	if r.code != exitOK || !strings.Contains(r.stdout, "No job was started") || !strings.Contains(r.stdout, "5 rows matched nothing because an earlier job erased their profile") {
		t.Errorf("delete again: %v", r)
	}
}

func TestListsProfilesAndTheHistory(t *testing.T) {
	e := newEnv(t)
	// Unsubscribe a list: the profiles stay.
	r := e.ctl(t, "", "unsubscribe", "--type", "email", "--channel", "email", "--value", "person0010@example.com", "--value", "person0011@example.com", "--yes")
	if r.code != exitOK || !regexp.MustCompile(`Job (\w+) succeeded in [^:]+: 2 rows, \d unsubscribed`).MatchString(r.stdout) {
		t.Fatalf("unsubscribe: %v", r)
	}
	// Delete a list read from standard input, and one profile by id.
	r = e.ctl(t, "person0012@example.com\nperson0013@example.com\n\n", "delete", "--type", "email", "--list", "-", "--yes")
	if r.code != exitOK || !strings.Contains(r.stdout, "2 rows, 2 profiles deleted") {
		t.Fatalf("delete --list -: %v", r)
	}
	var p struct {
		ID bson.ObjectID `bson:"_id"`
	}
	c, err := mongo.Connect(options.Client().ApplyURI(e.engine.Srv.URI()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(context.Background())
	if err := c.Database(e.db).Collection("profiles").FindOne(context.Background(), bson.M{"key.value": "person0014@example.com"}).Decode(&p); err != nil {
		t.Fatal(err)
	}
	r = e.ctl(t, "", "delete", "--profile", p.ID.Hex())
	if r.code != exitDeclined {
		t.Errorf("delete --profile without --yes and no terminal: %v", r)
	}
	r = e.ctl(t, "", "delete", "--profile", p.ID.Hex(), "--yes")
	if r.code != exitOK || !strings.Contains(r.stdout, "1 row, 1 profile deleted") {
		t.Fatalf("delete --profile: %v", r)
	}
	if n := e.profiles(t); n != demoProfiles-3 {
		t.Errorf("%d profiles, want %d", n, demoProfiles-3)
	}

	// The history: three jobs, newest first.
	r = e.ctl(t, "", "jobs", "-o", "json")
	var jobs struct {
		Jobs []*struct {
			JobID  string `json:"jobId"`
			Kind   string `json:"kind"`
			Action string `json:"action"`
		} `json:"jobs"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &jobs); err != nil || len(jobs.Jobs) != 3 {
		t.Fatalf("jobs -o json: %v %v", err, r)
	}
	if got := jobs.Jobs[0].Kind + " " + jobs.Jobs[2].Action; got != "JOB_KIND_PROFILE JOB_ACTION_UNSUBSCRIBE" {
		t.Errorf("jobs: newest %s, oldest %s; want the profile deletion first and the unsubscribe last", jobs.Jobs[0].Kind, jobs.Jobs[2].Action)
	}
	if r = e.ctl(t, "", "jobs", "--limit", "2"); r.code != exitOK || strings.Count(r.stdout, "\n") != 3 {
		t.Errorf("jobs --limit 2: want a header and 2 lines: %v", r)
	}
	r = e.ctl(t, "", "job", jobs.Jobs[2].JobID)
	if !regexp.MustCompile(`consents +channel email, topics all, sections all`).MatchString(r.stdout) {
		t.Errorf("job: %v", r)
	}
	// Cancelling an ended job returns it unchanged.
	if r = e.ctl(t, "", "cancel", jobs.Jobs[0].JobID); r.code != exitOK || !strings.Contains(r.stdout, "succeeded") {
		t.Errorf("cancel an ended job: %v", r)
	}
	// The audit trail: started and finished for each job.
	r = e.ctl(t, "", "audit", "--job", jobs.Jobs[1].JobID)
	if r.code != exitOK || !strings.Contains(r.stdout, "job finished") || !strings.Contains(r.stdout, "job started") || strings.Count(r.stdout, "\n") != 3 {
		t.Errorf("audit --job: %v", r)
	}
	if r = e.ctl(t, "", "verify", "--profile", p.ID.Hex()); r.code != exitOK || !strings.Contains(r.stdout, "by job "+jobs.Jobs[0].JobID) {
		t.Errorf("verify --profile: %v", r)
	}
}

func TestSegmentCommands(t *testing.T) {
	e := newEnv(t, "-default-features", "file_deletion,list_deletion,profile_deletion,unsubscribe,segment_deletion")
	seg := e.file(t, "tagged.json", `{"root": {"op": "SEGMENT_GROUP_OP_ALL", "children": [{"tag": {"name": "internal_test"}}]}}`)
	tagged := int64(demoProfiles / 50)

	r := e.ctl(t, "", "segment", "count", seg)
	if r.code != exitOK || !strings.Contains(r.stdout, fmt.Sprintf("%d profiles match.", tagged)) || !strings.Contains(r.stdout, "You may delete them") {
		t.Fatalf("segment count: %v", r)
	}
	if r = e.ctl(t, "", "segment", "show", seg, "--limit", "2"); r.code != exitOK || strings.Count(r.stdout, "@example.com") != 4 {
		t.Errorf("segment show --limit 2: want two profiles (key and e-mail each): %v", r)
	}
	export := filepath.Join(e.dir, "tagged.csv")
	if r = e.ctl(t, "", "segment", "export", seg, "--out", export); r.code != exitOK {
		t.Fatalf("segment export: %v", r)
	}
	// The export works as a delete file: preview only here.
	r = e.ctl(t, "", "delete", "--type", "email", "--column", "Email", export)
	if r.code != exitDeclined || !strings.Contains(r.stdout, previewRow("matched", tagged)) {
		t.Errorf("delete by the export: %v", r)
	}
	// Straight from the segment, from a definition on standard input.
	def, _ := os.ReadFile(seg)
	r = e.ctl(t, string(def), "segment", "delete", "-", "--yes")
	if r.code != exitOK || !strings.Contains(r.stdout, fmt.Sprintf("%d profiles deleted", tagged)) {
		t.Fatalf("segment delete: %v", r)
	}
	if n := e.profiles(t); n != demoProfiles-tagged {
		t.Errorf("%d profiles, want %d", n, demoProfiles-tagged)
	}
	if r = e.ctl(t, "", "segment", "count", seg); !strings.Contains(r.stdout, "0 profiles match.") {
		t.Errorf("count after: %v", r)
	}
}

// Mistakes get exit code 2 and a message that says what to do; refusals
// of the service 1, with its reason.
func TestUsageAndRefusals(t *testing.T) {
	e := newEnv(t)
	path := e.file(t, "people.csv", peopleCSV)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{nil, exitUsage, "Usage:"},
		{[]string{"nosuch"}, exitUsage, `unknown command "nosuch"`},
		{[]string{"delete", path}, exitUsage, "--type is required"},
		{[]string{"delete", "--type", "fax", path}, exitUsage, "use email, phone or crm-id"},
		{[]string{"delete", "--type", "email", "--yes", path}, exitUsage, "with --yes, name the column"},
		{[]string{"delete", "--type", "email", "--column", "Email", "--column-number", "2", path}, exitUsage, "not both"},
		{[]string{"delete", "--type", "email", "--value", "a@example.com", path}, exitUsage, "give one of"},
		{[]string{"delete", "--profile", "65f0c0ffee0123456789abcd", "--type", "email"}, exitUsage, "give no --type"},
		{[]string{"unsubscribe", "--type", "email", "--value", "a@example.com"}, exitUsage, "--channel is required"},
		{[]string{"delete", "--type", "email", "--column", "Email", filepath.Join(e.dir, "missing.csv")}, exitUsage, "no such file"},
		{[]string{"jobs", "-o", "yaml"}, exitUsage, "use text or json"},
		{[]string{"jobs", "--bogus"}, exitUsage, "unknown flag: --bogus"},
		{[]string{"job"}, exitUsage, "give the job id"},
		{[]string{"job", "0123456789abcdef01234567"}, exitError, "reason: JOB_NOT_FOUND"},
		{[]string{"delete", "--type", "email", "--column", "Mail", "--yes", path}, exitError, "reason: COLUMN_NOT_FOUND"},
		{[]string{"delete", "--profile", "person0001@example.com", "--yes"}, exitError, "reason: INVALID_ID"},
		{[]string{"segment", "count", path}, exitUsage, "is not a segment definition"},
		{[]string{"--token", "not-a-token", "jobs"}, exitError, "reason: TOKEN_INVALID"},
	} {
		r := e.ctl(t, "", tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr+r.stdout, tc.want) {
			t.Errorf("erasurectl %s: want exit %d and %q; got %v", strings.Join(tc.args, " "), tc.code, tc.want, r)
		}
	}
	if n := e.profiles(t); n != demoProfiles {
		t.Errorf("%d profiles after refused commands, want %d", n, demoProfiles)
	}
	// Without a token at all.
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"jobs"}, terminalIO{in: strings.NewReader(""), out: &out, err: &errOut, env: func(string) (string, bool) { return "", false }})
	if code != exitUsage || !strings.Contains(errOut.String(), "ERASURE_TOKEN") {
		t.Errorf("no token: exit %d, %s", code, errOut.String())
	}
}
