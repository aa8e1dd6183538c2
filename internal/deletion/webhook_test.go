package deletion_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/erasure-dev/erasure/internal/deletion"
	"github.com/erasure-dev/erasure/internal/identifier"
	"github.com/erasure-dev/erasure/internal/profile"
)

// A job's end reaches the account's webhook, signed, with no identifier in
// it, after a receiver that fails its first attempts recovers; it is
// delivered once.
func TestWebhookDeliveredAfterFailures(t *testing.T) {
	t.Parallel()
	secret := []byte("a webhook secret of 32 bytes....")
	var mu sync.Mutex
	var attempts int
	var delivered []string
	var bodies [][]byte
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		attempts++
		if attempts <= 2 {
			http.Error(w, "not now", http.StatusServiceUnavailable)
			return
		}
		mac := hmac.New(sha256.New, secret)
		mac.Write([]byte(r.Header.Get("X-Erasure-Timestamp") + "."))
		mac.Write(body)
		if r.Header.Get("X-Erasure-Signature") != "sha256="+hex.EncodeToString(mac.Sum(nil)) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		delivered = append(delivered, r.Header.Get("X-Erasure-Delivery"))
		bodies = append(bodies, body)
	}))
	t.Cleanup(receiver.Close)

	ctx := context.Background()
	svc, store := newService(t, deletion.Config{WebhookPoll: 20 * time.Millisecond, WebhookBackoff: 20 * time.Millisecond})
	if err := svc.SetWebhook(ctx, "acme", "ftp://x", secret); err == nil {
		t.Fatal("an ftp webhook was accepted")
	}
	if err := svc.SetWebhook(ctx, "acme", receiver.URL, secret); err != nil {
		t.Fatal(err)
	}
	if err := store.InsertProfiles(ctx, []profile.Profile{{AccountID: "acme", Key: profile.Key{Type: identifier.Email, Value: "ann.secret@example.com"}}}); err != nil {
		t.Fatal(err)
	}
	acme := deletion.Caller{AccountID: "acme"}
	j, err := svc.StartList(ctx, acme, []string{"ann.secret@example.com", "nobody.secret@example.com"}, deletion.Spec{Type: identifier.Email}, deletion.Delete)
	if err != nil {
		t.Fatal(err)
	}
	waitJob(t, svc, acme, j.ID)
	deadline := time.Now().Add(time.Minute)
	for {
		mu.Lock()
		n := len(delivered)
		mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no delivery after %d attempts", attempts)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Enough time for a wrong second delivery to show.
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if len(delivered) != 1 || delivered[0] != j.ID || attempts != 3 {
		t.Fatalf("deliveries %v after %d attempts; want job %s once, on the third", delivered, attempts, j.ID)
	}
	var got map[string]any
	if err := json.Unmarshal(bodies[0], &got); err != nil {
		t.Fatal(err)
	}
	counts, _ := got["counts"].(map[string]any)
	if got["job_id"] != j.ID || got["state"] != "succeeded" || got["action"] != "delete" || counts["deleted"] != float64(1) || counts["not_found"] != float64(1) {
		t.Fatalf("body %s", bodies[0])
	}
	if strings.Contains(string(bodies[0]), "secret@example.com") {
		t.Fatalf("the body holds an identifier: %s", bodies[0])
	}
}
