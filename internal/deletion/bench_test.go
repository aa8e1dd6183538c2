package deletion_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/erasure-dev/erasure/internal/deletion"
	"github.com/erasure-dev/erasure/internal/identifier"
	"github.com/erasure-dev/erasure/internal/job"
	"github.com/erasure-dev/erasure/internal/profile"
	"github.com/erasure-dev/erasure/internal/segment"
	"github.com/erasure-dev/erasure/internal/storagetest"
	"github.com/erasure-dev/erasure/storage"
)

const (
	benchRows  = 3000
	benchBatch = 1000
)

// benchData seeds the account with profiles for 3/4 of the rows and returns
// the rows: 75 % match, 15 % match nothing, 5 % invalid, 5 % duplicates.
func benchData(b *testing.B, store *storage.Store) []string {
	b.Helper()
	var rows []string
	var ps []profile.Profile
	for i := range benchRows {
		switch {
		case i%20 == 0:
			rows = append(rows, fmt.Sprintf("not-an-email-%d", i))
		case i%20 == 1:
			rows = append(rows, fmt.Sprintf("b%06d@example.com", i-1+2))
		case i%20 < 5:
			rows = append(rows, fmt.Sprintf("missing%06d@example.com", i))
		default:
			v := fmt.Sprintf("b%06d@example.com", i)
			rows = append(rows, v)
			ps = append(ps, profile.Profile{AccountID: "bench", Key: profile.Key{Type: identifier.Email, Value: v},
				Sections: []profile.Section{{SectionID: "s1", Tags: []string{"t"}}}})
		}
	}
	if err := store.InsertProfiles(context.Background(), ps); err != nil {
		b.Fatal(err)
	}
	return rows
}

// BenchmarkListJob runs a deletion job of 3,000 rows through the service's
// worker on the embedded engine and reports the MongoDB commands the worker
// sent per 1,000 rows and the rows per second, with and without the lookup
// that explains rows that matched nothing.
func BenchmarkListJob(b *testing.B) {
	b.Run("hints", func(b *testing.B) { benchListJob(b, false) })
	b.Run("no-hints", func(b *testing.B) { benchListJob(b, true) })
}

func benchListJob(b *testing.B, disableHints bool) {
	var commands atomic.Int64
	mon := &event.CommandMonitor{Started: func(context.Context, *event.CommandStartedEvent) { commands.Add(1) }}
	store := storagetest.New(b, mon)
	watch := storagetest.Reopen(b, nil)
	svc := deletion.New(slog.New(slog.NewTextHandler(io.Discard, nil)), store, deletion.Config{
		BatchSize: benchBatch, Workers: 1, QueuePoll: time.Hour, SweepInterval: time.Hour,
		DisableHints: disableHints,
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go svc.Run(ctx)
	time.Sleep(100 * time.Millisecond) // let the first sweep and queue poll pass

	var total time.Duration
	var cmds int64
	for range b.N {
		b.StopTimer()
		rows := benchData(b, store)
		commands.Store(0)
		start := time.Now()
		b.StartTimer()
		j, err := svc.StartList(ctx, deletion.Caller{AccountID: "bench"}, rows, deletion.Spec{Type: identifier.Email}, deletion.Delete)
		if err != nil {
			b.Fatal(err)
		}
		for {
			got, err := watch.GetJob(ctx, "bench", j.ID)
			if err != nil {
				b.Fatal(err)
			}
			if got.State.Terminal() {
				if got.State != job.Succeeded || got.Counts.Rows != benchRows {
					b.Fatalf("job ended %s with %+v", got.State, got.Counts)
				}
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		b.StopTimer()
		total += time.Since(start)
		cmds += commands.Load()
		b.StartTimer()
	}
	n := float64(b.N)
	b.ReportMetric(float64(cmds)/n/(benchRows/1000), "commands/1000rows")
	b.ReportMetric(benchRows*n/total.Seconds(), "rows/s")
}

// BenchmarkRawDriver is the floor for BenchmarkListJob on the same engine
// and data: only the unavoidable work, a find with $in on the key index and
// a deleteMany by _id per batch, with the raw driver.
func BenchmarkRawDriver(b *testing.B) {
	store := storagetest.New(b, nil)
	client, err := mongo.Connect(options.Client().ApplyURI(storagetest.URI(b)))
	if err != nil {
		b.Fatal(err)
	}
	defer client.Disconnect(context.Background())
	coll := client.Database(storagetest.DatabaseName(b)).Collection("profiles")
	ctx := context.Background()
	var total time.Duration
	for range b.N {
		b.StopTimer()
		rows := benchData(b, store)
		start := time.Now()
		b.StartTimer()
		for i := 0; i < len(rows); i += benchBatch {
			batch := rows[i:min(i+benchBatch, len(rows))]
			cur, err := coll.Find(ctx, bson.D{{"account_id", "bench"}, {"key.type", "email"}, {"key.value", bson.D{{"$in", batch}}}},
				options.Find().SetProjection(bson.D{{"_id", 1}}).SetBatchSize(benchBatch+1))
			if err != nil {
				b.Fatal(err)
			}
			var ids []bson.D
			if err := cur.All(ctx, &ids); err != nil {
				b.Fatal(err)
			}
			var oids bson.A
			for _, d := range ids {
				oids = append(oids, d[0].Value)
			}
			if _, err := coll.DeleteMany(ctx, bson.D{{"_id", bson.D{{"$in", oids}}}, {"account_id", "bench"}}); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		total += time.Since(start)
		b.StartTimer()
	}
	b.ReportMetric(benchRows*float64(b.N)/total.Seconds(), "rows/s")
}

// BenchmarkCountSegment counts (ours) and exports (export: the e-mail
// column as CSV) the help article's inactive-profiles segment over 100,000
// profiles of one account (a third clicked recently) and, on the same data
// and engine, reads the same documents with the raw driver decoding each
// into a bson.D (raw): the floor for a segment evaluated in Go.
func BenchmarkCountSegment(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("ERASURE_BENCH_PROFILES")); err == nil && v > 0 {
		n = v
	}
	store := storagetest.New(b, nil)
	uri, db := storagetest.URI(b), storagetest.DatabaseName(b)
	svc := deletion.New(slog.New(slog.NewTextHandler(io.Discard, nil)), store, deletion.Config{})
	ctx := context.Background()
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	for start := 0; start < n; start += 10_000 {
		var ps []profile.Profile
		for i := start; i < min(start+10_000, n); i++ {
			at := now.AddDate(-4, 0, 0)
			if i%3 == 0 {
				at = now.AddDate(0, -1, 0)
			}
			ps = append(ps, profile.Profile{AccountID: "bench", Key: profile.Key{Type: identifier.Email, Value: fmt.Sprintf("p%06d@example.com", i)},
				Email: fmt.Sprintf("p%06d@example.com", i), CreatedAt: now.AddDate(-5, 0, 0),
				Sections: []profile.Section{{SectionID: "web", Attributes: map[string]any{"first_name": "Ann", "score": i % 100},
					Tags:     []string{"newsletter"},
					Consents: []profile.Consent{{Channel: "email", Topic: "news", Status: "opt_in", At: now.AddDate(-5, 0, 0)}},
					Events:   []profile.Event{{Type: "email_open", At: at}, {Type: "email_click", At: at}}}}})
		}
		if err := store.InsertProfiles(ctx, ps); err != nil {
			b.Fatal(err)
		}
	}
	want := n - (n+2)/3
	b.Run("ours", func(b *testing.B) {
		inactive := segment.Segment{Root: segment.Group{Op: segment.All, Children: []segment.Node{
			segment.Event{Type: "email_click", WithinDays: 3 * 365, Negate: true},
		}}}
		for range b.N {
			got, err := svc.CountSegment(ctx, deletion.Caller{AccountID: "bench"}, inactive, now)
			if err != nil || got.Profiles != int64(want) {
				b.Fatalf("%+v, %v; want %d", got, err, want)
			}
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "profiles/s")
	})
	b.Run("export", func(b *testing.B) {
		inactive := segment.Segment{Root: segment.Group{Op: segment.All, Children: []segment.Node{
			segment.Event{Type: "email_click", WithinDays: 3 * 365, Negate: true},
		}}}
		for range b.N {
			var w countingWriter
			got, err := svc.ExportSegment(ctx, deletion.Caller{AccountID: "bench"}, inactive, now, []deletion.ExportColumn{deletion.ExportEmail}, &w)
			if err != nil || got != int64(want) {
				b.Fatalf("%d, %v; want %d", got, err, want)
			}
			b.ReportMetric(float64(w), "bytes/op")
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "profiles/s")
	})
	b.Run("raw", func(b *testing.B) {
		client, err := mongo.Connect(options.Client().ApplyURI(uri))
		if err != nil {
			b.Fatal(err)
		}
		defer client.Disconnect(context.Background())
		coll := client.Database(db).Collection("profiles")
		for range b.N {
			cur, err := coll.Find(ctx, bson.D{{"account_id", "bench"}}, options.Find().SetSort(bson.D{{"_id", 1}}).SetBatchSize(500))
			if err != nil {
				b.Fatal(err)
			}
			seen := 0
			for cur.Next(ctx) {
				var d bson.D
				if err := cur.Decode(&d); err != nil {
					b.Fatal(err)
				}
				seen++
			}
			if err := cur.Err(); err != nil || seen != n {
				b.Fatalf("read %d, %v", seen, err)
			}
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "profiles/s")
	})
}

// countingWriter counts the bytes written to it.
type countingWriter int64

func (w *countingWriter) Write(p []byte) (int, error) {
	*w += countingWriter(len(p))
	return len(p), nil
}
