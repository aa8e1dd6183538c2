package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/erasure-dev/erasure/internal/deletion"
)

// settingsService opens the store the server's settings in c name and
// returns a service for the commands that read and change accounts'
// settings (features, webhook); it runs no workers and records no erasure.
func settingsService(ctx context.Context, c *config) (*deletion.Service, func(), error) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	store, closeStore, err := openStore(ctx, c.mongoURI, c.database, c.dataDir, c.writeMajority, quiet, os.Stderr)
	if err != nil {
		return nil, nil, err
	}
	return deletion.New(quiet, store, deletion.Config{AuditKey: []byte("not used: this command records no erasure")}), closeStore, nil
}

// runFeatures shows or sets the features activated for an account:
//
//	erasured features -account acme
//	erasured features -account acme -set file_deletion,profile_deletion
//
// It reads the server's -mongodb-uri, -database and -data-dir (and their
// variables); with the embedded store the server must be stopped first.
func runFeatures(ctx context.Context, args []string, env func(string) (string, bool), stdout io.Writer) error {
	c := &config{}
	fs := newFlagSet(featuresCmd, c)
	account := fs.String("account", "", "the account (required)")
	set := fs.String("set", "", "comma-separated features to activate, replacing the account's; \"none\" deactivates all (features: "+deletion.FeatureList(deletion.AllFeatures)+")")
	if err := parse(fs, featuresCmd, c, args, env, stdout); err != nil {
		return err
	}
	if strings.TrimSpace(*account) == "" {
		return usageError{errors.New("-account is empty: set the account whose features to show or set")}
	}
	svc, closeSvc, err := settingsService(ctx, c)
	if err != nil {
		return err
	}
	defer closeSvc()
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
