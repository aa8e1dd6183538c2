package web_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/erasure-dev/erasure/internal/testkit"
)

// node returns the path of node and the repository's node_modules/.bin, or
// fails saying what to install: the browser-side tests never skip.
func node(t *testing.T) (nodeBin, bin string) {
	t.Helper()
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node not found: install Node.js 20 or later (the web client's tests run on it)")
	}
	bin, _ = filepath.Abs("../node_modules/.bin")
	if _, err := os.Stat(filepath.Join(bin, "esbuild")); err != nil {
		t.Fatalf("esbuild not found in %s: run `make tools` (or `make test`, which installs the pinned npm packages)", bin)
	}
	return nodeBin, bin
}

// erasured builds and starts erasured on a fresh embedded store with 100
// demo profiles, and returns its URL and an OWNER token of the demo account.
func erasured(t *testing.T) (url, token string) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "erasured")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/erasured").CombinedOutput(); err != nil {
		t.Fatalf("build erasured: %v\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dataDir := t.TempDir()
	var logs testkit.SyncBuffer
	srv := exec.Command(bin, "-addr", addr, "-data-dir", dataDir, "-demo-profiles", "100")
	srv.Stdout, srv.Stderr = &logs, &logs
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Process.Kill()
		srv.Wait()
		if t.Failed() {
			t.Logf("erasured log:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(logs.String(), "demo profiles") && !strings.Contains(logs.String(), "serving") {
		if time.Now().After(deadline) {
			t.Fatalf("erasured did not start:\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	out, err := exec.Command(bin, "token", "-data-dir", dataDir, "-account", "demo", "-role", "OWNER").Output()
	if err != nil {
		t.Fatalf("erasured token: %v", err)
	}
	// Ready when a call gets through.
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("erasured does not listen on %s", addr)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return "http://" + addr, strings.TrimSpace(string(out))
}

// TestClientPackage runs web/client/test/client.test.ts on Node against a
// real erasured: typed errors with their reasons, an upload whose chunks'
// answers get lost (resumed from GetUpload), and a deletion whose stream
// drops (re-attached with WatchJob).
func TestClientPackage(t *testing.T) {
	nodeBin, bin := node(t)
	url, token := erasured(t)
	script := filepath.Join(t.TempDir(), "client.test.mjs")
	if out, err := exec.Command(filepath.Join(bin, "esbuild"), "client/test/client.test.ts", "--bundle", "--platform=node", "--format=esm",
		"--log-level=warning", "--outfile="+script).CombinedOutput(); err != nil {
		t.Fatalf("bundle the test: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, nodeBin, script)
	cmd.Env = append(os.Environ(), "ERASURE_URL="+url, "ERASURE_TOKEN="+token)
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("the client test failed: %v", err)
	}
	if n := strings.Count(string(out), "ok: "); n < 10 {
		t.Fatal(fmt.Sprintf("only %d checks ran", n))
	}
}
