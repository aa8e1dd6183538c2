package server_test

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/erasure-dev/erasure/internal/auth"
	"github.com/erasure-dev/erasure/internal/deletion"
	"github.com/erasure-dev/erasure/internal/storagetest"
	"github.com/erasure-dev/erasure/server"
)

// TestCORS checks what a browser on another origin sees: with the page's
// origin allowed, a preflight for a Connect call with a bearer token is
// answered (and may be cached two hours) and the call's response names the
// origin and exposes the headers Connect and gRPC-Web read; from any other
// origin, or with no origins set, nothing is allowed, so the browser refuses.
func TestCORS(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc := deletion.New(logger, storagetest.New(t, nil), deletion.Config{TempDir: t.TempDir()})
	pub, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	api := server.New(ctx, logger, svc, auth.NewVerifier([]crypto.PublicKey{pub}, nil), server.Options{})
	allowed := httptest.NewServer(server.WithCORS(api, []string{"https://app.example.com"}))
	t.Cleanup(allowed.Close)
	none := httptest.NewServer(server.WithCORS(api, nil))
	t.Cleanup(none.Close)
	token, err := auth.Sign(key, auth.Principal{Account: "acme", Subject: "ann", Kind: auth.KindUser, Role: auth.Owner}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	const procedure = "/erasure.v1.ErasureService/ListJobs"

	preflight := func(base, origin string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodOptions, base+procedure, nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		// As browsers send it: lower case, sorted.
		req.Header.Set("Access-Control-Request-Headers", "authorization,connect-protocol-version,content-type")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	res := preflight(allowed.URL, "https://app.example.com")
	if res.StatusCode != http.StatusNoContent || res.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		!strings.Contains(strings.ToLower(res.Header.Get("Access-Control-Allow-Headers")), "authorization") || res.Header.Get("Access-Control-Max-Age") != "7200" {
		t.Fatalf("preflight from the allowed origin: %d %v", res.StatusCode, res.Header)
	}
	for _, c := range []struct{ base, origin string }{{allowed.URL, "https://evil.example.com"}, {none.URL, "https://app.example.com"}} {
		if res := preflight(c.base, c.origin); res.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("preflight from %s allowed: %v", c.origin, res.Header)
		}
	}

	call := func(origin string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, allowed.URL+procedure, strings.NewReader("{}"))
		req.Header.Set("Origin", origin)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	res = call("https://app.example.com")
	if res.StatusCode != http.StatusOK || res.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		!strings.Contains(res.Header.Get("Access-Control-Expose-Headers"), "Grpc-Status") {
		t.Fatalf("a call from the allowed origin: %d %v", res.StatusCode, res.Header)
	}
	if res := call("https://evil.example.com"); res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("a call from another origin carries %v", res.Header)
	}

	for _, bad := range []string{"*", "https://app.example.com/", "app.example.com", "https://App.example.com", "ftp://x"} {
		if err := server.CheckOrigin(bad); err == nil {
			t.Errorf("origin %q accepted", bad)
		}
	}
	if err := server.CheckOrigin("http://localhost:5173"); err != nil {
		t.Error(err)
	}
}
