package deletion_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/event"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"

	"github.com/erasure-dev/erasure/internal/deletion"
	"github.com/erasure-dev/erasure/internal/identifier"
	"github.com/erasure-dev/erasure/internal/job"
	"github.com/erasure-dev/erasure/internal/profile"
	"github.com/erasure-dev/erasure/internal/storagetest"
	"github.com/erasure-dev/erasure/storage"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

// newService runs a service with its workers on a store of the test's own;
// each setup (a test seam of export_test.go) is applied before it runs.
func newService(t *testing.T, cfg deletion.Config, setup ...func(*deletion.Service)) (*deletion.Service, *storage.Store) {
	t.Helper()
	return newMonitoredService(t, cfg, nil, setup...)
}

// newMonitoredService is newService with a monitor of the service's store
// commands.
func newMonitoredService(t *testing.T, cfg deletion.Config, mon *event.CommandMonitor, setup ...func(*deletion.Service)) (*deletion.Service, *storage.Store) {
	t.Helper()
	store := storagetest.New(t, mon)
	cfg.TempDir = t.TempDir()
	cfg.QueuePoll = 50 * time.Millisecond
	cfg.WatchPoll = 20 * time.Millisecond
	svc := deletion.New(slog.New(slog.NewTextHandler(io.Discard, nil)), store, cfg)
	for _, f := range setup {
		f(svc)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = svc.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return svc, store
}

func upload(t *testing.T, svc *deletion.Service, name string, data []byte) string {
	t.Helper()
	w, err := svc.NewUploadWriter(context.Background(), "acme", name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	u, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// The quirks spreadsheets write, each resolved end to end against the engine:
// every file names the same three profiles (one of them twice) and one
// address nobody has.
func TestPreviewReadsWhatSpreadsheetsWrite(t *testing.T) {
	t.Parallel()
	utf16, err := unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewEncoder().String("Name\tEmail\r\nZoë\tzoe@example.com\r\nAnn\tann@example.com\r\nBob\tbob@example.com\r\nAnn\tANN@example.com\r\nNo\tno@example.com\r\n")
	if err != nil {
		t.Fatal(err)
	}
	cp1252, err := charmap.Windows1252.NewEncoder().String("Namn;E-post\r\nZoë;zoe@example.com\r\nÅsa;ann@example.com\r\nBob;bob@example.com\r\nAnn;ANN@example.com\r\nNo;no@example.com\r\n")
	if err != nil {
		t.Fatal(err)
	}
	files := []struct {
		name, file string
		data       []byte
	}{
		{"comma", "a.csv", []byte("Name,Email\nZoë,zoe@example.com\nAnn,ann@example.com\nBob,bob@example.com\nAnn,ANN@example.com\nNo,no@example.com\n")},
		{"semicolon, BOM, CRLF", "a.csv", []byte("\ufeffName;Email\r\nZoë;zoe@example.com\r\nAnn;ann@example.com\r\nBob;bob@example.com\r\nAnn;ANN@example.com\r\nNo;no@example.com\r\n")},
		{"UTF-16 tab (Excel Unicode text)", "a.txt", []byte(utf16)},
		{"Windows-1252", "a.csv", []byte(cp1252)},
		{"pipe, CR only", "a.csv", []byte("Name|Email\rZoë|zoe@example.com\rAnn|ann@example.com\rBob|bob@example.com\rAnn|ANN@example.com\rNo|no@example.com\r")},
		{"quotes and blank lines", "a.csv", []byte("Name,Email\n\n\"Zoë, \"\"Z\"\"\",\"zoe@example.com\"\n\"Ann\nAnnsson\",ann@example.com\n\nBob,bob@example.com\nAnn,ANN@example.com\nNo,no@example.com\n\n")},
		{"no header", "a.csv", []byte("Zoë,zoe@example.com\nAnn,ann@example.com\nBob,bob@example.com\nAnn,ANN@example.com\nNo,no@example.com\n")},
	}
	for _, f := range files {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			svc, store := newService(t, deletion.Config{BatchSize: 2})
			ps := []profile.Profile{}
			for _, v := range []string{"zoe@example.com", "ann@example.com", "bob@example.com"} {
				ps = append(ps, profile.Profile{AccountID: "acme", Key: profile.Key{Type: identifier.Email, Value: v}, Sections: []profile.Section{{SectionID: "s1"}}})
			}
			if err := store.InsertProfiles(context.Background(), ps); err != nil {
				t.Fatal(err)
			}
			id := upload(t, svc, f.file, f.data)
			p, err := svc.Preview(context.Background(), deletion.Caller{AccountID: "acme"}, deletion.FileSource{UploadID: id, ColumnNumber: 2}, deletion.Spec{Type: identifier.Email}, deletion.Delete)
			if err != nil {
				t.Fatal(err)
			}
			want := job.Counts{TotalRows: 5, Rows: 5, Valid: 4, Duplicate: 1, Matched: 3, NotFound: 1}
			if p.Counts != want {
				t.Fatalf("counts = %+v, want %+v", p.Counts, want)
			}
			if len(p.Sections) != 1 || p.Sections[0].Profiles != 3 {
				t.Fatalf("sections = %+v, want s1: 3", p.Sections)
			}
		})
	}
}

func TestSweepDeletesExpiredOutcomesAndUploads(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// The service's clock moves a day ahead once the job is done.
	var ahead atomic.Bool
	svc, store := newService(t, deletion.Config{OutcomeRetention: time.Hour, UploadTTL: time.Hour}, func(s *deletion.Service) {
		deletion.SetClock(s, func() time.Time {
			if ahead.Load() {
				return time.Now().Add(24 * time.Hour)
			}
			return time.Now()
		})
	})
	if err := store.InsertProfiles(ctx, []profile.Profile{{AccountID: "acme", Key: profile.Key{Type: identifier.Email, Value: "ann@example.com"}}}); err != nil {
		t.Fatal(err)
	}
	started, err := svc.StartList(ctx, deletion.Caller{AccountID: "acme"}, []string{"nobody@example.com"}, deletion.Spec{Type: identifier.Email}, deletion.Delete)
	if err != nil {
		t.Fatal(err)
	}
	var j job.View
	if err := svc.Watch(ctx, deletion.Caller{AccountID: "acme"}, started.ID, func(v job.View) error { j = v; return nil }); err != nil {
		t.Fatal(err)
	}
	unused := upload(t, svc, "left-behind.csv", []byte("Email\nann@example.com\n"))
	if got, _ := store.ListOutcomes(ctx, "acme", j.Job.ID, 0, 0, 10, nil); len(got) != 1 {
		t.Fatalf("%d outcomes before the sweep, want 1", len(got))
	}
	// Not yet expired: the sweep keeps them.
	if err := deletion.SweepOnce(ctx, svc); err != nil {
		t.Fatal(err)
	}
	if got, _ := store.ListOutcomes(ctx, "acme", j.Job.ID, 0, 0, 10, nil); len(got) != 1 {
		t.Fatalf("%d outcomes after a sweep within the retention, want 1", len(got))
	}
	if _, err := store.GetUpload(ctx, "acme", unused); err != nil {
		t.Fatalf("unused upload within its TTL: %v", err)
	}
	ahead.Store(true)
	if err := deletion.SweepOnce(ctx, svc); err != nil {
		t.Fatal(err)
	}
	if got, _ := store.ListOutcomes(ctx, "acme", j.Job.ID, 0, 0, 10, nil); len(got) != 0 {
		t.Fatalf("%d outcomes after the retention, want 0", len(got))
	}
	after, err := store.GetJob(ctx, "acme", j.Job.ID)
	if err != nil || after.Counts.NotFound != 1 || !after.OutcomesPurged {
		t.Fatalf("job after sweep = %+v, %v; want its counts kept and outcomes marked purged", after, err)
	}
	if _, err := store.GetUpload(ctx, "acme", unused); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("unused upload after its TTL: %v, want ErrNotFound", err)
	}
}

// Watchers of one job share one poller: twenty watchers cost the store about
// what one does, not twenty times as much. Jobs wait in order, with their
// place in the queue shown.
func TestWatchersSharePollsAndSeeQueuePosition(t *testing.T) {
	t.Parallel()
	var finds atomic.Int64
	mon := &event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
		if e.CommandName == "find" && strings.Contains(e.Command.String(), `"deletion_jobs"`) {
			finds.Add(1)
		}
	}}
	store := storagetest.New(t, mon)
	// No workers run: the jobs stay queued.
	svc := deletion.New(slog.New(slog.NewTextHandler(io.Discard, nil)), store, deletion.Config{WatchPoll: 20 * time.Millisecond})
	ctx := context.Background()
	spec := deletion.Spec{Type: identifier.Email}
	first, err := svc.StartList(ctx, deletion.Caller{AccountID: "acme"}, []string{"a@example.com"}, spec, deletion.Delete)
	if err != nil {
		t.Fatal(err)
	}
	second, err := svc.StartList(ctx, deletion.Caller{AccountID: "acme"}, []string{"b@example.com"}, spec, deletion.Delete)
	if err != nil {
		t.Fatal(err)
	}

	watch := func(n int) (int64, []int64) {
		finds.Store(0)
		positions := make([]int64, n)
		var wg sync.WaitGroup
		// Each watcher stays for its first snapshot and the next one its
		// feed sends (the heartbeat), however slow the machine: the window
		// is the same for one watcher and for twenty.
		errEnough := errors.New("enough")
		for k := range n {
			wg.Go(func() {
				wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				defer cancel()
				seen := 0
				err := svc.Watch(wctx, deletion.Caller{AccountID: "acme"}, second.ID, func(v job.View) error {
					positions[k] = v.QueuePosition
					if seen++; seen == 2 {
						return errEnough
					}
					return nil
				})
				if !errors.Is(err, errEnough) {
					t.Errorf("watcher %d: %v", k, err)
				}
			})
		}
		wg.Wait()
		return finds.Load(), positions
	}
	one, _ := watch(1)
	twenty, positions := watch(20)
	t.Logf("finds: one watcher %d, twenty watchers %d", one, twenty)
	if twenty >= 2*one+20 {
		t.Errorf("20 watchers sent %d finds, one watcher %d: they do not share a poller", twenty, one)
	}
	for _, p := range positions {
		if p != 2 {
			t.Fatalf("queue positions %v, want 2 (behind job %s)", positions, first.ID)
		}
	}
}
