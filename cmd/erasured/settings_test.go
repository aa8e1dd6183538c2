package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/erasure-dev/erasure/internal/deletion"
)

// env is a fixed environment for run.
func env(vars ...string) func(string) (string, bool) {
	m := map[string]string{}
	for i := 0; i+1 < len(vars); i += 2 {
		m[vars[i]] = vars[i+1]
	}
	return func(name string) (string, bool) {
		v, ok := m[name]
		return v, ok
	}
}

// runFor runs erasured with args, failing the test if it has not returned
// within a minute (a command that started a server would not).
func runFor(t *testing.T, environ func(string) (string, bool), args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	err = run(ctx, args, environ, &out, &errOut)
	if ctx.Err() != nil {
		t.Fatalf("erasured %v ran until it was stopped", args)
	}
	return out.String(), errOut.String(), err
}

type helpRow struct{ name, env, def string }

// helpSettings reads the settings `erasured -h` lists: each is a line
// "  -name [type]" and then its usage ending in "($VARIABLE[, default D])".
func helpSettings(t *testing.T, help string) []helpRow {
	t.Helper()
	lines := strings.Split(help, "\n")
	flagLine := regexp.MustCompile(`^  -([a-z0-9-]+)( \S+)?$`)
	var rows []helpRow
	for i, line := range lines {
		m := flagLine.FindStringSubmatch(line)
		if m == nil || i+1 == len(lines) {
			continue
		}
		usage := lines[i+1]
		at := strings.LastIndex(usage, " ($")
		if at < 0 || !strings.HasSuffix(usage, ")") {
			t.Fatalf("-h: -%s has no ($VARIABLE) after its usage: %q", m[1], usage)
		}
		env, def, _ := strings.Cut(usage[at+3:len(usage)-1], ", default ")
		rows = append(rows, helpRow{m[1], env, def})
	}
	return rows
}

// readmeSettings reads the README's Configuration table: flag, variable,
// default (backquotes dropped), description.
func readmeSettings(t *testing.T) []helpRow {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## Configuration\n")
	if !ok {
		t.Fatal("README.md has no ## Configuration section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var rows []helpRow
	for line := range strings.SplitSeq(section, "\n") {
		if !strings.HasPrefix(line, "| `-") {
			continue
		}
		cells := strings.Split(line, "|")
		if len(cells) != 6 {
			t.Fatalf("README.md Configuration: want | flag | variable | default | description |, got %q", line)
		}
		cell := func(i int) string { return strings.TrimSpace(strings.ReplaceAll(cells[i], "`", "")) }
		rows = append(rows, helpRow{strings.TrimPrefix(cell(1), "-"), cell(2), cell(3)})
	}
	return rows
}

// The README's settings table says what `erasured -h` says: the same
// flags, variables and defaults, in the same order.
func TestREADMESettingsMatchHelp(t *testing.T) {
	t.Parallel()
	out, _, err := runFor(t, env(), "-h")
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("erasured -h: %v", err)
	}
	help, readme := helpSettings(t, out), readmeSettings(t)
	if len(help) != len(settings()) {
		t.Fatalf("-h lists %d settings, the table declares %d:\n%s", len(help), len(settings()), out)
	}
	if slices.Equal(help, readme) {
		return
	}
	row := func(r helpRow) string { return fmt.Sprintf("| `-%s` | `%s` | %s |", r.name, r.env, r.def) }
	byName := func(rows []helpRow) map[string]helpRow {
		m := map[string]helpRow{}
		for _, r := range rows {
			m[r.name] = r
		}
		return m
	}
	inHelp, inREADME := byName(help), byName(readme)
	var diff strings.Builder
	for _, h := range help {
		switch r, ok := inREADME[h.name]; {
		case !ok:
			fmt.Fprintf(&diff, "missing from the README:  %s\n", row(h))
		case r != h:
			fmt.Fprintf(&diff, "differs:\n  -h:      %s\n  README:  %s\n", row(h), row(r))
		}
	}
	for _, r := range readme {
		if _, ok := inHelp[r.name]; !ok {
			fmt.Fprintf(&diff, "not in erasured -h:      %s\n", row(r))
		}
	}
	if diff.Len() == 0 {
		names := func(rows []helpRow) (s []string) {
			for _, r := range rows {
				s = append(s, "-"+r.name)
			}
			return s
		}
		fmt.Fprintf(&diff, "the order differs:\n  -h:      %s\n  README:  %s\n", strings.Join(names(help), " "), strings.Join(names(readme), " "))
	}
	t.Fatalf("README.md's Configuration table (flag, variable, default; backquotes ignored) does not match erasured -h:\n%s", diff.String())
}

// help and -h print usage and return at once, for every command, without
// reading the environment or creating the data directory.
func TestHelpStartsNothing(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	environ := env("ERASURE_DATA_DIR", dir, "ERASURE_ADDR", "127.0.0.1:0", "ERASURE_BATCH_SIZE", "not a number")
	top, _, err := runFor(t, environ, "help")
	if err != nil {
		t.Fatalf("erasured help: %v", err)
	}
	for _, want := range []string{"erasured token [flags]", "erasured features [flags]", "erasured help [command]", "erasured version", "-version", "-checkpoint-interval duration", "$ERASURE_CHECKPOINT_INTERVAL"} {
		if !strings.Contains(top, want) {
			t.Errorf("erasured help does not mention %q:\n%s", want, top)
		}
	}
	for _, tc := range []struct {
		args []string
		same string // the output equals that of this command's -h
		want string
	}{
		{[]string{"-h"}, "help", "Commands:"},
		{[]string{"serve", "-h"}, "help", "Commands:"},
		{[]string{"help", "serve"}, "help", "Commands:"},
		{[]string{"help", "token"}, "token", "-create-key"},
		{[]string{"token", "-h"}, "token", "$ERASURE_DATA_DIR"},
		{[]string{"help", "features"}, "features", "-set string"},
		{[]string{"features", "-help"}, "features", "$MONGODB_URI"},
	} {
		out, _, err := runFor(t, environ, tc.args...)
		if err != nil && !errors.Is(err, flag.ErrHelp) {
			t.Errorf("erasured %v: %v", tc.args, err)
		}
		if !strings.Contains(out, tc.want) {
			t.Errorf("erasured %v does not mention %q:\n%s", tc.args, tc.want, out)
		}
		if tc.same == "help" && out != top {
			t.Errorf("erasured %v prints another usage than erasured help:\n%s", tc.args, out)
		}
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("help created the data directory: %v", err)
	}
	if _, _, err := runFor(t, environ, "help", "bogus"); err == nil || !strings.Contains(err.Error(), `unknown command "bogus"`) {
		t.Fatalf("erasured help bogus: %v", err)
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"version"}, {"-version"}} {
		out, _, err := runFor(t, env(), args...)
		if err != nil || !strings.HasPrefix(out, "erasured ") || !strings.Contains(out, " go1.") {
			t.Fatalf("erasured %v = %q, %v", args, out, err)
		}
	}
}

// token and features read the server's variables: with ERASURE_DATA_DIR
// set, they use the key and store under it; a flag wins over a variable.
func TestSubcommandsReadTheEnvironment(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	environ := env("ERASURE_DATA_DIR", dir, "ERASURE_DATABASE", "other", "ERASURE_WRITE_MAJORITY", "false", "USER", "tester")
	if _, _, err := runFor(t, environ, "token", "-create-key"); err != nil {
		t.Fatalf("erasured token -create-key: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "dev-jwt-key.pem")); err != nil {
		t.Fatalf("the key is not under $ERASURE_DATA_DIR: %v", err)
	}
	if _, _, err := runFor(t, environ, "token", "-data-dir", t.TempDir()); err == nil || !strings.Contains(err.Error(), "no development key") {
		t.Fatalf("-data-dir does not win over ERASURE_DATA_DIR: %v", err)
	}

	type shared struct {
		dataDir, database, devKey string
		writeMajority             bool
	}
	for _, tc := range []struct {
		cmd  command
		args []string
		want shared
	}{
		{featuresCmd, nil, shared{dataDir: dir, database: "other"}},
		{featuresCmd, []string{"-database", "flag", "-write-majority"}, shared{dataDir: dir, database: "flag", writeMajority: true}},
		{tokenCmd, []string{"-dev-key", "k.pem"}, shared{dataDir: dir, devKey: "k.pem"}},
		{serveCmd, []string{"-data-dir", "flag"}, shared{dataDir: "flag", database: "other"}},
	} {
		c := &config{}
		if err := parse(newFlagSet(tc.cmd, c), tc.cmd, c, tc.args, environ, io.Discard); err != nil {
			t.Fatalf("%s %v: %v", commandName(tc.cmd), tc.args, err)
		}
		got := shared{dataDir: c.dataDir, database: c.database, devKey: c.devKey, writeMajority: c.writeMajority}
		if got != tc.want {
			t.Errorf("%s %v: %+v, want %+v", commandName(tc.cmd), tc.args, got, tc.want)
		}
	}

	// features opens the embedded store under $ERASURE_DATA_DIR.
	out, _, err := runFor(t, environ, "features", "-account", "acme")
	if err != nil || !strings.Contains(out, "acme: no features stored") {
		t.Fatalf("erasured features: %q, %v", out, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "other.sqlite")); err != nil {
		entries, _ := os.ReadDir(dir)
		t.Fatalf("no store of database other under $ERASURE_DATA_DIR (%v): %v", entries, err)
	}
}

// token signs only with a key a server trusts: the one the server resolves
// from the same settings, which must exist unless -create-key is given.
func TestTokenRefusesAKeyNoServerTrusts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, _, err := runFor(t, env(), "token", "-data-dir", dir)
	want := filepath.Join(dir, "dev-jwt-key.pem")
	if err == nil || !strings.Contains(err.Error(), "no development key at "+want) || !strings.Contains(err.Error(), "-create-key") || !strings.Contains(err.Error(), "make run") {
		t.Fatalf("token without a key: %v", err)
	}
	if _, err := os.Stat(want); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a refused token created the key: %v", err)
	}
	_, _, err = runFor(t, env("MONGODB_URI", "mongodb://db.example"), "token", "-data-dir", dir, "-create-key")
	if err == nil || !strings.Contains(err.Error(), "the server trusts no development key") {
		t.Fatalf("token with MONGODB_URI and no -dev-key: %v", err)
	}

	out, stderr, err := runFor(t, env(), "token", "-data-dir", dir, "-create-key", "-account", "acme", "-role", "admin")
	if err != nil || !strings.Contains(stderr, "created the development key "+want) {
		t.Fatalf("token -create-key: %v %s", err, stderr)
	}
	// The server's verifier for the same settings accepts the token.
	server := &config{dataDir: dir}
	v, err := server.verifier()
	if err != nil {
		t.Fatal(err)
	}
	p, err := v.Verify(strings.TrimSpace(out))
	if err != nil || p.Account != "acme" || p.Role != "ADMIN" {
		t.Fatalf("the server's verifier: %+v, %v", p, err)
	}
	// Once the key exists, no flag is needed (make run, then erasured token).
	if _, stderr, err := runFor(t, env(), "token", "-data-dir", dir); err != nil || stderr != "" {
		t.Fatalf("token with the key: %v %s", err, stderr)
	}
	if _, _, err := runFor(t, env(), "token", "-data-dir", dir, "-role", "root"); err == nil || !strings.Contains(err.Error(), "-role is \"root\": set OWNER, ADMIN or USER") {
		t.Fatalf("token -role root: %v", err)
	}
	// A lifetime the server would refuse is refused here first.
	for _, ttl := range []string{"-1h", "0s", "25h"} {
		if _, _, err := runFor(t, env(), "token", "-data-dir", dir, "-ttl", ttl); err == nil || !strings.Contains(err.Error(), "-ttl is") {
			t.Errorf("token -ttl %s: %v", ttl, err)
		}
	}
	// With an issuer and a longer limit configured, the token carries the
	// issuer and the server accepts it.
	out, _, err = runFor(t, env("ERASURE_JWT_ISSUER", "https://id.example.com", "ERASURE_JWT_MAX_LIFETIME", "72h"), "token", "-data-dir", dir, "-ttl", "48h")
	if err != nil {
		t.Fatal(err)
	}
	issuing := &config{dataDir: dir, jwtIssuer: "https://id.example.com", jwtMaxLife: 72 * time.Hour}
	if v, err = issuing.verifier(); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(strings.TrimSpace(out)); err != nil {
		t.Fatalf("a 48h token with the issuer: %v", err)
	}
	strictLife := &config{dataDir: dir, jwtIssuer: "https://id.example.com", jwtMaxLife: 24 * time.Hour}
	if v, err = strictLife.verifier(); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(strings.TrimSpace(out)); err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("a 48h token against a 24h limit: %v", err)
	}
}

// Each refused value says which setting, by flag and variable, and what to
// set; every problem is reported at once.
func TestValidationSaysWhatToSet(t *testing.T) {
	t.Parallel()
	mongo := []string{"-mongodb-uri", "mongodb://db.example", "-audit-key-file", "k", "-jwt-public-keys", "p.pem"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-batch-size", "0"}, "-batch-size (ERASURE_BATCH_SIZE) is 0: set a number from 1 to 10000"},
		{[]string{"-batch-size", "10001"}, "-batch-size (ERASURE_BATCH_SIZE) is 10001: set a number from 1 to 10000"},
		{[]string{"-max-upload-mb", "0"}, "-max-upload-mb (ERASURE_MAX_UPLOAD_MB) is 0: set a number from 1 to 4096"},
		{[]string{"-workers", "-1"}, "-workers (ERASURE_WORKERS) is -1: set 0 or more"},
		{[]string{"-max-jobs-per-account", "-1"}, "-max-jobs-per-account (ERASURE_MAX_JOBS_PER_ACCOUNT) is -1: set 0 or more (0 for no bound)"},
		{[]string{"-max-active-jobs-per-account", "-1"}, "-max-active-jobs-per-account (ERASURE_MAX_ACTIVE_JOBS_PER_ACCOUNT) is -1: set 0 or more (0 for no bound)"},
		{[]string{"-max-uploads-per-account", "-1"}, "-max-uploads-per-account (ERASURE_MAX_UPLOADS_PER_ACCOUNT) is -1: set 0 or more (0 for no bound)"},
		{[]string{"-demo-profiles", "-1"}, "-demo-profiles (ERASURE_DEMO_PROFILES) is -1: set 0 or more (0 seeds none)"},
		{[]string{"-lease", "500ms"}, "-lease (ERASURE_LEASE) is 500ms: set 1s or more"},
		{[]string{"-checkpoint-interval", "0"}, "-checkpoint-interval (ERASURE_CHECKPOINT_INTERVAL) is 0s: set a duration such as 1s, less than half of -lease"},
		{[]string{"-checkpoint-interval", "15s"}, "-checkpoint-interval (ERASURE_CHECKPOINT_INTERVAL) is 15s, not less than half of -lease 30s: a job renews its lease at checkpoints and must do so before half of it has passed; set -checkpoint-interval below 15s, or -lease above 30s"},
		{[]string{"-lease", "4s", "-checkpoint-interval", "3s"}, "set -checkpoint-interval below 2s, or -lease above 6s"},
		{[]string{"-upload-ttl", "0"}, "-upload-ttl (ERASURE_UPLOAD_TTL) is 0s: set a duration above zero"},
		{[]string{"-outcome-retention", "-1h"}, "-outcome-retention (ERASURE_OUTCOME_RETENTION) is -1h: set a duration above zero"},
		{[]string{"-shutdown-grace", "0"}, "-shutdown-grace (ERASURE_SHUTDOWN_GRACE) is 0s: set a duration above zero"},
		{[]string{"-addr", ""}, "-addr (ERASURE_ADDR) is empty: set a host:port"},
		{[]string{"-database", ""}, "-database (ERASURE_DATABASE) is empty"},
		{[]string{"-data-dir", ""}, "-data-dir (ERASURE_DATA_DIR) is empty: set a directory for the embedded store"},
		{[]string{"-default-features", ""}, "-default-features (ERASURE_DEFAULT_FEATURES) is empty: set a comma-separated list of " + deletion.FeatureList(deletion.AllFeatures) + ", or none"},
		{[]string{"-default-features", "everything"}, `-default-features (ERASURE_DEFAULT_FEATURES) is "everything": unknown feature "everything"`},
		{[]string{"-mongodb-uri", "mongodb://db.example", "-jwt-public-keys", "p.pem"}, "-audit-key-file (ERASURE_AUDIT_KEY_FILE) is required with -mongodb-uri: set it to a file holding 32 or more random bytes"},
		{[]string{"-mongodb-uri", "mongodb://db.example", "-audit-key-file", "k", "-jwt-public-keys", " , "}, "-jwt-public-keys (ERASURE_JWT_PUBLIC_KEYS) is empty, and with -mongodb-uri no development key is trusted"},
		{[]string{"-batch-size", "x"}, `invalid value "x" for flag -batch-size`},
		{[]string{"serve", "extra"}, `unexpected argument "extra"`},
		{[]string{"nonsense"}, `unknown command "nonsense"`},
	} {
		_, _, err := runFor(t, env(), tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.As(err, new(usageError)) {
			t.Errorf("erasured %q: %v\nwant a usage error with %q", tc.args, err, tc.want)
		}
	}

	// All problems at once, and a variable's bad value names the variable.
	_, _, err := runFor(t, env("ERASURE_WORKERS", "-2", "ERASURE_LEASE", "1s"), "-batch-size", "0")
	for _, want := range []string{"-workers (ERASURE_WORKERS) is -2", "-batch-size (ERASURE_BATCH_SIZE) is 0", "-checkpoint-interval (ERASURE_CHECKPOINT_INTERVAL) is 1s"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("several problems: %v\nwant %q", err, want)
		}
	}
	// A variable set to nothing is a value, not an absence: an empty
	// ERASURE_DEFAULT_FEATURES is refused rather than read as the default
	// (all features), as an empty -default-features is.
	if _, _, err := runFor(t, env("ERASURE_DEFAULT_FEATURES", "")); err == nil || !strings.Contains(err.Error(), "-default-features (ERASURE_DEFAULT_FEATURES) is empty") {
		t.Errorf("an empty ERASURE_DEFAULT_FEATURES: %v", err)
	}
	if _, _, err := runFor(t, env("ERASURE_BATCH_SIZE", "many"), mongo...); err == nil || !strings.Contains(err.Error(), `ERASURE_BATCH_SIZE="many": invalid value for -batch-size`) {
		t.Errorf("a bad variable: %v", err)
	}
}

// 0 means no bound for every per-account limit, none deactivates every
// default feature, and no zero reaches deletion.Config to be replaced by a
// default there.
func TestZeroMeansNoBound(t *testing.T) {
	t.Parallel()
	c := &config{}
	args := []string{"-max-jobs-per-account", "0", "-max-active-jobs-per-account", "0", "-max-uploads-per-account", "0", "-default-features", "none"}
	if err := parse(newFlagSet(serveCmd, c), serveCmd, c, args, env(), io.Discard); err != nil {
		t.Fatal(err)
	}
	d := c.deletionConfig([]byte("key"))
	if d.MaxJobsPerAccount != 0 || d.MaxActiveJobsPerAccount != noBound || d.MaxUploadsPerAccount != noBound {
		t.Fatalf("limits: %d %d %d", d.MaxJobsPerAccount, d.MaxActiveJobsPerAccount, d.MaxUploadsPerAccount)
	}
	if d.DefaultFeatures == nil || len(d.DefaultFeatures) != 0 {
		t.Fatalf("-default-features none: %#v", d.DefaultFeatures)
	}

	// With the defaults, every field deletion would otherwise default is set
	// to the documented value.
	c = &config{}
	if err := parse(newFlagSet(serveCmd, c), serveCmd, c, nil, env(), io.Discard); err != nil {
		t.Fatal(err)
	}
	got, want := c.deletionConfig(nil), deletion.DefaultConfig()
	want.DefaultFeatures = deletion.DefaultFeatures
	for _, f := range []struct {
		name      string
		got, want any
	}{
		{"MaxUploadBytes", got.MaxUploadBytes, want.MaxUploadBytes},
		{"UploadTTL", got.UploadTTL, want.UploadTTL},
		{"OutcomeRetention", got.OutcomeRetention, want.OutcomeRetention},
		{"BatchSize", got.BatchSize, want.BatchSize},
		{"Workers", got.Workers, want.Workers},
		{"MaxJobsPerAccount", got.MaxJobsPerAccount, want.MaxJobsPerAccount},
		{"Lease", got.Lease, want.Lease},
		{"CheckpointInterval", got.CheckpointInterval, want.CheckpointInterval},
		{"ShutdownGrace", got.ShutdownGrace, want.ShutdownGrace},
		{"MaxActiveJobsPerAccount", got.MaxActiveJobsPerAccount, want.MaxActiveJobsPerAccount},
		{"MaxUploadsPerAccount", got.MaxUploadsPerAccount, want.MaxUploadsPerAccount},
		{"DefaultFeatures", deletion.FeatureList(got.DefaultFeatures), deletion.FeatureList(want.DefaultFeatures)},
	} {
		if f.got != f.want {
			t.Errorf("%s = %v, want %v", f.name, f.got, f.want)
		}
	}
}

// erasured webhook sets, shows and removes an account's webhook, and
// refuses a webhook without a usable secret or URL.
func TestWebhookCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte(strings.Repeat("ab", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	short := filepath.Join(t.TempDir(), "short")
	if err := os.WriteFile(short, []byte("too short"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, err := runFor(t, env(), "webhook", "-data-dir", dir, "-account", "acme", "-url", "https://hooks.example.com/erasure", "-secret-file", secret)
	if err != nil || strings.TrimSpace(out) != "acme: https://hooks.example.com/erasure" {
		t.Fatalf("set: %q, %v", out, err)
	}
	if out, _, err := runFor(t, env(), "webhook", "-data-dir", dir, "-account", "acme"); err != nil || strings.TrimSpace(out) != "acme: https://hooks.example.com/erasure" {
		t.Fatalf("show: %q, %v", out, err)
	}
	for _, args := range [][]string{
		{"-url", "https://hooks.example.com/erasure"},
		{"-url", "https://hooks.example.com/erasure", "-secret-file", short},
		{"-url", "hooks.example.com", "-secret-file", secret},
	} {
		if _, _, err := runFor(t, env(), append([]string{"webhook", "-data-dir", dir, "-account", "acme"}, args...)...); err == nil {
			t.Errorf("webhook %v was accepted", args)
		}
	}
	if out, _, err := runFor(t, env(), "webhook", "-data-dir", dir, "-account", "acme", "-remove"); err != nil || strings.TrimSpace(out) != "acme: no webhook" {
		t.Fatalf("remove: %q, %v", out, err)
	}
	// The account's features were not touched: the defaults still apply.
	if out, _, err := runFor(t, env(), "features", "-data-dir", dir, "-account", "acme"); err != nil || !strings.Contains(out, "no features stored") {
		t.Fatalf("features after the webhook: %q, %v", out, err)
	}
}

// The memory limit comes from GOMEMLIMIT (which the runtime applied), from
// the setting, or by default from the container's limit, cgroup v2 or v1.
func TestMemoryLimit(t *testing.T) {
	cgroup := func(files map[string]string) string {
		dir := t.TempDir()
		for name, content := range files {
			if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	v2 := cgroup(map[string]string{"memory.max": "1073741824\n"})
	v1 := cgroup(map[string]string{"memory/memory.limit_in_bytes": "536870912\n"})
	unlimited := cgroup(map[string]string{"memory.max": "max\n", "memory/memory.limit_in_bytes": "9223372036854771712\n"})
	none := t.TempDir()
	noEnv := func(string) (string, bool) { return "", false }
	for _, c := range []struct {
		setting string
		env     func(string) (string, bool)
		root    string
		want    int64
	}{
		{"auto", noEnv, v2, 1 << 30 / 5 * 4},
		{"auto", noEnv, v1, 512 << 20 / 5 * 4},
		{"auto", noEnv, unlimited, 0},
		{"auto", noEnv, none, 0},
		{"off", noEnv, v2, 0},
		{"768MiB", noEnv, none, 768 << 20},
		{"2GiB", noEnv, v2, 2 << 30},
		{"100000000", noEnv, v2, 100000000},
		{"auto", func(k string) (string, bool) { return "300MiB", k == "GOMEMLIMIT" }, v2, 0},
	} {
		if got, source := memoryLimit(c.setting, c.env, c.root); got != c.want || source == "" {
			t.Errorf("memoryLimit(%q) under %s = %d (%s), want %d", c.setting, c.root, got, source, c.want)
		}
	}
	for _, bad := range []string{"lots", "10MiB", "-1", "1.5GiB"} {
		c := &config{memoryLimit: bad}
		var check func(*config) error
		for _, s := range settings() {
			if s.name == "memory-limit" {
				check = s.check
			}
		}
		if err := check(c); err == nil {
			t.Errorf("-memory-limit %q accepted", bad)
		}
	}
}
