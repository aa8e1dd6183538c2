// Package deletion is the product: it turns uploaded files and lists of
// identifiers into deletion jobs, previews them, runs them in batches and
// keeps their reports. It knows nothing of RPC or of the driver: requests
// arrive as Go values from the server package and data lives in storage.
//
// Matching follows one rule: a row deletes only the profile of the caller's
// account whose Unique Identifier has the type the caller chose and equals the
// row's normalized value. Two profiles that share an e-mail address but have
// different identifier types are different targets.
package deletion

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/erasure-dev/erasure/internal/metrics"
	"github.com/erasure-dev/erasure/storage"
)

// Config holds the service's limits and timings. Zero fields take the
// defaults from DefaultConfig.
type Config struct {
	// MaxUploadBytes bounds one uploaded file.
	MaxUploadBytes int64
	// UploadTTL is how long an upload that no job took is kept.
	UploadTTL time.Duration
	// OutcomeRetention is how long per-row outcomes (which hold
	// identifiers) are kept after a job ends. Counts are kept forever.
	OutcomeRetention time.Duration
	// BatchSize is how many rows are resolved and deleted per round trip.
	BatchSize int
	// Workers is how many jobs this instance runs at once; negative for
	// none (an instance that serves calls while others run the jobs).
	Workers int
	// MaxJobsPerAccount bounds the jobs of one account running at once
	// across instances, so one account's big files cannot hold every
	// worker; zero means no bound.
	MaxJobsPerAccount int
	// QueuePoll is how often idle workers look for queued jobs that another
	// instance created.
	QueuePoll time.Duration
	// WatchPoll is how often a watcher reads the job it follows.
	WatchPoll time.Duration
	// SweepInterval is how often expired uploads and outcomes are deleted.
	SweepInterval time.Duration
	// MaxListItems bounds an inline list of identifiers.
	MaxListItems int
	// DisableHints turns off the extra lookup that explains rows that
	// matched nothing (one query per batch that has such rows).
	DisableHints bool
	// Lease is how long a worker owns a job without renewing; another
	// worker takes over a job whose lease ran out. A worker renews after
	// every batch, so a batch must take well under three quarters of it.
	Lease time.Duration
	// CheckpointInterval is how often a running job saves its counts
	// (which watchers see), renews its lease and checks for a cancel
	// request; a batch that took longer is followed by one at once. A
	// cancelled job stops within this interval and one batch.
	CheckpointInterval time.Duration
	// ShutdownGrace bounds how long workers may take to finish their
	// batch after Run's context ends.
	ShutdownGrace time.Duration
	// MaxActiveJobsPerAccount bounds the jobs of one account queued or
	// running at once; a call that would start one more is refused.
	MaxActiveJobsPerAccount int
	// MaxUploadsPerAccount bounds the uploads of one account in progress at
	// once; a call that would start one more is refused.
	MaxUploadsPerAccount int
	// DefaultFeatures are the features of an account that has none stored;
	// nil means the package's DefaultFeatures (all but segment_deletion).
	DefaultFeatures []Feature
	// AuditKey is the secret the audit trail's identifier hashes are
	// derived from (at least 32 bytes). It must stay the same for the
	// trail to be verifiable; empty means a random key for this process
	// only (tests).
	AuditKey []byte
	// SnapshotTTL is how long a segment snapshot (PreviewSegmentDeletion)
	// may wait for ExecuteSegmentDeletion; a used one lives as long as its
	// job runs.
	SnapshotTTL time.Duration
	// WebhookPoll is how often due webhook deliveries are looked for, and
	// WebhookBackoff the wait after a delivery's first failed attempt
	// (doubling after each one, up to 10 minutes).
	WebhookPoll    time.Duration
	WebhookBackoff time.Duration
	// Metrics records jobs, batches, rows, retries and uploads; nil records
	// nothing.
	Metrics *metrics.Metrics
	// TempDir holds uploads copied out of the store while a job reads them;
	// empty means the system default.
	TempDir string
	// Pause is a hook for end-to-end tests, which kill a worker or send a
	// cancel at a known point whatever the machine's speed: when set, on a
	// job's first claim, the first batch that starts with PauseAfterRows or
	// more rows done stores its outcomes, saves a checkpoint (so watchers
	// see those rows) and waits, keeping its lease, for shutdown or a
	// cancel request (see run.pause).
	Pause          bool
	PauseAfterRows int64
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{
		MaxUploadBytes:    50 << 20,
		UploadTTL:         24 * time.Hour,
		OutcomeRetention:  30 * 24 * time.Hour,
		BatchSize:         2000,
		Workers:           2,
		MaxJobsPerAccount: 1,
		QueuePoll:         time.Second,
		WatchPoll:         200 * time.Millisecond,
		SweepInterval:     time.Minute,
		MaxListItems:      10_000,
		Lease:             30 * time.Second,
		ShutdownGrace:     10 * time.Second,

		CheckpointInterval: time.Second,

		MaxActiveJobsPerAccount: 20,
		MaxUploadsPerAccount:    10,
		SnapshotTTL:             30 * time.Minute,
		WebhookPoll:             time.Second,
		WebhookBackoff:          5 * time.Second,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	orDefault(&c.MaxUploadBytes, d.MaxUploadBytes)
	orDefault(&c.UploadTTL, d.UploadTTL)
	orDefault(&c.OutcomeRetention, d.OutcomeRetention)
	orDefault(&c.BatchSize, d.BatchSize)
	if c.Workers == 0 { // negative: none
		c.Workers = d.Workers
	}
	orDefault(&c.QueuePoll, d.QueuePoll)
	orDefault(&c.WatchPoll, d.WatchPoll)
	orDefault(&c.SweepInterval, d.SweepInterval)
	orDefault(&c.MaxListItems, d.MaxListItems)
	orDefault(&c.Lease, d.Lease)
	orDefault(&c.ShutdownGrace, d.ShutdownGrace)
	orDefault(&c.CheckpointInterval, d.CheckpointInterval)
	orDefault(&c.MaxActiveJobsPerAccount, d.MaxActiveJobsPerAccount)
	orDefault(&c.MaxUploadsPerAccount, d.MaxUploadsPerAccount)
	orDefault(&c.SnapshotTTL, d.SnapshotTTL)
	orDefault(&c.WebhookPoll, d.WebhookPoll)
	orDefault(&c.WebhookBackoff, d.WebhookBackoff)
	if c.DefaultFeatures == nil {
		c.DefaultFeatures = DefaultFeatures
	}
	return c
}

// orDefault replaces a zero or negative setting with its default.
func orDefault[T int | int64 | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// Service runs deletions. Create it with New; call Run to start its workers.
type Service struct {
	logger *slog.Logger
	store  *storage.Store
	cfg    Config
	// owner names this instance on the jobs it runs.
	owner string
	// wake tells an idle worker that a job was queued here, so it starts
	// without waiting for the next poll.
	wake chan struct{}
	// previewsHere are the ids of the previews this instance runs: never
	// lost to its own watchers, however long the process was starved of
	// CPU between two of their progress writes.
	previewsHere sync.Map
	// claiming lets one worker of this instance claim at a time: the
	// per-account bound is checked, then claimed (storage.ClaimJob), so
	// workers claiming at once would all see the account below it.
	claiming sync.Mutex
	// feeds share one store poll among all watchers of a job.
	feeds feeds
	// auditKey hashes identifiers for the audit trail.
	auditKey auditKey
	// now is the clock of every retention and expiry decision; tests move it.
	now func() time.Time
	// fault, when set, is called at the named points of every batch (see
	// faultAfterOutcomes) and an error it returns is taken as the store
	// call there failing. Tests set it (export_test.go) to interrupt a
	// batch deterministically.
	fault func(point string) error
}

// New returns a Service using store.
func New(logger *slog.Logger, store *storage.Store, cfg Config) *Service {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	host, _ := os.Hostname()
	cfg = cfg.withDefaults()
	key := cfg.AuditKey
	if len(key) == 0 {
		key = make([]byte, 32)
		_, _ = rand.Read(key)
		logger.Warn("no audit key configured: erasures recorded by this process cannot be verified after it stops")
	}
	return &Service{
		logger:   logger,
		store:    store,
		cfg:      cfg,
		auditKey: key,
		// Host and process make claims readable for operators; the random
		// part keeps two services in one process apart.
		owner: fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b)),
		wake:  make(chan struct{}, 1),
		now:   time.Now,
	}
}

// Config returns the configuration in force, defaults applied.
func (s *Service) Config() Config { return s.cfg }
