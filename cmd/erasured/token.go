package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/erasure-dev/erasure/internal/auth"
)

// runToken mints a development token: `erasured token -account demo -role OWNER`.
// It signs with the development key the server trusts, found from
// -dev-key, -data-dir and -mongodb-uri (or their variables) exactly as the
// server finds it, and refuses to sign with a key no server was told to
// trust: a missing key is created only with -create-key.
func runToken(args []string, env func(string) (string, bool), stdout, stderr io.Writer) error {
	c := &config{}
	flags := newFlagSet(tokenCmd, c)
	account := flags.String("account", "demo", "account the token acts in")
	role := flags.String("role", "OWNER", "OWNER, ADMIN or USER")
	subject := flags.String("subject", "", "who the token is for (default: $USER, or operator)")
	kind := flags.String("kind", "operator", "user, service or operator")
	sections := flags.String("sections", "", "comma-separated sections a user may see; empty for all")
	ttl := flags.Duration("ttl", 12*time.Hour, "how long the token is valid")
	createKey := flags.Bool("create-key", false, "create the development key if it does not exist; a server trusts it once started with the same -data-dir or -dev-key")
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
	case *ttl > c.jwtMaxLife:
		return usageError{fmt.Errorf("-ttl is %s, longer than -jwt-max-lifetime (%s), so the server would refuse the token: set a shorter -ttl", shortDuration(*ttl), shortDuration(c.jwtMaxLife))}
	}

	path := c.devKeyPath()
	if path == "" {
		return errors.New("no development key to sign with: with -mongodb-uri (MONGODB_URI) set and no -dev-key (ERASURE_DEV_KEY), the server trusts no development key and would refuse this token; use a token from your identity provider, or start the server and this command with the same -dev-key")
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		from := "-dev-key"
		if c.devKey == "" {
			from = fmt.Sprintf("<data-dir>/dev-jwt-key.pem with -data-dir %s", c.dataDir)
		}
		if !*createKey {
			return fmt.Errorf("no development key at %s (%s), so no server trusts a token signed here: start the server first with the same -data-dir or -dev-key (make run creates ./data/dev-jwt-key.pem), or pass -create-key to create the key", path, from)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "erasured: created the development key %s; a server trusts it once started with the same -data-dir or -dev-key\n", path)
	} else if err != nil {
		return fmt.Errorf("development key: %w", err)
	}
	key, err := auth.DevKey(path) // creates the key when missing
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
	token, err := auth.SignIssued(key, p, *ttl, c.jwtIssuer)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, token)
	return err
}
