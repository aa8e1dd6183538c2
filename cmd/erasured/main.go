// Command erasured serves the erasure API: permanent deletion of profiles
// from uploaded files, lists and single requests, with reports.
//
// With no MONGODB_URI it embeds FerretDB with its data under ./data and
// seeds a demo account; with MONGODB_URI it uses that MongoDB (production).
// Every flag has an environment variable; see README (Configuration).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/erasure-dev/erasure/deletion"
	"github.com/erasure-dev/erasure/demo"
	"github.com/erasure-dev/erasure/server"
	"github.com/erasure-dev/erasure/storage"
	"github.com/erasure-dev/erasure/storageembed"
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
	fs.StringVar(&c.dataDir, "data-dir", "./data", "embedded store directory")
	fs.IntVar(&c.demoProfiles, "demo-profiles", 5000, "profiles seeded into the empty demo account of the embedded store; 0 seeds none")
	fs.BoolVar(&c.writeMajority, "write-majority", true, "write concern majority (with -mongodb-uri)")
	fs.TextVar(&c.logLevel, "log-level", slog.LevelInfo, "debug, info, warn or error")
	fs.DurationVar(&c.shutdownGrace, "shutdown-grace", 10*time.Second, "time open calls and running batches get to finish on shutdown")
	maxMB := fs.Int64("max-upload-mb", d.MaxUploadBytes>>20, "largest accepted file in MiB")
	fs.DurationVar(&c.deletion.UploadTTL, "upload-ttl", d.UploadTTL, "how long an upload no job took is kept")
	fs.DurationVar(&c.deletion.OutcomeRetention, "outcome-retention", d.OutcomeRetention, "how long per-row outcomes are kept after a job ends")
	fs.IntVar(&c.deletion.Workers, "workers", d.Workers, "jobs this instance runs at once")
	fs.IntVar(&c.deletion.MaxJobsPerAccount, "max-jobs-per-account", d.MaxJobsPerAccount, "jobs of one account running at once over all instances; 0 for no bound")
	fs.DurationVar(&c.deletion.Lease, "lease", d.Lease, "how long a job stays with an instance that stopped renewing it before another takes it over")
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
	if *maxMB <= 0 {
		return nil, errors.New("-max-upload-mb must be positive")
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
	return c, nil
}

func envName(flagName string) string {
	if flagName == "mongodb-uri" {
		return "MONGODB_URI"
	}
	return "ERASURE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func run(ctx context.Context, args []string, stderr io.Writer) error {
	c, err := parseConfig(args)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: c.logLevel}))

	uri := c.mongoURI
	writeMajority := c.writeMajority
	if uri == "" {
		// The engine logs expected duplicate-key errors at ERROR; only its
		// warnings about itself are worth showing.
		engineLog := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError + 4}))
		engine, err := storageembed.Start(c.dataDir, engineLog)
		if err != nil {
			return err
		}
		defer engine.Close()
		uri, writeMajority = engine.URI(), false
		logger.Info("using the embedded store (FerretDB on SQLite); set MONGODB_URI for production", "data_dir", c.dataDir)
	} else {
		logger.Info("using MongoDB from MONGODB_URI", "database", c.database, "write_majority", writeMajority)
	}

	store, err := storage.Open(ctx, storage.Options{URI: uri, Database: c.database, WriteMajority: writeMajority})
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer store.Close(context.WithoutCancel(ctx))

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
	err = server.Serve(ctx, l, server.New(ctx, logger, svc), c.shutdownGrace)
	<-workersDone
	logger.Info("stopped")
	return err
}
