// Command erasured serves the erasure API: permanent deletion of profiles
// from uploaded files, lists and single requests, with reports.
//
// With no MONGODB_URI it embeds FerretDB with its data under ./data and
// seeds a demo account; with MONGODB_URI it uses that MongoDB (production).
// Every setting is a flag and an environment variable, declared once in
// settings.go; erasured -h lists them and the commands.
package main

import (
	"context"
	"crypto"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/erasure-dev/erasure/internal/auth"
	"github.com/erasure-dev/erasure/internal/buildinfo"
	"github.com/erasure-dev/erasure/internal/deletion"
	"github.com/erasure-dev/erasure/internal/demo"
	"github.com/erasure-dev/erasure/internal/metrics"
	"github.com/erasure-dev/erasure/internal/storageembed"
	"github.com/erasure-dev/erasure/internal/workdir"
	"github.com/erasure-dev/erasure/server"
	"github.com/erasure-dev/erasure/storage"
	"github.com/erasure-dev/erasure/web"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "erasured:", strings.ReplaceAll(err.Error(), "\n", "\nerasured: "))
		if errors.As(err, new(usageError)) {
			fmt.Fprintln(os.Stderr, "Run erasured -h (or erasured help <command>) for the flags and their variables.")
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// run runs the command args name, serve when they name none. env looks up
// environment variables.
func run(ctx context.Context, args []string, env func(string) (string, bool), stdout, stderr io.Writer) error {
	name, rest := "serve", args
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, rest = args[0], args[1:]
	} else if len(args) > 0 && (args[0] == "-version" || args[0] == "--version") {
		name, rest = "version", args[1:]
	}
	switch name {
	case "serve":
		return serve(ctx, rest, env, stdout, stderr)
	case "token":
		return runToken(rest, env, stdout, stderr)
	case "features":
		return runFeatures(ctx, rest, env, stdout)
	case "webhook":
		return runWebhook(ctx, rest, env, stdout)
	case "version":
		if len(rest) > 0 {
			return usageError{fmt.Errorf("unexpected argument %q: erasured version takes none", rest[0])}
		}
		_, err := fmt.Fprintln(stdout, "erasured", buildinfo.Version())
		return err
	case "help":
		if len(rest) > 1 {
			return usageError{fmt.Errorf("unexpected argument %q: erasured help takes one command at most", rest[1])}
		}
		cmd := "serve"
		if len(rest) == 1 && rest[0] != "help" && rest[0] != "version" {
			cmd = rest[0]
		}
		// Every command prints its usage and stops at -h, before it reads
		// the environment or starts anything.
		if err := run(ctx, []string{cmd, "-h"}, env, stdout, stderr); !errors.Is(err, flag.ErrHelp) {
			return err
		}
		return nil
	}
	return usageError{fmt.Errorf("unknown command %q: the commands are serve (the default), token, features, help and version", name)}
}

// auditKey reads the audit key, creating it under the data directory for
// the embedded store (validate requires -audit-key-file with MongoDB).
func (c *config) auditKey() ([]byte, error) {
	path := c.auditKeyFile
	if path == "" {
		path = filepath.Join(c.dataDir, "audit-key")
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			b := make([]byte, 32)
			_, _ = rand.Read(b)
			if err := os.MkdirAll(c.dataDir, 0o700); err != nil {
				return nil, err
			}
			if err := os.WriteFile(path, []byte(hex.EncodeToString(b)+"\n"), 0o600); err != nil {
				return nil, err
			}
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("audit key: %w", err)
	}
	text := strings.TrimSpace(string(b))
	key := []byte(text)
	if decoded, err := hex.DecodeString(text); err == nil {
		key = decoded // written as hex, as `openssl rand -hex 32` does
	}
	if len(key) < 32 {
		return nil, fmt.Errorf("audit key %s: it holds %d bytes; it needs 32 or more random bytes (64 hex digits)", path, len(key))
	}
	return key, nil
}

// serve runs the server until ctx ends.
func serve(ctx context.Context, args []string, env func(string) (string, bool), stdout, stderr io.Writer) error {
	c := &config{}
	if err := parse(newFlagSet(serveCmd, c), serveCmd, c, args, env, stdout); err != nil {
		return err
	}
	logger := c.logger(stderr)
	if limit, source := memoryLimit(c.memoryLimit, env, "/sys/fs/cgroup"); limit > 0 {
		prev := debug.SetMemoryLimit(limit)
		defer debug.SetMemoryLimit(prev)
		logger.Info("memory limit set", "limit", byteSize(limit), "from", source)
	} else {
		logger.Debug("no memory limit set by erasured", "why", source)
	}
	verifier, err := c.verifier()
	if err != nil {
		return err
	}
	auditKey, err := c.auditKey()
	if err != nil {
		return err
	}

	store, closeStore, err := openStore(ctx, c.mongoURI, c.database, c.dataDir, c.writeMajority, logger, stderr)
	if err != nil {
		return err
	}
	defer closeStore()

	if c.mongoURI == "" {
		n, err := demo.Seed(ctx, store, demo.Account, c.demoProfiles)
		if err != nil {
			return err
		}
		if n > 0 {
			logger.Info("seeded the demo account", "account_id", demo.Account, "profiles", n)
		}
	}

	var m *metrics.Metrics
	if c.metricsAddr != "" {
		m = metrics.New(func(ctx context.Context) (metrics.QueueStats, error) {
			queued, running, oldest, uploads, err := store.QueueStats(ctx, time.Now())
			return metrics.QueueStats{Queued: queued, Running: running, OldestQueued: oldest, UploadsInProgress: uploads}, err
		}, c.metricsAccounts)
		ml, err := net.Listen("tcp", c.metricsAddr)
		if err != nil {
			return fmt.Errorf("listen for metrics: %w", err)
		}
		logger.Info("serving metrics", "addr", ml.Addr().String(), "path", "/metrics")
		go server.Serve(ctx, ml, adminHandler(promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})), 0, time.Second)
	}
	work, removed, err := workdir.Open(c.workDirPath())
	if err != nil {
		return err
	}
	defer work.Close()
	if removed > 0 {
		logger.Info("removed the temporary files of instances that stopped without removing them", "instances", removed, "work_dir", c.workDirPath())
	}
	cfg := c.deletionConfig(auditKey)
	cfg.Metrics = m
	cfg.TempDir = work.Path
	if v, ok := env("ERASURE_TEST_PAUSE_AFTER_ROWS"); ok {
		// Not a setting: the end-to-end tests' way to stop a worker at a
		// known point (deletion.Config.Pause).
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("ERASURE_TEST_PAUSE_AFTER_ROWS is %q: a number of rows, or unset", v)
		}
		cfg.Pause, cfg.PauseAfterRows = true, n
		logger.Warn("test hook set: workers stop in the first batch after this many rows until shutdown; never set this in production", "ERASURE_TEST_PAUSE_AFTER_ROWS", n)
	}
	svc := deletion.New(logger, store, cfg)
	if c.deletion.Workers == 0 {
		logger.Warn("this instance runs no jobs (-workers 0): jobs it queues wait for an instance that does")
	}
	if slow := slowBatch(c.deletion.BatchSize); slow > c.deletion.Lease*3/4 {
		logger.Warn("a batch of -batch-size rows may take longer than three quarters of -lease on a slow store, and a job whose batches outlive its lease goes back and forth between instances; lower -batch-size or raise -lease",
			"batch_size", c.deletion.BatchSize, "lease", c.deletion.Lease.String(), "batch_may_take", slow.String())
	}
	l, err := net.Listen("tcp", c.addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	logger.Info("serving gRPC, gRPC-Web and Connect", "addr", l.Addr().String())

	health := server.NewHealth()
	go health.Watch(ctx, logger, store.Ping, healthInterval)
	context.AfterFunc(ctx, func() {
		// Not ready first, so load balancers stop sending calls while the
		// listener still answers.
		health.Set(false, "shutting down")
		logger.Info("shutting down: running batches finish, jobs are handed back", "grace", c.shutdownGrace.String(), "drain", c.shutdownDrain.String())
	})
	workersDone := make(chan struct{})
	go func() {
		defer close(workersDone)
		_ = svc.Run(ctx)
	}()
	if c.mongoURI == "" {
		if err := printWizardURL(stdout, c.devKeyPath(), c.jwtIssuer, min(12*time.Hour, c.jwtMaxLife), l.Addr()); err != nil {
			return err
		}
	}
	h := server.WithCORS(web.Handler(server.New(ctx, logger, svc, verifier, server.Options{Reflection: c.reflection, Health: health, Metrics: m})), c.allowedOrigins())
	err = server.Serve(ctx, l, h, c.shutdownDrain, c.shutdownGrace)
	<-workersDone
	logger.Info("stopped")
	return err
}

// slowRowsPerSecond is the pace of a job on a slow store: the embedded
// engine, which scans the profiles on every lookup, or a busy MongoDB
// (docs/benchmarks.md measures 600 to 3,700 rows a second on the engine).
const slowRowsPerSecond = 500

// slowBatch is how long a batch of n rows may take on a slow store.
func slowBatch(n int) time.Duration {
	return time.Duration(n) * time.Second / slowRowsPerSecond
}

// healthInterval is how often readiness pings the store.
const healthInterval = 2 * time.Second

// logger returns the server's logger: -log-format, at -log-level.
func (c *config) logger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.logLevel}
	if c.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// printWizardURL prints, for local use on the embedded store, the address
// of the wizard with a 12-hour OWNER token of the demo account signed with
// the development key. The token is in the URL's fragment, which browsers
// never send, so it reaches no server log; it is printed, not logged.
func printWizardURL(stdout io.Writer, keyPath, issuer string, ttl time.Duration, addr net.Addr) error {
	key, err := auth.DevKey(keyPath)
	if err != nil {
		return fmt.Errorf("development key: %w", err)
	}
	token, err := auth.SignIssued(key, auth.Principal{Account: demo.Account, Subject: "make-run", Kind: auth.KindUser, Role: auth.Owner}, ttl, issuer)
	if err != nil {
		return err
	}
	port := "8080"
	if a, ok := addr.(*net.TCPAddr); ok {
		port = strconv.Itoa(a.Port)
	}
	_, err = fmt.Fprintf(stdout, "\nThe delete wizard, signed in to the demo account as its owner for %s:\n  http://localhost:%s/#token=%s\n\n", shortDuration(ttl), port, token)
	return err
}

// devKeyPath is the development key this configuration trusts, or "".
// workDirPath is -work-dir, or its default.
func (c *config) workDirPath() string {
	switch {
	case c.workDir != "":
		return c.workDir
	case c.mongoURI == "":
		return filepath.Join(c.dataDir, "work")
	}
	return filepath.Join(os.TempDir(), "erasure")
}

func (c *config) devKeyPath() string {
	if c.devKey != "" {
		return c.devKey
	}
	if c.mongoURI == "" {
		return filepath.Join(c.dataDir, "dev-jwt-key.pem")
	}
	return ""
}

// verifier builds the token verifier from the configured keys.
func (c *config) verifier() (*auth.Verifier, error) {
	var keys []crypto.PublicKey
	for _, path := range c.publicKeyFiles() {
		k, err := auth.LoadPublicKey(path)
		if err != nil {
			return nil, fmt.Errorf("-jwt-public-keys: %w", err)
		}
		keys = append(keys, k)
	}
	if path := c.devKeyPath(); path != "" {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, err
		}
		k, err := auth.DevKey(path)
		if err != nil {
			return nil, fmt.Errorf("development key: %w", err)
		}
		keys = append(keys, k.Public())
	}
	var secret []byte
	if c.hmacFile != "" {
		b, err := os.ReadFile(c.hmacFile)
		if err != nil {
			return nil, fmt.Errorf("-jwt-hs256-secret-file: %w", err)
		}
		if secret = []byte(strings.TrimSpace(string(b))); len(secret) < 32 {
			return nil, errors.New("-jwt-hs256-secret-file: the secret must be at least 32 bytes")
		}
	}
	return auth.NewVerifier(keys, secret).RequireIssuer(c.jwtIssuer).LimitLifetime(c.jwtMaxLife), nil
}

// openStore connects to MongoDB at uri, or starts the embedded store under
// dataDir when uri is empty.
func openStore(ctx context.Context, uri, database, dataDir string, writeMajority bool, logger *slog.Logger, stderr io.Writer) (*storage.Store, func(), error) {
	closeEngine := func() {}
	if uri == "" {
		// The engine logs expected duplicate-key errors at ERROR; only its
		// warnings about itself are worth showing.
		engineLog := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError + 4}))
		engine, err := storageembed.Start(dataDir, engineLog)
		if err != nil {
			return nil, nil, err
		}
		closeEngine = engine.Close
		uri, writeMajority = engine.URI(), false
		logger.Info("using the embedded store (FerretDB on SQLite); set MONGODB_URI for production", "data_dir", dataDir, "version", buildinfo.Version())
	} else {
		logger.Info("using MongoDB from MONGODB_URI", "database", database, "write_majority", writeMajority, "version", buildinfo.Version())
	}
	store, err := storage.Open(ctx, storage.Options{URI: uri, Database: database, WriteMajority: writeMajority})
	if err != nil {
		closeEngine()
		return nil, nil, fmt.Errorf("open store: %w", err)
	}
	return store, func() {
		_ = store.Close(context.WithoutCancel(ctx))
		closeEngine()
	}, nil
}

// adminHandler serves the metrics listener: Prometheus metrics at /metrics,
// and Go's profiler at /debug/pprof/ (heap, CPU, goroutines), which holds
// no data of a person but tells how the service runs: like the metrics, for
// the operators' network only.
func adminHandler(metrics http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", metrics)
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
