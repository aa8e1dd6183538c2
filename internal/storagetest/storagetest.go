// Package storagetest runs tests against the real embedded engine: one
// engine per test binary, and a database of its own for every test, named
// after the test, so tests run in parallel without seeing each other's data.
package storagetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"os"
	"regexp"
	"sync"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/erasure-dev/erasure/internal/storageembed"
	"github.com/erasure-dev/erasure/storage"
)

var (
	mu     sync.Mutex
	engine *storageembed.Server
	dir    string
)

// Main runs the package's tests with an embedded engine and removes it
// afterwards. Call it from TestMain. With MONGODB_URI set, tests use that
// server instead (each test still in its own database).
func Main(m *testing.M) {
	code := m.Run()
	mu.Lock()
	if engine != nil {
		engine.Close()
		os.RemoveAll(dir)
	}
	mu.Unlock()
	os.Exit(code)
}

// URI returns the connection string of the test engine, starting it on first use.
func URI(t testing.TB) string {
	t.Helper()
	if uri := os.Getenv("MONGODB_URI"); uri != "" {
		return uri
	}
	mu.Lock()
	defer mu.Unlock()
	if engine == nil {
		d, err := os.MkdirTemp("", "erasure-test-")
		if err != nil {
			t.Fatal(err)
		}
		// The engine logs expected duplicate-key errors at ERROR; tests
		// assert on outcomes, not on its logs.
		quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
		e, err := storageembed.Start(d, quiet)
		if err != nil {
			t.Fatal(err)
		}
		engine, dir = e, d
	}
	return engine.URI()
}

var unsafeChars = regexp.MustCompile(`[^a-zA-Z0-9_]`)

// DatabaseName turns a test name into a database name the engine accepts.
func DatabaseName(t testing.TB) string {
	name := unsafeChars.ReplaceAllString(t.Name(), "_")
	if len(name) > 40 {
		sum := sha256.Sum256([]byte(t.Name()))
		name = name[:30] + "_" + hex.EncodeToString(sum[:4])
	}
	return name
}

// New opens a store on a fresh database of the test's own, dropped first so
// a rerun starts clean, and dropped again when the test ends. monitor may be
// nil.
func New(t testing.TB, monitor *event.CommandMonitor) *storage.Store {
	t.Helper()
	ctx := context.Background()
	uri, name := URI(t), DatabaseName(t)
	opts := storage.Options{URI: uri, Database: name, Monitor: monitor}
	// Opened once and dropped before the store the test gets is opened:
	// the first open of a database on the engine is slow, and tests with
	// tight windows (watchers) must not pay for it.
	s, err := storage.Open(ctx, opts)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	drop(t, uri, name)
	s.Close(ctx)
	s, err = storage.Open(ctx, opts)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() {
		s.Close(context.Background())
		drop(t, uri, name)
	})
	return s
}

// drop deletes a database with a connection of its own: the store has no
// method that drops what it holds.
func drop(t testing.TB, uri, name string) {
	t.Helper()
	ctx := context.Background()
	c, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer c.Disconnect(ctx)
	if err := c.Database(name).Drop(ctx); err != nil {
		t.Logf("drop database: %v", err)
	}
}

// Database returns the test's database through a connection of its own,
// to see or change documents exactly as stored, as another writer would.
func Database(t testing.TB) *mongo.Database {
	t.Helper()
	c, err := mongo.Connect(options.Client().ApplyURI(URI(t)))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { _ = c.Disconnect(context.Background()) })
	return c.Database(DatabaseName(t))
}

// Claims returns the owners of a job's claims in claim order, as the store
// keeps them (deletion_job_claims): a takeover adds one.
func Claims(t testing.TB, uri, database, accountID, jobID string) []string {
	t.Helper()
	ctx := context.Background()
	oid, err := bson.ObjectIDFromHex(jobID)
	if err != nil {
		t.Fatalf("job id %q: %v", jobID, err)
	}
	c, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer c.Disconnect(ctx)
	cur, err := c.Database(database).Collection("deletion_job_claims").Find(ctx,
		bson.D{{"job_id", oid}, {"account_id", accountID}}, options.Find().SetSort(bson.D{{"attempt", 1}}))
	if err != nil {
		t.Fatalf("list claims: %v", err)
	}
	var docs []struct {
		Owner string `bson:"owner"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		t.Fatalf("list claims: %v", err)
	}
	owners := make([]string, len(docs))
	for i, d := range docs {
		owners[i] = d.Owner
	}
	return owners
}

// Reopen opens another connection to the test's database, as New made it;
// benchmarks use one to watch without counting their own commands.
func Reopen(t testing.TB, monitor *event.CommandMonitor) *storage.Store {
	t.Helper()
	s, err := storage.Open(context.Background(), storage.Options{URI: URI(t), Database: DatabaseName(t), Monitor: monitor})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}
