package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/erasure-dev/erasure/internal/auth"
	"github.com/erasure-dev/erasure/internal/demo"
	"github.com/erasure-dev/erasure/internal/identifier"
	"github.com/erasure-dev/erasure/internal/profile"
	"github.com/erasure-dev/erasure/internal/storagetest"
	"github.com/erasure-dev/erasure/internal/testkit"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

// chromium returns Debian's Chromium, or fails saying how to install it:
// the browser test never skips.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "/usr/bin/chromium"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium not found: install Debian's chromium (apt-get install chromium; make test does it when run as root)")
	return ""
}

// TestWizardInChromium drives the wizard served by a real erasured in
// Chromium (web/e2e/wizard.test.mjs) and checks the store afterwards: a CSV
// and an XLSX deletion end to end, the warning about sections a user cannot
// see, an unsubscribe, Cancel at the overview
// deleting nothing,
// the import history with its report and download, the segment screens
// (count, show, export, delete from the segment), a refused file's
// message, a 50 MB upload with its progress bar, a reload in the middle of
// a job re-attaching to it, and CORS
// refusing a page on another origin. ERASURE_SCREENSHOTS=docs/screenshots
// saves the steps' screenshots for the README.
func TestWizardInChromium(t *testing.T) {
	browser := chromium(t)
	nodeBin, _ := node(t)
	ctx := context.Background()
	store := storagetest.New(t, nil)
	if _, err := demo.Seed(ctx, store, demo.Account, 200); err != nil {
		t.Fatal(err)
	}
	// Deleting from a segment is off unless turned on.
	if err := store.SetAccountFeatures(ctx, demo.Account, []string{"file_deletion", "list_deletion", "profile_deletion", "unsubscribe", "segment_deletion"}); err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(t.TempDir(), "dev-jwt-key.pem")
	key, err := auth.DevKey(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	token, err := auth.Sign(key, auth.Principal{Account: demo.Account, Subject: "wizard-test", Kind: auth.KindUser, Role: auth.Owner}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	newsletterOnly, err := auth.Sign(key, auth.Principal{Account: demo.Account, Subject: "wizard-test", Kind: auth.KindUser, Role: auth.User, Sections: []string{"newsletter"}}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	auditKey := filepath.Join(t.TempDir(), "audit-key")
	if err := os.WriteFile(auditKey, []byte(strings.Repeat("ab", 32)), 0o600); err != nil {
		t.Fatal(err)
	}
	// Two other origins: one allowed to call the service, one not.
	page := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "<!doctype html><title>another site</title>")
	})
	allowed, other := httptest.NewServer(page), httptest.NewServer(page)
	t.Cleanup(allowed.Close)
	t.Cleanup(other.Close)

	// Small batches, so that a job of 2,000 rows runs long enough to reload
	// the page in the middle of it.
	url, _ := startErasured(t, "-mongodb-uri", storagetest.URI(t), "-database", storagetest.DatabaseName(t), "-write-majority=false",
		"-dev-key", keyPath, "-audit-key-file", auditKey, "-batch-size", "10", "-cors-allowed-origins", allowed.URL)

	// The long file: demo profiles 20 to 199 (126 of them keyed by
	// e-mail, 123 once the segment deleted the tagged 50, 100 and 150),
	// then addresses nobody has.
	var long strings.Builder
	long.WriteString("Email\n")
	matched := 0
	for n := 20; n < 200; n++ {
		fmt.Fprintf(&long, "person%04d@example.com\n", n)
		if n%10 < 7 && n%50 != 0 {
			matched++
		}
	}
	for n := 0; n < 1800; n++ {
		fmt.Fprintf(&long, "nobody%04d@example.org\n", n)
	}
	longPath := filepath.Join(t.TempDir(), "inactive.csv")
	if err := os.WriteFile(longPath, []byte(long.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	// A 50 MB file, the default upload limit's size.
	var big strings.Builder
	big.WriteString("Email\n")
	for n := 0; big.Len() < 50<<20-40; n++ {
		fmt.Fprintf(&big, "user%08d@example.org\n", n)
	}
	bigPath := filepath.Join(t.TempDir(), "big.csv")
	if err := os.WriteFile(bigPath, []byte(big.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	shots := os.Getenv("ERASURE_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	} else if shots, err = filepath.Abs(filepath.Join("..", shots)); err != nil {
		t.Fatal(err)
	}
	examples, _ := filepath.Abs("../examples")

	runCtx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(runCtx, nodeBin, "e2e/wizard.test.mjs")
	cmd.Env = append(os.Environ(), "ERASURE_URL="+url, "ERASURE_TOKEN="+token, "NEWSLETTER_TOKEN="+newsletterOnly, "CHROMIUM="+browser, "SCREENSHOTS="+shots,
		"CSV_PATH="+filepath.Join(examples, "delete-by-email.csv"), "CANCEL_PATH="+filepath.Join(examples, "unsubscribe-by-email.csv"),
		"XLSX_PATH="+filepath.Join(examples, "delete-by-phone.xlsx"), "LONG_PATH="+longPath, fmt.Sprintf("LONG_MATCHED=%d", matched),
		"ALLOWED_ORIGIN="+allowed.URL, "OTHER_ORIGIN="+other.URL, "BIG_PATH="+bigPath, fmt.Sprintf("BIG_SIZE=%d", big.Len()))
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("the browser test failed: %v", err)
	}

	// The store: what the page deleted is gone, what it cancelled stays.
	exists := func(email string) bool {
		ok, err := store.ProfileExists(ctx, demo.Account, profile.Key{Type: identifier.Email, Value: email})
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	for _, gone := range []string{"person0001@example.com", "person0002@example.com", "person0010@example.com", "person0020@example.com", "person0196@example.com", "person0200@example.com"} {
		if exists(gone) {
			t.Errorf("%s still exists after the page deleted it", gone)
		}
	}
	for _, kept := range []string{"person0011@example.com", "person0012@example.com", "person0015@example.com", "person0004@example.com"} {
		if !exists(kept) {
			t.Errorf("%s was deleted, but its file was cancelled at the overview (or it was in no file)", kept)
		}
	}
	// The unsubscribe by the page opted person0011 out of e-mail, and kept it.
	optedOut := false
	if err := store.ScanProfiles(ctx, demo.Account, "", func(p profile.Profile) bool {
		if p.Key.Value != "person0011@example.com" {
			return true
		}
		optedOut = len(p.Sections) > 0
		for _, sec := range p.Sections {
			for _, c := range sec.Consents {
				if c.Channel == "email" && c.Status != profile.OptOut {
					optedOut = false
				}
			}
		}
		return false
	}); err != nil {
		t.Fatal(err)
	}
	if !optedOut {
		t.Error("person0011 is not opted out of e-mail after the page unsubscribed it")
	}
	// 200, less the CSV's 4, the XLSX's 5, the segment's 4 and the long file's.
	if n, err := store.CountProfiles(ctx, demo.Account); err != nil || n != int64(200-4-5-4-matched) {
		t.Errorf("%d profiles left, %v; want %d", n, err, 200-4-5-4-matched)
	}
}

// startErasured builds erasured, starts it with args and returns its URL
// and the binary.
func startErasured(t *testing.T, args ...string) (url, bin string) {
	t.Helper()
	bin = filepath.Join(t.TempDir(), "erasured")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/erasured").CombinedOutput(); err != nil {
		t.Fatalf("build erasured: %v\n%s", err, out)
	}
	addr := testkit.FreeAddr(t)
	var logs testkit.SyncBuffer
	srv := exec.Command(bin, append([]string{"-addr", addr}, args...)...)
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
	for {
		res, err := http.Get("http://" + addr + "/")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return "http://" + addr, bin
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("erasured does not serve its page on %s:\n%s", addr, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
