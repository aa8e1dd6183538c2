package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/erasure-dev/erasure/internal/deletion"
)

// runFeatures shows or sets the features activated for an account:
//
//	erasured features -account acme
//	erasured features -account acme -set file_deletion,profile_deletion
func runFeatures(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("erasured features", flag.ContinueOnError)
	account := fs.String("account", "", "the account")
	set := fs.String("set", "", "comma-separated features to activate, replacing the account's; \"none\" deactivates all (features: "+deletion.FeatureList(deletion.AllFeatures)+")")
	mongoURI := fs.String("mongodb-uri", os.Getenv("MONGODB_URI"), "MongoDB connection string; empty opens the embedded store under -data-dir (stop erasured first)")
	database := fs.String("database", "erasure", "the server's -database")
	dataDir := fs.String("data-dir", "./data", "the server's -data-dir")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if strings.TrimSpace(*account) == "" {
		return fmt.Errorf("-account is required")
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	store, closeStore, err := openStore(ctx, *mongoURI, *database, *dataDir, true, quiet, os.Stderr)
	if err != nil {
		return err
	}
	defer closeStore()
	svc := deletion.New(quiet, store, deletion.Config{AuditKey: []byte("not used: this command records no erasure")})
	if *set != "" {
		features := []deletion.Feature{}
		if *set != "none" {
			if features, err = deletion.ParseFeatures(*set); err != nil {
				return err
			}
		}
		if err := svc.SetFeatures(ctx, *account, features); err != nil {
			return err
		}
	}
	features, stored, err := svc.Features(ctx, *account)
	if err != nil {
		return err
	}
	if !stored {
		_, err = fmt.Fprintf(stdout, "%s: no features stored; the server's -default-features apply\n", *account)
		return err
	}
	list := deletion.FeatureList(features)
	if list == "" {
		list = "none"
	}
	_, err = fmt.Fprintf(stdout, "%s: %s\n", *account, list)
	return err
}
