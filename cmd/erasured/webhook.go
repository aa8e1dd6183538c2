package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// runWebhook shows or sets where an account's job endings are posted:
//
//	erasured webhook -account acme
//	erasured webhook -account acme -url https://hooks.example.com/erasure -secret-file webhook-secret
//	erasured webhook -account acme -remove
//
// Like features, it reads the server's store settings; with the embedded
// store the server must be stopped first.
func runWebhook(ctx context.Context, args []string, env func(string) (string, bool), stdout io.Writer) error {
	c := &config{}
	fs := newFlagSet(webhookCmd, c)
	account := fs.String("account", "", "the account (required)")
	url := fs.String("url", "", "the https URL to post job endings to")
	secretFile := fs.String("secret-file", "", "a file holding the secret (32 bytes or more) that signs each post; required with -url")
	remove := fs.Bool("remove", false, "remove the account's webhook")
	if err := parse(fs, webhookCmd, c, args, env, stdout); err != nil {
		return err
	}
	switch {
	case strings.TrimSpace(*account) == "":
		return usageError{errors.New("-account is empty: set the account whose webhook to show or set")}
	case *remove && *url != "":
		return usageError{errors.New("-remove and -url both set: choose one")}
	case *url != "" && *secretFile == "":
		return usageError{errors.New("-secret-file is empty: a webhook needs a secret to sign its posts (openssl rand -hex 32 > webhook-secret)")}
	}
	var secret []byte
	if *url != "" {
		b, err := os.ReadFile(*secretFile)
		if err != nil {
			return fmt.Errorf("-secret-file: %w", err)
		}
		secret = []byte(strings.TrimSpace(string(b)))
	}
	svc, closeSvc, err := settingsService(ctx, c)
	if err != nil {
		return err
	}
	defer closeSvc()
	if *remove || *url != "" {
		if err := svc.SetWebhook(ctx, *account, *url, secret); err != nil {
			return err
		}
	}
	u, err := svc.Webhook(ctx, *account)
	if err != nil {
		return err
	}
	if u == "" {
		u = "no webhook"
	}
	_, err = fmt.Fprintf(stdout, "%s: %s\n", *account, u)
	return err
}
