// Command erasured serves the erasure API: permanent deletion of profiles
// from uploaded files, lists and single requests, with reports.
//
// With no MONGODB_URI it embeds FerretDB with its data under ./data and
// seeds a demo account; with MONGODB_URI it uses that MongoDB (production).
// Every flag has an environment variable; see README (Configuration).
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
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/erasure-dev/erasure/internal/auth"
	"github.com/erasure-dev/erasure/internal/deletion"
	"github.com/erasure-dev/erasure/internal/demo"
	"github.com/erasure-dev/erasure/internal/storageembed"
	"github.com/erasure-dev/erasure/server"
	"github.com/erasure-dev/erasure/storage"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "erasured:", err)
		os.Exit(1)
	}
}

type config struct {
	addr          string
	publicKeys    string
	hmacFile      string
	devKey        string
	auditKeyFile  string
	features      string
	reflection    bool
	mongoURI      string
	database      string
	dataDir       string
	demoProfiles  int
	writeMajority bool
	logLevel      slog.Level
	shutdownGrace time.Duration
	deletion      deletion.Config
}

// parseConfig reads the flags. Each flag can also be set by an environment
// variable, ERASURE_ and its name in capitals (-batch-size: ERASURE_BATCH_SIZE;
// -mongodb-uri: MONGODB_URI); a flag on the command line wins.
func parseConfig(args []string) (*config, error) {
	d := deletion.DefaultConfig()
	c := &config{}
	fs := flag.NewFlagSet("erasured", flag.ContinueOnError)
	fs.StringVar(&c.addr, "addr", ":8080", "listen address")
	fs.StringVar(&c.mongoURI, "mongodb-uri", "", "MongoDB connection string; empty embeds FerretDB under -data-dir")
	fs.StringVar(&c.database, "database", "erasure", "database holding profiles and the service's collections")
	fs.StringVar(&c.dataDir, "data-dir", "./data", "embedded store directory, and the development token key's")
	fs.StringVar(&c.publicKeys, "jwt-public-keys", "", "comma-separated PEM files of the Ed25519 or RSA public keys whose tokens are trusted")
	fs.StringVar(&c.hmacFile, "jwt-hs256-secret-file", "", "file holding a shared secret; only when set are HS256 tokens trusted")
	fs.StringVar(&c.devKey, "dev-key", "", "development signing key (PEM) to trust, created if missing; default <data-dir>/dev-jwt-key.pem with the embedded store, none with -mongodb-uri")
	fs.StringVar(&c.auditKeyFile, "audit-key-file", "", "file holding the secret (32+ random bytes, raw or hex) the audit trail's identifier hashes are derived from; keep it for as long as the trail must be verifiable; default <data-dir>/audit-key (created) with the embedded store, required with -mongodb-uri")
	fs.StringVar(&c.features, "default-features", deletion.FeatureList(deletion.AllFeatures), "comma-separated features of accounts that have none stored (see erasured features)")
	fs.BoolVar(&c.reflection, "reflection", true, "serve gRPC server reflection (it exposes the API's schema, no data)")
	fs.IntVar(&c.demoProfiles, "demo-profiles", 5000, "profiles seeded into the empty demo account of the embedded store; 0 seeds none")
	fs.BoolVar(&c.writeMajority, "write-majority", true, "write concern majority (with -mongodb-uri)")
	fs.TextVar(&c.logLevel, "log-level", slog.LevelInfo, "debug, info, warn or error")
	fs.DurationVar(&c.shutdownGrace, "shutdown-grace", 10*time.Second, "time open calls and running batches get to finish on shutdown")
	maxMB := fs.Int64("max-upload-mb", d.MaxUploadBytes>>20, "largest accepted file in MiB")
	fs.DurationVar(&c.deletion.UploadTTL, "upload-ttl", d.UploadTTL, "how long an upload no job took is kept")
	fs.DurationVar(&c.deletion.OutcomeRetention, "outcome-retention", d.OutcomeRetention, "how long per-row outcomes are kept after a job ends")
	fs.IntVar(&c.deletion.Workers, "workers", d.Workers, "jobs this instance runs at once")
	fs.IntVar(&c.deletion.MaxJobsPerAccount, "max-jobs-per-account", d.MaxJobsPerAccount, "jobs of one account running at once over all instances; 0 for no bound")
	fs.IntVar(&c.deletion.MaxActiveJobsPerAccount, "max-active-jobs-per-account", d.MaxActiveJobsPerAccount, "jobs of one account queued or running; a deletion beyond it is refused with RESOURCE_EXHAUSTED")
	fs.IntVar(&c.deletion.MaxUploadsPerAccount, "max-uploads-per-account", d.MaxUploadsPerAccount, "uploads of one account in progress; an upload beyond it is refused with RESOURCE_EXHAUSTED")
	fs.DurationVar(&c.deletion.Lease, "lease", d.Lease, "how long a job stays with an instance that stopped renewing it before another takes it over")
	fs.DurationVar(&c.deletion.CheckpointInterval, "checkpoint-interval", d.CheckpointInterval, "how often a running job saves its progress, renews its lease and checks for a cancel request")
	fs.IntVar(&c.deletion.BatchSize, "batch-size", d.BatchSize, "rows per lookup and delete")
	fs.BoolVar(&c.deletion.DisableHints, "disable-hints", false, "skip the lookup that explains rows that matched nothing")
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		name := envName(f.Name)
		f.Usage += " (" + name + ")"
		if v, ok := os.LookupEnv(name); ok && envErr == nil {
			if err := fs.Set(f.Name, v); err != nil {
				envErr = fmt.Errorf("%s=%q: %w", name, v, err)
			}
		}
	})
	if envErr != nil {
		return nil, envErr
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if *maxMB <= 0 || *maxMB > 4096 {
		return nil, errors.New("-max-upload-mb must be between 1 and 4096")
	}
	c.deletion.MaxUploadBytes = *maxMB << 20
	if c.deletion.BatchSize < 1 || c.deletion.BatchSize > 10_000 {
		return nil, errors.New("-batch-size must be between 1 and 10000")
	}
	if c.deletion.Workers < 1 {
		return nil, errors.New("-workers must be at least 1")
	}
	if c.deletion.Lease < time.Second {
		return nil, errors.New("-lease must be at least 1s")
	}
	c.deletion.ShutdownGrace = c.shutdownGrace
	features, err := deletion.ParseFeatures(c.features)
	if err != nil {
		return nil, fmt.Errorf("-default-features: %w", err)
	}
	c.deletion.DefaultFeatures = features
	return c, nil
}

// auditKey reads the audit key, creating it under the data directory for
// the embedded store.
func (c *config) auditKey() ([]byte, error) {
	path := c.auditKeyFile
	if path == "" {
		if c.mongoURI != "" {
			return nil, errors.New("set -audit-key-file to a file holding 32 or more random bytes (such as `openssl rand -hex 32`): the audit trail hashes identifiers with it, and past erasures can be verified only with the same key")
		}
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

func envName(flagName string) string {
	if flagName == "mongodb-uri" {
		return "MONGODB_URI"
	}
	return "ERASURE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func run(ctx context.Context, args []string, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "token" {
		return runToken(args[1:], os.Stdout)
	}
	if len(args) > 0 && args[0] == "features" {
		return runFeatures(ctx, args[1:], os.Stdout)
	}
	c, err := parseConfig(args)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: c.logLevel}))
	verifier, err := c.verifier()
	if err != nil {
		return err
	}
	if c.deletion.AuditKey, err = c.auditKey(); err != nil {
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

	svc := deletion.New(logger, store, c.deletion)
	l, err := net.Listen("tcp", c.addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	logger.Info("serving gRPC, gRPC-Web and Connect", "addr", l.Addr().String())

	context.AfterFunc(ctx, func() {
		logger.Info("shutting down: running batches finish, jobs are handed back", "grace", c.shutdownGrace.String())
	})
	workersDone := make(chan struct{})
	go func() {
		defer close(workersDone)
		_ = svc.Run(ctx)
	}()
	err = server.Serve(ctx, l, server.New(ctx, logger, svc, verifier, c.reflection), c.shutdownGrace)
	<-workersDone
	logger.Info("stopped")
	return err
}

// devKeyPath is the development key this configuration trusts, or "".
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
	for _, path := range strings.Split(c.publicKeys, ",") {
		if path = strings.TrimSpace(path); path == "" {
			continue
		}
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
	if len(keys) == 0 && secret == nil {
		return nil, errors.New("no token keys: set -jwt-public-keys (production), or -dev-key for a development key")
	}
	return auth.NewVerifier(keys, secret), nil
}

// runToken mints a development token: `erasured token -account demo -role OWNER`.
func runToken(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("erasured token", flag.ContinueOnError)
	account := fs.String("account", "demo", "account the token acts in")
	role := fs.String("role", "OWNER", "OWNER, ADMIN or USER")
	subject := fs.String("subject", "", "who the token is for (default: the local user name)")
	kind := fs.String("kind", "operator", "user, service or operator")
	sections := fs.String("sections", "", "comma-separated sections a user may see; empty for all")
	ttl := fs.Duration("ttl", 12*time.Hour, "how long the token is valid")
	dataDir := fs.String("data-dir", "./data", "the server's -data-dir, where its development key is")
	devKey := fs.String("dev-key", "", "the development key file (default <data-dir>/dev-jwt-key.pem)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	path := *devKey
	if path == "" {
		path = filepath.Join(*dataDir, "dev-jwt-key.pem")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	key, err := auth.DevKey(path)
	if err != nil {
		return err
	}
	if *subject == "" {
		*subject = os.Getenv("USER")
		if *subject == "" {
			*subject = "operator"
		}
	}
	p := auth.Principal{Account: *account, Subject: *subject, Kind: auth.Kind(*kind), Role: auth.Role(strings.ToUpper(*role))}
	if *sections != "" {
		p.Sections = strings.Split(*sections, ",")
	}
	token, err := auth.Sign(key, p, *ttl)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, token)
	return err
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
		logger.Info("using the embedded store (FerretDB on SQLite); set MONGODB_URI for production", "data_dir", dataDir)
	} else {
		logger.Info("using MongoDB from MONGODB_URI", "database", database, "write_majority", writeMajority)
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
