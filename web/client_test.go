package web_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
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

// TestClientPackage runs web/client/test/client.test.ts on Node against a
// real erasured: typed errors with their reasons, an upload whose chunks'
// answers get lost (resumed from GetUpload), and a deletion whose stream
// drops (re-attached with WatchJob).
func TestClientPackage(t *testing.T) {
	nodeBin, bin := node(t)
	dataDir := t.TempDir()
	url, erasured := startErasured(t, "-data-dir", dataDir, "-demo-profiles", "100")
	out, err := exec.Command(erasured, "token", "-data-dir", dataDir, "-account", "demo", "-role", "OWNER").Output()
	if err != nil {
		t.Fatalf("erasured token: %v", err)
	}
	token := strings.TrimSpace(string(out))
	script := filepath.Join(t.TempDir(), "client.test.mjs")
	if out, err := exec.Command(filepath.Join(bin, "esbuild"), "client/test/client.test.ts", "--bundle", "--platform=node", "--format=esm",
		"--log-level=warning", "--outfile="+script).CombinedOutput(); err != nil {
		t.Fatalf("bundle the test: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, nodeBin, script)
	cmd.Env = append(os.Environ(), "ERASURE_URL="+url, "ERASURE_TOKEN="+token)
	out, err = cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("the client test failed: %v", err)
	}
	if n := strings.Count(string(out), "ok: "); n < 10 {
		t.Fatal(fmt.Sprintf("only %d checks ran", n))
	}
}
