package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/erasure-dev/erasure/internal/testkit"
)

// TestEndToEndWithGrpcurl starts the real erasured binary on a fresh
// embedded store and drives the README's flow with the real grpcurl:
// upload, inspect, preview, execute (streamed), history and row outcomes, for
// the sample CSV and XLSX files, then stops it with SIGTERM.
func TestEndToEndWithGrpcurl(t *testing.T) {
	grpcurl := os.Getenv("GRPCURL")
	if grpcurl == "" {
		grpcurl, _ = filepath.Abs("../../.bin/grpcurl")
	}
	if _, err := os.Stat(grpcurl); err != nil {
		t.Fatalf("grpcurl not found at %s: run `make tools` (or `make test`, which installs it)", grpcurl)
	}
	bin := filepath.Join(t.TempDir(), "erasured")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	addr := testkit.FreeAddr(t)
	var logs testkit.SyncBuffer
	dataDir := t.TempDir()
	// Deleting from a segment is off by default; the operator turns it on
	// for the demo account (before the server holds the embedded store).
	if out, err := exec.Command(bin, "features", "-data-dir", dataDir, "-account", "demo",
		"-set", "file_deletion,list_deletion,profile_deletion,unsubscribe,segment_deletion").CombinedOutput(); err != nil || !strings.Contains(string(out), "segment_deletion") {
		t.Fatalf("erasured features: %v\n%s", err, out)
	}
	srv := exec.Command(bin, "-addr", addr, "-data-dir", dataDir, "-demo-profiles", "100")
	srv.Stdout, srv.Stderr = &logs, &logs
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- srv.Wait() }()
	t.Cleanup(func() {
		if srv.ProcessState == nil {
			srv.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})

	// The operator's token, minted with the development key the server made.
	var token string
	call := func(method, body string) []map[string]any {
		t.Helper()
		cmd := exec.Command(grpcurl, "-plaintext", "-H", "authorization: Bearer "+token, "-d", "@", addr, "erasure.v1.ErasureService/"+method)
		cmd.Stdin = strings.NewReader(body)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("grpcurl %s: %v\n%s", method, err, out)
		}
		var msgs []map[string]any
		dec := json.NewDecoder(bytes.NewReader(out))
		for {
			var m map[string]any
			if err := dec.Decode(&m); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("grpcurl %s output: %v\n%s", method, err, out)
			}
			msgs = append(msgs, m)
		}
		return msgs
	}

	// Ready when reflection answers.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		out, err := exec.Command(grpcurl, "-plaintext", addr, "list").CombinedOutput()
		if err == nil && strings.Contains(string(out), "erasure.v1.ErasureService") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not ready: %v %s", err, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	out, err := exec.Command(bin, "token", "-data-dir", dataDir, "-account", "demo", "-role", "OWNER").Output()
	if err != nil {
		t.Fatalf("erasured token: %v", err)
	}
	token = strings.TrimSpace(string(out))

	// Without a token, a clear refusal.
	out, _ = exec.Command(grpcurl, "-plaintext", "-d", `{}`, addr, "erasure.v1.ErasureService/ListJobs").CombinedOutput()
	if !strings.Contains(string(out), "Unauthenticated") || !strings.Contains(string(out), "erasured token") {
		t.Fatalf("a call without a token: %s", out)
	}

	upload := func(file string) string {
		data, err := os.ReadFile(filepath.Join("../../examples", file))
		if err != nil {
			t.Fatal(err)
		}
		body := fmt.Sprintf(`{"metadata": {"account_id": "demo", "filename": %q}}
{"chunk": %q}`, file, base64.StdEncoding.EncodeToString(data))
		res := call("UploadFile", body)
		return str(t, res[0], "upload", "uploadId")
	}

	// CSV by e-mail.
	csvID := upload("delete-by-email.csv")
	in := call("InspectUpload", fmt.Sprintf(`{"account_id": "demo", "upload_id": %q}`, csvID))[0]
	if fmt.Sprint(in["suggestions"]) == "" || !strings.Contains(fmt.Sprint(in["suggestions"]), "IDENTIFIER_TYPE_EMAIL") {
		t.Fatalf("inspect = %v", in)
	}
	req := fmt.Sprintf(`{"account_id": "demo", "source": {"upload_id": %q, "column_name": "Email"}, "spec": {"identifier_type": "IDENTIFIER_TYPE_EMAIL"}}`, csvID)
	pv := call("PreviewDeletion", req)[0]
	wantCounts(t, "preview", pv["counts"], map[string]string{"totalRows": "8", "matched": "4", "notFound": "2", "invalid": "1", "duplicate": "1"})
	jobs := call("ExecuteDeletion", req)
	final := jobs[len(jobs)-1]["job"].(map[string]any)
	if final["state"] != "JOB_STATE_SUCCEEDED" {
		t.Fatalf("final job = %v", final)
	}
	wantCounts(t, "execute", final["counts"], map[string]string{"rows": "8", "deleted": "4", "notFound": "2", "invalid": "1", "duplicate": "1"})
	jobID := final["jobId"].(string)

	hist := call("ListJobs", `{"account_id": "demo"}`)[0]
	if !strings.Contains(fmt.Sprint(hist["jobs"]), jobID) {
		t.Fatalf("history %v lacks job %s", hist, jobID)
	}
	outs := call("ListRowOutcomes", fmt.Sprintf(`{"account_id": "demo", "job_id": %q, "outcomes": ["OUTCOME_NOT_FOUND"]}`, jobID))
	if s := fmt.Sprint(outs); !strings.Contains(s, "customer0009@example.com") || !strings.Contains(s, "CRM ID") {
		t.Fatalf("not-found outcomes lack the hint: %v", outs)
	}

	// The audit trail, and proof that a person was erased (row 3 of the
	// file) and another was not.
	trail := fmt.Sprint(call("ListAuditEvents", fmt.Sprintf(`{"job_id": %q}`, jobID)))
	if !strings.Contains(trail, "AUDIT_ACTION_JOB_FINISHED") || !strings.Contains(trail, "AUDIT_ACTION_JOB_STARTED") || !strings.Contains(trail, "deleted:4") {
		t.Fatalf("audit trail of the job: %s", trail)
	}
	proof := fmt.Sprint(call("VerifyErasure", `{"spec": {"identifier_type": "IDENTIFIER_TYPE_EMAIL"}, "value": "person0002@example.com"}`))
	if !strings.Contains(proof, jobID) || !strings.Contains(proof, "row:3") {
		t.Fatalf("VerifyErasure of a deleted address: %s", proof)
	}
	if proof := fmt.Sprint(call("VerifyErasure", `{"spec": {"identifier_type": "IDENTIFIER_TYPE_EMAIL"}, "value": "nobody@example.com"}`)); strings.Contains(proof, jobID) {
		t.Fatalf("VerifyErasure of an address nobody had: %s", proof)
	}

	// XLSX by phone, with numbers a spreadsheet mangled.
	xlsxID := upload("delete-by-phone.xlsx")
	jobs = call("ExecuteDeletion", fmt.Sprintf(`{"account_id": "demo", "source": {"upload_id": %q, "column_name": "Mobile"}, "spec": {"identifier_type": "IDENTIFIER_TYPE_PHONE", "default_region": "SE"}}`, xlsxID))
	final = jobs[len(jobs)-1]["job"].(map[string]any)
	wantCounts(t, "xlsx execute", final["counts"], map[string]string{"rows": "5", "deleted": "5"})

	// Bad input gets advice, not a crash.
	cmd := exec.Command(grpcurl, "-plaintext", "-H", "authorization: Bearer "+token, "-d", fmt.Sprintf(`{"account_id": "demo", "source": {"upload_id": %q, "column_name": "Phone"}, "spec": {"identifier_type": "IDENTIFIER_TYPE_PHONE"}}`, xlsxID), addr, "erasure.v1.ErasureService/PreviewDeletion")
	out, _ = cmd.CombinedOutput()
	if !strings.Contains(string(out), "FailedPrecondition") || !strings.Contains(string(out), "upload the file again") ||
		!strings.Contains(string(out), `"reason": "UPLOAD_ALREADY_USED"`) {
		t.Fatalf("preview of a used upload: %s", out)
	}

	// A file over the 8 MiB limit of one message, sent in one chunk as the
	// walk-through does, is refused with advice that echoes nothing of it;
	// sent as README's "Uploading a large file" says, one chunk message per
	// 4 MiB piece, it is stored.
	var big bytes.Buffer
	big.WriteString("Email\n")
	for i := 0; big.Len() < 9<<20; i++ {
		fmt.Fprintf(&big, "user%07d@example.org\n", i)
	}
	metadata := `{"metadata": {"account_id": "demo", "filename": "big.csv"}}` + "\n"
	chunk := func(b []byte) string { return fmt.Sprintf("{\"chunk\": %q}\n", base64.StdEncoding.EncodeToString(b)) }
	cmd = exec.Command(grpcurl, "-plaintext", "-H", "authorization: Bearer "+token, "-d", "@", addr, "erasure.v1.ErasureService/UploadFile")
	cmd.Stdin = strings.NewReader(metadata + chunk(big.Bytes()))
	out, _ = cmd.CombinedOutput()
	if advice := `over the limit of 8 MiB for one message: send the file in chunk messages of at most 4 MiB each; see "Uploading a large file" in README.md`; !strings.Contains(string(out), "Code: ResourceExhausted") ||
		!strings.Contains(string(out), advice) || strings.Contains(string(out), "example.org") {
		t.Fatalf("a 9 MiB chunk: %.1000s", out)
	}
	body := metadata
	for piece := range slices.Chunk(big.Bytes(), 4<<20) {
		body += chunk(piece)
	}
	up := call("UploadFile", body)[0]["upload"].(map[string]any)
	if up["complete"] != true || up["receivedBytes"] != strconv.Itoa(big.Len()) {
		t.Fatalf("a 9 MiB file in 4 MiB chunks: %v", up)
	}

	// Segments: the article's two use cases on the demo data, evaluated at a
	// fixed time so that the counts do not depend on the day.
	const at = `"evaluation_time": "2026-12-01T00:00:00Z"`
	tagged := `"segment": {"root": {"op": "SEGMENT_GROUP_OP_ALL", "children": [{"tag": {"name": "internal_test"}}]}}`
	inactive := `"segment": {"root": {"op": "SEGMENT_GROUP_OP_ALL", "children": [{"event": {"type": "email_click", "within_days": 1095, "negate": true}}]}}`
	count := call("CountSegment", "{"+tagged+", "+at+"}")[0]
	if count["profiles"] != "2" || count["deletionOffered"] != true {
		t.Fatalf("CountSegment of the tagged test addresses: %v", count)
	}
	shown := fmt.Sprint(call("ShowSegmentProfiles", "{"+tagged+", "+at+"}"))
	if !strings.Contains(shown, "person0050@example.com") || !strings.Contains(shown, "person0100@example.com") {
		t.Fatalf("ShowSegmentProfiles: %s", shown)
	}
	var export []byte
	for _, m := range call("ExportSegment", "{"+tagged+", "+at+`, "columns": ["EXPORT_COLUMN_EMAIL"]}`) {
		if d, ok := m["data"].(string); ok {
			b, err := base64.StdEncoding.DecodeString(d)
			if err != nil {
				t.Fatal(err)
			}
			export = append(export, b...)
		}
	}
	if want := "\ufeffEmail\r\nperson0050@example.com\r\nperson0100@example.com\r\n"; string(export) != want {
		t.Fatalf("ExportSegment: %q, want %q", export, want)
	}
	// The export, unchanged, in the delete import.
	exportID := call("UploadFile", fmt.Sprintf(`{"metadata": {"account_id": "demo", "filename": "tagged.csv"}}
{"chunk": %q}`, base64.StdEncoding.EncodeToString(export)))[0]["upload"].(map[string]any)["uploadId"].(string)
	jobs = call("ExecuteDeletion", fmt.Sprintf(`{"source": {"upload_id": %q, "column_name": "Email"}, "spec": {"identifier_type": "IDENTIFIER_TYPE_EMAIL"}}`, exportID))
	wantCounts(t, "delete by the export", jobs[len(jobs)-1]["job"].(map[string]any)["counts"], map[string]string{"rows": "2", "deleted": "2"})
	// Straight from the segment: preview, then execute with the count.
	preview := call("PreviewSegmentDeletion", "{"+inactive+", "+at+"}")[0]
	n := str(t, preview, "profiles")
	jobs = call("ExecuteSegmentDeletion", fmt.Sprintf(`{"snapshot_id": %q, "expected_profiles": %s}`, str(t, preview, "snapshotId"), n))
	final = jobs[len(jobs)-1]["job"].(map[string]any)
	wantCounts(t, "delete from the segment", final["counts"], map[string]string{"rows": n, "deleted": n})
	if final["kind"] != "JOB_KIND_SEGMENT" || n == "0" {
		t.Fatalf("segment deletion job: %v", final)
	}
	if left := call("CountSegment", "{"+inactive+", "+at+"}")[0]; left["profiles"] != nil && left["profiles"] != "0" {
		t.Fatalf("inactive profiles left: %v", left)
	}

	// SIGTERM stops it cleanly.
	if err := srv.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no exit 30 s after SIGTERM")
	}
	// No identifier from the files reaches the log.
	for _, secret := range []string{"person0001", "example.com", "example.org", "customer0009", "4670", "70 000"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the server log contains %q", secret)
		}
	}
}

func wantCounts(t *testing.T, what string, got any, want map[string]string) {
	t.Helper()
	m, _ := got.(map[string]any)
	for k, v := range want {
		if fmt.Sprint(m[k]) != v {
			t.Fatalf("%s counts = %v, want %s=%s", what, m, k, v)
		}
	}
}

func str(t *testing.T, m map[string]any, path ...string) string {
	t.Helper()
	var cur any = m
	for _, p := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			t.Fatalf("no %v in %v", path, m)
		}
		cur = mm[p]
	}
	s, ok := cur.(string)
	if !ok {
		t.Fatalf("no %v in %v", path, m)
	}
	return s
}
