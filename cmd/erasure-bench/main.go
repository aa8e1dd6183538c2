// Command erasure-bench measures a deletion end to end through the public
// API on the embedded engine, and beside it, on the same data and engine,
// the unavoidable work done with the raw driver; it prints both and their
// ratio. `make bench` runs it. With -memory it measures instead the peak
// memory of a real erasured process taking a 50 MB CSV and a 50 MB XLSX
// through upload, preview and execution (`make bench-memory`). Figures go
// to docs/benchmarks.md by hand, with the machine they ran on.
package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"connectrpc.com/connect"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	erasurev1 "github.com/erasure-dev/erasure/gen/erasure/v1"
	"github.com/erasure-dev/erasure/gen/erasure/v1/erasurev1connect"
	"github.com/erasure-dev/erasure/internal/auth"
	"github.com/erasure-dev/erasure/internal/deletion"
	"github.com/erasure-dev/erasure/internal/identifier"
	"github.com/erasure-dev/erasure/internal/profile"
	"github.com/erasure-dev/erasure/internal/storageembed"
	"github.com/erasure-dev/erasure/server"
	"github.com/erasure-dev/erasure/storage"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "erasure-bench:", err)
		os.Exit(1)
	}
}

type config struct {
	profiles, rows, batch int
	hints                 bool
	cpuProfile            string
}

func run() error {
	var c config
	flag.IntVar(&c.profiles, "profiles", 5000, "profiles seeded in the account")
	flag.IntVar(&c.rows, "rows", 10000, "rows in the file: 75% match, 15% match nothing, 5% invalid, 5% duplicate")
	flag.IntVar(&c.batch, "batch", deletion.DefaultConfig().BatchSize, "batch size, for erasure and the baseline")
	flag.BoolVar(&c.hints, "hints", true, "let erasure explain unmatched rows (its lookup then also finds related profiles)")
	flag.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of erasure's execute phase to this file (the embedded engine runs in this process: its work is in the profile too)")
	memory := flag.Bool("memory", false, "instead: measure the peak memory of an erasured process taking a 50 MB CSV and a 50 MB XLSX through upload, preview and execution (minutes)")
	var mc memConfig
	memoryFlags(&mc)
	flag.Parse()
	if *memory {
		return runMemory(mc)
	}

	dir, err := os.MkdirTemp("", "erasure-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	eng, err := storageembed.Start(dir, quiet)
	if err != nil {
		return err
	}
	defer eng.Close()

	file := makeFile(c)
	ours, err := benchOurs(eng.URI(), c, file)
	if err != nil {
		return fmt.Errorf("erasure: %w", err)
	}
	raw, err := benchRaw(eng.URI(), c, file)
	if err != nil {
		return fmt.Errorf("raw driver: %w", err)
	}

	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Printf("end to end on the embedded engine: %d profiles, %d rows (%d bytes), batch %d, hints %v\n\n", c.profiles, c.rows, len(file), c.batch, c.hints)
	fmt.Fprintln(w, "\tupload\tpreview\texecute\tfirst progress\trows/s (execute)\tcommands/1000 rows (execute)\t")
	fmt.Fprintf(w, "erasure\t%s\t%s\t%s\t%s\t%.0f\t%.1f\t\n", ms(ours.upload), ms(ours.preview), ms(ours.execute), ms(ours.firstProgress),
		float64(c.rows)/ours.execute.Seconds(), float64(ours.commands)*1000/float64(c.rows))
	fmt.Fprintf(w, "raw driver\t\t\t%s\t\t%.0f\t%.1f\t\n", ms(raw.execute), float64(c.rows)/raw.execute.Seconds(), float64(raw.commands)*1000/float64(c.rows))
	w.Flush()
	fmt.Printf("\nratio erasure/raw (execute time): %.2f   target <= 1.15\n", ours.execute.Seconds()/raw.execute.Seconds())
	fmt.Printf("commands per 1,000 rows: %.1f   target <= 3\n", float64(ours.commands)*1000/float64(c.rows))
	fmt.Printf("first progress after execute: %s   target <= 200 ms\n", ms(ours.firstProgress))
	fmt.Printf("job reads by the progress stream: %d in %s (one per 200 ms, whatever the rows)\n", ours.polls, ms(ours.execute))
	fmt.Printf("report: %s\n", ours.report)
	fmt.Printf("erasure's commands while executing, by command and collection (time the store took for them): %s\n", strings.Join(ours.byKind, ", "))
	return nil
}

// bearer adds the token to every request.
type bearer string

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+string(b))
	return http.DefaultTransport.RoundTrip(r)
}

func ms(d time.Duration) string { return fmt.Sprintf("%d ms", d.Milliseconds()) }

// makeFile writes the CSV both runs read.
func makeFile(c config) []byte {
	var b bytes.Buffer
	b.WriteString("Email\n")
	for i := range c.rows {
		var v string
		switch {
		case i%20 == 0:
			v = fmt.Sprintf("not-an-email-%d", i)
		case i%20 == 1:
			v = fmt.Sprintf("Person%07d@Example.com", (i*3/4)%c.profiles) // a duplicate of an earlier row
		case i%20 < 5:
			v = fmt.Sprintf("nobody%07d@example.com", i)
		default:
			v = fmt.Sprintf("person%07d@example.com", (i*3/4)%c.profiles)
		}
		b.WriteString(v + "\n")
	}
	return b.Bytes()
}

func seed(ctx context.Context, s *storage.Store, c config) error {
	var ps []profile.Profile
	for n := range c.profiles {
		ps = append(ps, profile.Profile{AccountID: "bench", Key: profile.Key{Type: identifier.Email, Value: fmt.Sprintf("person%07d@example.com", n)},
			Sections: []profile.Section{{SectionID: fmt.Sprintf("s%d", n%3), Tags: []string{"t"}}}})
		if len(ps) == 1000 {
			if err := s.InsertProfiles(ctx, ps); err != nil {
				return err
			}
			ps = ps[:0]
		}
	}
	return s.InsertProfiles(ctx, ps)
}

type result struct {
	upload, preview, execute, firstProgress time.Duration
	commands, polls                         int64
	report                                  string
	// byKind counts the execute phase's commands by command and collection.
	byKind []string
}

// benchOurs drives the service through its Connect API over HTTP, as the
// web frontend does, and counts the commands its store sends while the job
// executes.
func benchOurs(uri string, c config, file []byte) (result, error) {
	ctx := context.Background()
	// Watchers' polls of the job document are counted apart: they cost per
	// interval, not per row.
	var commands, polls atomic.Int64
	var mu sync.Mutex
	byKind := map[string]int{}         // "command collection", to say where commands go
	took := map[string]time.Duration{} // and how long the store took for them
	kindOf := map[int64]string{}       // of the commands under way, by request id
	done := func(id int64, d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		if k, ok := kindOf[id]; ok {
			took[k] += d
			delete(kindOf, id)
		}
	}
	mon := &event.CommandMonitor{
		Started: func(_ context.Context, e *event.CommandStartedEvent) {
			if e.CommandName == "find" && strings.Contains(e.Command.Lookup("find").String(), "deletion_jobs") {
				polls.Add(1)
				return
			}
			commands.Add(1)
			coll, _ := e.Command.Lookup(e.CommandName).StringValueOK()
			mu.Lock()
			k := e.CommandName + " " + coll
			byKind[k]++
			kindOf[e.RequestID] = k
			mu.Unlock()
		},
		Succeeded: func(_ context.Context, e *event.CommandSucceededEvent) { done(e.RequestID, e.Duration) },
		Failed:    func(_ context.Context, e *event.CommandFailedEvent) { done(e.RequestID, e.Duration) },
	}
	store, err := storage.Open(ctx, storage.Options{URI: uri, Database: "bench_erasure", Monitor: mon})
	if err != nil {
		return result{}, err
	}
	defer store.Close(ctx)
	if err := seed(ctx, store, c); err != nil {
		return result{}, err
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc := deletion.New(quiet, store, deletion.Config{BatchSize: c.batch, Workers: 1, DisableHints: !c.hints, SweepInterval: time.Hour})
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go svc.Run(runCtx)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return result{}, err
	}
	pub, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		return result{}, err
	}
	token, err := auth.Sign(key, auth.Principal{Account: "bench", Subject: "bench", Kind: auth.KindService, Role: auth.Owner}, time.Hour)
	if err != nil {
		return result{}, err
	}
	go server.Serve(runCtx, l, server.New(runCtx, quiet, svc, auth.NewVerifier([]crypto.PublicKey{pub}, nil), server.Options{}), 0, time.Second)
	api := erasurev1connect.NewErasureServiceClient(&http.Client{Transport: bearer(token)}, "http://"+l.Addr().String())
	time.Sleep(200 * time.Millisecond) // the first sweep and queue poll pass before measuring

	var r result
	start := time.Now()
	up, err := api.CreateUpload(ctx, connect.NewRequest(&erasurev1.CreateUploadRequest{Metadata: &erasurev1.UploadMetadata{AccountId: "bench", Filename: "bench.csv"}}))
	if err != nil {
		return r, err
	}
	id := up.Msg.GetUpload().GetUploadId()
	const chunk = 1 << 20
	for off := 0; off < len(file); off += chunk {
		end := min(off+chunk, len(file))
		if _, err := api.UploadChunk(ctx, connect.NewRequest(&erasurev1.UploadChunkRequest{AccountId: "bench", UploadId: id, Offset: int64(off), Data: file[off:end], Last: end == len(file)})); err != nil {
			return r, err
		}
	}
	r.upload = time.Since(start)

	src := &erasurev1.FileSource{UploadId: id, Column: &erasurev1.FileSource_ColumnName{ColumnName: "Email"}}
	spec := &erasurev1.DeletionSpec{IdentifierType: erasurev1.IdentifierType_IDENTIFIER_TYPE_EMAIL}
	start = time.Now()
	if _, err := api.PreviewDeletion(ctx, connect.NewRequest(&erasurev1.PreviewDeletionRequest{AccountId: "bench", Source: src, Spec: spec})); err != nil {
		return r, err
	}
	r.preview = time.Since(start)

	commands.Store(0)
	polls.Store(0)
	mu.Lock()
	clear(byKind)
	clear(took)
	mu.Unlock()
	if c.cpuProfile != "" {
		f, err := os.Create(c.cpuProfile)
		if err != nil {
			return r, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return r, err
		}
		defer pprof.StopCPUProfile()
	}
	start = time.Now()
	stream, err := api.ExecuteDeletion(ctx, connect.NewRequest(&erasurev1.ExecuteDeletionRequest{AccountId: "bench", Source: src, Spec: spec}))
	if err != nil {
		return r, err
	}
	var last *erasurev1.Job
	for stream.Receive() {
		if last == nil {
			r.firstProgress = time.Since(start)
		}
		last = stream.Msg().GetJob()
	}
	if err := stream.Err(); err != nil {
		return r, err
	}
	r.execute = time.Since(start)
	if c.cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	r.commands, r.polls = commands.Load(), polls.Load()
	mu.Lock()
	for k, n := range byKind {
		r.byKind = append(r.byKind, fmt.Sprintf("%s %d (%s)", k, n, ms(took[k])))
	}
	mu.Unlock()
	slices.Sort(r.byKind)
	if last.GetState() != erasurev1.JobState_JOB_STATE_SUCCEEDED {
		return r, fmt.Errorf("job ended %v: %s", last.GetState(), last.GetError())
	}
	c2 := last.GetCounts()
	r.report = fmt.Sprintf("rows %d, deleted %d, not found %d, invalid %d, duplicate %d", c2.GetRows(), c2.GetDeleted(), c2.GetNotFound(), c2.GetInvalid(), c2.GetDuplicate())
	return r, nil
}

// benchRaw is the floor: read the same file with encoding/csv, then per
// batch one find with $in on the key index and one deleteMany by _id.
func benchRaw(uri string, c config, file []byte) (result, error) {
	ctx := context.Background()
	store, err := storage.Open(ctx, storage.Options{URI: uri, Database: "bench_raw"})
	if err != nil {
		return result{}, err
	}
	defer store.Close(ctx)
	if err := seed(ctx, store, c); err != nil {
		return result{}, err
	}
	var commands atomic.Int64
	mon := &event.CommandMonitor{Started: func(context.Context, *event.CommandStartedEvent) { commands.Add(1) }}
	client, err := mongo.Connect(options.Client().ApplyURI(uri).SetMonitor(mon))
	if err != nil {
		return result{}, err
	}
	defer client.Disconnect(ctx)
	coll := client.Database("bench_raw").Collection("profiles")
	if err := client.Ping(ctx, nil); err != nil {
		return result{}, err
	}
	commands.Store(0)

	var r result
	start := time.Now()
	cr := csv.NewReader(bytes.NewReader(file))
	cr.ReuseRecord = true
	if _, err := cr.Read(); err != nil { // header
		return r, err
	}
	batch := make([]string, 0, c.batch)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		cur, err := coll.Find(ctx, bson.D{{"account_id", "bench"}, {"key.type", "email"}, {"key.value", bson.D{{"$in", batch}}}},
			options.Find().SetProjection(bson.D{{"_id", 1}}).SetBatchSize(int32(len(batch)+1)))
		if err != nil {
			return err
		}
		var docs []struct {
			ID bson.ObjectID `bson:"_id"`
		}
		if err := cur.All(ctx, &docs); err != nil {
			return err
		}
		ids := make(bson.A, len(docs))
		for i, d := range docs {
			ids[i] = d.ID
		}
		if len(ids) > 0 {
			if _, err := coll.DeleteMany(ctx, bson.D{{"_id", bson.D{{"$in", ids}}}, {"account_id", "bench"}}); err != nil {
				return err
			}
		}
		batch = batch[:0]
		return nil
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return r, err
		}
		batch = append(batch, strings.ToLower(strings.TrimSpace(rec[0])))
		if len(batch) == c.batch {
			if err := flush(); err != nil {
				return r, err
			}
		}
	}
	if err := flush(); err != nil {
		return r, err
	}
	r.execute = time.Since(start)
	r.commands = commands.Load()
	return r, nil
}
