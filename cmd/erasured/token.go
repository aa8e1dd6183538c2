package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/erasure-dev/erasure/internal/auth"
)

// runToken mints a development token: `erasured token -account demo -role OWNER`.
// It reads -data-dir and -dev-key (or their variables) as the server does.
func runToken(args []string, env func(string) (string, bool), stdout io.Writer) error {
	c := &config{}
	flags := newFlagSet(tokenCmd, c)
	account := flags.String("account", "demo", "account the token acts in")
	role := flags.String("role", "OWNER", "OWNER, ADMIN or USER")
	subject := flags.String("subject", "", "who the token is for (default: $USER, or operator)")
	kind := flags.String("kind", "operator", "user, service or operator")
	sections := flags.String("sections", "", "comma-separated sections a user may see; empty for all")
	ttl := flags.Duration("ttl", 12*time.Hour, "how long the token is valid")
	if err := parse(flags, tokenCmd, c, args, env, stdout); err != nil {
		return err
	}
	p := auth.Principal{Account: strings.TrimSpace(*account), Subject: *subject, Kind: auth.Kind(*kind), Role: auth.Role(strings.ToUpper(*role))}
	switch {
	case p.Account == "":
		return usageError{errors.New("-account is empty: set the account the token acts in")}
	case !slices.Contains([]auth.Role{auth.Owner, auth.Admin, auth.User}, p.Role):
		return usageError{fmt.Errorf("-role is %q: set OWNER, ADMIN or USER", *role)}
	case !slices.Contains([]auth.Kind{auth.KindUser, auth.KindService, auth.KindOperator}, p.Kind):
		return usageError{fmt.Errorf("-kind is %q: set user, service or operator", *kind)}
	case *ttl <= 0:
		return usageError{fmt.Errorf("-ttl is %s: set how long the token is valid, such as 12h", shortDuration(*ttl))}
	}

	path := c.devKey
	if path == "" {
		path = filepath.Join(c.dataDir, "dev-jwt-key.pem")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	key, err := auth.DevKey(path)
	if err != nil {
		return fmt.Errorf("development key: %w", err)
	}
	if p.Subject == "" {
		p.Subject, _ = env("USER")
		if p.Subject == "" {
			p.Subject = "operator"
		}
	}
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
