package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/erasure-dev/erasure/internal/deletion"
	"github.com/erasure-dev/erasure/server"
)

// command is a subcommand of erasured; a setting names the commands that
// read it.
type command uint8

const (
	serveCmd command = 1 << iota
	tokenCmd
	featuresCmd
	webhookCmd
)

// config is everything the settings set, for every command.
type config struct {
	addr            string
	mongoURI        string
	database        string
	dataDir         string
	writeMajority   bool
	demoProfiles    int
	publicKeys      string
	hmacFile        string
	devKey          string
	auditKeyFile    string
	workDir         string
	features        string
	reflection      bool
	corsOrigins     string
	metricsAddr     string
	metricsAccounts bool
	jwtIssuer       string
	jwtMaxLife      time.Duration
	maxUploadMB     int64
	logLevel        slog.Level
	logFormat       string
	shutdownGrace   time.Duration
	shutdownDrain   time.Duration
	memoryLimit     string
	// deletion holds the settings passed on as they are; deletionConfig
	// adds the rest.
	deletion deletion.Config
}

// setting declares one setting: its flag, the environment variable read
// when the flag is not given (envName), its default, the commands that read
// it, the config field it sets and what makes a value wrong. The flag sets
// of every command, their -h and the README's Configuration table (checked
// by TestREADMESettingsMatchHelp) all come from settings().
type setting struct {
	name  string
	usage string
	// def is the default as the flag parses it; empty for none.
	def string
	// defDoc replaces def in -h and the README when the default depends on
	// other settings.
	defDoc string
	cmds   command
	// field returns the config field the flag sets: *string, *int, *int64,
	// *bool, *time.Duration or *slog.Level.
	field func(*config) any
	// check returns why the value is wrong, to follow "-name (VARIABLE)",
	// and what to set instead; nil for any value the flag can parse.
	check func(*config) error
}

func (s setting) env() string { return envName(s.name) }

// envName is a flag's environment variable: ERASURE_ and its name in
// capitals (-batch-size: ERASURE_BATCH_SIZE), and MONGODB_URI, the name
// every MongoDB tool reads, for -mongodb-uri.
func envName(flagName string) string {
	if flagName == "mongodb-uri" {
		return "MONGODB_URI"
	}
	return "ERASURE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// settings declares every setting, in the order -h and the README list them.
func settings() []setting {
	d := deletion.DefaultConfig()
	shared := serveCmd | tokenCmd | featuresCmd | webhookCmd
	return []setting{
		{name: "addr", def: ":8080", cmds: serveCmd,
			usage: "listen address, `host:port`; :8080 is every interface",
			field: func(c *config) any { return &c.addr },
			check: func(c *config) error {
				if c.addr == "" {
					return errors.New("is empty: set a host:port to listen on, such as :8080")
				}
				return nil
			}},
		{name: "mongodb-uri", cmds: shared,
			usage: "MongoDB connection string (production); empty embeds FerretDB with its data under -data-dir",
			field: func(c *config) any { return &c.mongoURI }},
		{name: "database", def: "erasure", cmds: serveCmd | featuresCmd | webhookCmd,
			usage: "database holding profiles and the service's collections",
			field: func(c *config) any { return &c.database },
			check: func(c *config) error {
				if c.database == "" {
					return errors.New("is empty: set the database holding the profiles, such as erasure")
				}
				return nil
			}},
		{name: "data-dir", def: "./data", cmds: shared,
			usage: "`directory` of the embedded store, its audit key and the development token key",
			field: func(c *config) any { return &c.dataDir },
			check: func(c *config) error {
				if c.dataDir == "" && c.mongoURI == "" {
					return errors.New("is empty: set a directory for the embedded store, such as ./data, or -mongodb-uri")
				}
				return nil
			}},
		{name: "write-majority", def: "true", cmds: serveCmd | featuresCmd | webhookCmd,
			usage: "write concern majority (with -mongodb-uri)",
			field: func(c *config) any { return &c.writeMajority }},
		{name: "demo-profiles", def: "5000", cmds: serveCmd,
			usage: "profiles seeded into the empty demo account of the embedded store; 0 seeds none",
			field: func(c *config) any { return &c.demoProfiles },
			check: func(c *config) error { return atLeast(c.demoProfiles, 0, "0 seeds none") }},
		{name: "cors-allowed-origins", cmds: serveCmd,
			usage: "comma-separated `origins` of web pages on other origins that may call the service from a browser (https://app.example.com); none by default",
			field: func(c *config) any { return &c.corsOrigins },
			check: func(c *config) error {
				for _, o := range c.allowedOrigins() {
					if err := server.CheckOrigin(o); err != nil {
						return err
					}
				}
				return nil
			}},
		{name: "jwt-issuer", cmds: serveCmd | tokenCmd,
			usage: "the `issuer` (iss) every token must carry; empty accepts any (erasured token puts it in its tokens)",
			field: func(c *config) any { return &c.jwtIssuer }},
		{name: "jwt-max-lifetime", def: "24h", cmds: serveCmd | tokenCmd,
			usage: "the longest a token may live, from its iat (or now) to its exp; longer ones are refused",
			field: func(c *config) any { return &c.jwtMaxLife },
			check: func(c *config) error { return positive(c.jwtMaxLife) }},
		{name: "jwt-public-keys", cmds: serveCmd,
			usage: "comma-separated PEM `files` of the Ed25519 or RSA public keys whose tokens are trusted",
			field: func(c *config) any { return &c.publicKeys },
			check: func(c *config) error {
				if len(c.publicKeyFiles()) == 0 && c.hmacFile == "" && c.devKeyPath() == "" {
					return errors.New("is empty, and with -mongodb-uri no development key is trusted, so no token could be verified: set the PEM public keys of your identity provider (or -jwt-hs256-secret-file, or -dev-key for a development key)")
				}
				return nil
			}},
		{name: "jwt-hs256-secret-file", cmds: serveCmd,
			usage: "`file` holding a shared secret of 32 or more bytes; only when set are HS256 tokens trusted",
			field: func(c *config) any { return &c.hmacFile }},
		{name: "dev-key", cmds: serveCmd | tokenCmd,
			defDoc: "<data-dir>/dev-jwt-key.pem with the embedded store",
			usage:  "development signing key (PEM `file`) whose tokens are trusted; the server creates it if missing, and erasured token signs with it; none with -mongodb-uri unless set",
			field:  func(c *config) any { return &c.devKey }},
		{name: "audit-key-file", cmds: serveCmd,
			defDoc: "<data-dir>/audit-key with the embedded store",
			usage:  "`file` holding the secret (32+ random bytes, raw or hex) the audit trail's identifier hashes are derived from; keep it for as long as the trail must be verifiable; created under -data-dir with the embedded store, required with -mongodb-uri",
			field:  func(c *config) any { return &c.auditKeyFile },
			check: func(c *config) error {
				if c.auditKeyFile == "" && c.mongoURI != "" {
					return errors.New("is required with -mongodb-uri: set it to a file holding 32 or more random bytes (such as `openssl rand -hex 32`); the audit trail hashes identifiers with it, and past erasures can be verified only with the same key")
				}
				return nil
			}},
		{name: "work-dir", cmds: serveCmd,
			defDoc: "<data-dir>/work with the embedded store, <system temp>/erasure with MongoDB",
			usage:  "`directory` of the temporary copies of the uploads jobs and previews read, which hold identifiers: created readable only by the service, each instance's files removed when it stops, and those of instances that died by the next one to start",
			field:  func(c *config) any { return &c.workDir }},
		{name: "default-features", def: deletion.FeatureList(deletion.DefaultFeatures), cmds: serveCmd,
			usage: "comma-separated features of accounts that have none stored, or none (see erasured features)",
			field: func(c *config) any { return &c.features },
			check: func(c *config) error {
				_, err := c.defaultFeatures()
				return err
			}},
		{name: "reflection", def: "true", cmds: serveCmd,
			usage: "serve gRPC server reflection (it exposes the API's schema, no data)",
			field: func(c *config) any { return &c.reflection }},
		{name: "max-upload-mb", def: strconv.FormatInt(d.MaxUploadBytes>>20, 10), cmds: serveCmd,
			usage: "largest accepted file in MiB, 1 to 4096",
			field: func(c *config) any { return &c.maxUploadMB },
			check: func(c *config) error { return between(int(c.maxUploadMB), 1, 4096) }},
		{name: "upload-ttl", def: shortDuration(d.UploadTTL), cmds: serveCmd,
			usage: "how long an upload no job took is kept",
			field: func(c *config) any { return &c.deletion.UploadTTL },
			check: func(c *config) error { return positive(c.deletion.UploadTTL) }},
		{name: "outcome-retention", def: shortDuration(d.OutcomeRetention), cmds: serveCmd,
			usage: "how long per-row outcomes, which hold identifiers, are kept after a job ends",
			field: func(c *config) any { return &c.deletion.OutcomeRetention },
			check: func(c *config) error { return positive(c.deletion.OutcomeRetention) }},
		{name: "workers", def: strconv.Itoa(d.Workers), cmds: serveCmd,
			usage: "jobs this instance runs at once; 0 runs none (an instance that only serves calls while others run the jobs)",
			field: func(c *config) any { return &c.deletion.Workers },
			check: func(c *config) error { return atLeast(c.deletion.Workers, 0, "") }},
		{name: "max-jobs-per-account", def: strconv.Itoa(d.MaxJobsPerAccount), cmds: serveCmd,
			usage: "jobs of one account running at once over all instances; 0 for no bound",
			field: func(c *config) any { return &c.deletion.MaxJobsPerAccount },
			check: func(c *config) error { return atLeast(c.deletion.MaxJobsPerAccount, 0, "0 for no bound") }},
		{name: "max-active-jobs-per-account", def: strconv.Itoa(d.MaxActiveJobsPerAccount), cmds: serveCmd,
			usage: "jobs of one account queued or running; a deletion beyond it is refused with RESOURCE_EXHAUSTED; 0 for no bound",
			field: func(c *config) any { return &c.deletion.MaxActiveJobsPerAccount },
			check: func(c *config) error { return atLeast(c.deletion.MaxActiveJobsPerAccount, 0, "0 for no bound") }},
		{name: "max-uploads-per-account", def: strconv.Itoa(d.MaxUploadsPerAccount), cmds: serveCmd,
			usage: "uploads of one account in progress; an upload beyond it is refused with RESOURCE_EXHAUSTED; 0 for no bound",
			field: func(c *config) any { return &c.deletion.MaxUploadsPerAccount },
			check: func(c *config) error { return atLeast(c.deletion.MaxUploadsPerAccount, 0, "0 for no bound") }},
		{name: "lease", def: shortDuration(d.Lease), cmds: serveCmd,
			usage: "how long a job stays with an instance that stopped renewing it before another takes it over; at least 1s",
			field: func(c *config) any { return &c.deletion.Lease },
			check: func(c *config) error {
				if c.deletion.Lease < time.Second {
					return fmt.Errorf("is %s: set 1s or more; a job stays this long with an instance that stopped", shortDuration(c.deletion.Lease))
				}
				return nil
			}},
		{name: "checkpoint-interval", def: shortDuration(d.CheckpointInterval), cmds: serveCmd,
			usage: "how often a running job saves its progress, renews its lease and checks for a cancel request; less than half of -lease",
			field: func(c *config) any { return &c.deletion.CheckpointInterval },
			check: func(c *config) error {
				ci, lease := c.deletion.CheckpointInterval, c.deletion.Lease
				if ci <= 0 {
					return fmt.Errorf("is %s: set a duration such as 1s, less than half of -lease", shortDuration(ci))
				}
				if lease >= time.Second && ci >= lease/2 {
					// The worker renews the lease, at a checkpoint, at the
					// latest when half of it is left, and stops writing when
					// a quarter is left: a longer interval cannot be kept.
					return fmt.Errorf("is %s, not less than half of -lease %s: a job renews its lease at checkpoints and must do so before half of it has passed; set -checkpoint-interval below %s, or -lease above %s",
						shortDuration(ci), shortDuration(lease), shortDuration(lease/2), shortDuration(2*ci))
				}
				return nil
			}},
		{name: "batch-size", def: strconv.Itoa(d.BatchSize), cmds: serveCmd,
			usage: "rows per lookup and delete, 1 to 10000",
			field: func(c *config) any { return &c.deletion.BatchSize },
			check: func(c *config) error { return between(c.deletion.BatchSize, 1, 10_000) }},
		{name: "disable-hints", def: "false", cmds: serveCmd,
			usage: "skip the lookup that explains rows that matched nothing",
			field: func(c *config) any { return &c.deletion.DisableHints }},
		{name: "log-level", def: "info", cmds: serveCmd,
			usage: "log `level`: debug, info, warn or error",
			field: func(c *config) any { return &c.logLevel }},
		{name: "metrics-addr", cmds: serveCmd,
			usage: "`address` of a separate listener serving Prometheus metrics at /metrics and Go's profiler at /debug/pprof/; empty (the default) serves none",
			field: func(c *config) any { return &c.metricsAddr }},
		{name: "metrics-account-label", def: "false", cmds: serveCmd,
			usage: "label rows and ended jobs in the metrics by account (one series per account; no person's identifier is ever a label)",
			field: func(c *config) any { return &c.metricsAccounts }},
		{name: "log-format", def: "text", cmds: serveCmd,
			usage: "log `format`: text (logfmt) or json (one object per line)",
			field: func(c *config) any { return &c.logFormat },
			check: func(c *config) error {
				if c.logFormat != "text" && c.logFormat != "json" {
					return fmt.Errorf("is %q: set text or json", c.logFormat)
				}
				return nil
			}},
		{name: "shutdown-drain", def: "2s", cmds: serveCmd,
			usage: "on SIGTERM, how long to go on serving while health and /readyz say not serving, so load balancers stop sending calls; 0 for none",
			field: func(c *config) any { return &c.shutdownDrain },
			check: func(c *config) error {
				if c.shutdownDrain < 0 {
					return fmt.Errorf("is %s: set 0 or more", shortDuration(c.shutdownDrain))
				}
				return nil
			}},
		{name: "memory-limit", def: "auto", cmds: serveCmd,
			usage: "soft memory `limit` of the Go runtime: auto takes four fifths of the container's memory limit when there is one (the rest is for memory the runtime does not count), off sets none, or a size such as 512MiB; GOMEMLIMIT, when set, wins",
			field: func(c *config) any { return &c.memoryLimit },
			check: func(c *config) error {
				if c.memoryLimit == "auto" || c.memoryLimit == "off" {
					return nil
				}
				if n, err := parseByteSize(c.memoryLimit); err != nil || n < 64<<20 {
					return fmt.Errorf("is %q: set auto, off, or a size of 64MiB or more such as 512MiB or 2GiB", c.memoryLimit)
				}
				return nil
			}},
		{name: "shutdown-grace", def: shortDuration(d.ShutdownGrace), cmds: serveCmd,
			usage: "time open calls and running batches get to finish on shutdown",
			field: func(c *config) any { return &c.shutdownGrace },
			check: func(c *config) error { return positive(c.shutdownGrace) }},
	}
}

func between(v, lo, hi int) error {
	if v < lo || v > hi {
		return fmt.Errorf("is %d: set a number from %d to %d", v, lo, hi)
	}
	return nil
}

func atLeast(v, lo int, zero string) error {
	if v >= lo {
		return nil
	}
	if zero != "" {
		return fmt.Errorf("is %d: set %d or more (%s)", v, lo, zero)
	}
	return fmt.Errorf("is %d: set %d or more", v, lo)
}

func positive(d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("is %s: set a duration above zero, such as 30s, 10m or 24h", shortDuration(d))
	}
	return nil
}

// shortDuration writes d as a flag reads it, without the zero minutes and
// seconds Duration.String adds: 24h, not 24h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// usageError is a mistake in the command line or the environment; main
// exits with status 2 for it, as the flag package does.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// newFlagSet returns a flag set with the settings cmd reads, bound to c and
// holding their defaults; the command adds its own flags before parse.
func newFlagSet(cmd command, c *config) *flag.FlagSet {
	fs := flag.NewFlagSet("erasured "+commandName(cmd), flag.ContinueOnError)
	fs.SetOutput(io.Discard) // parse reports errors and prints usage itself
	fs.Usage = func() {}
	for _, s := range settings() {
		if s.cmds&cmd == 0 {
			continue
		}
		switch p := s.field(c).(type) {
		case *string:
			fs.StringVar(p, s.name, "", s.usage)
		case *int:
			fs.IntVar(p, s.name, 0, s.usage)
		case *int64:
			fs.Int64Var(p, s.name, 0, s.usage)
		case *bool:
			fs.BoolVar(p, s.name, false, s.usage)
		case *time.Duration:
			fs.DurationVar(p, s.name, 0, s.usage)
		case *slog.Level:
			fs.TextVar(p, s.name, *p, s.usage)
		default:
			panic(fmt.Sprintf("setting -%s: unsupported field type %T", s.name, p))
		}
		f := fs.Lookup(s.name)
		if s.def != "" {
			if err := f.Value.Set(s.def); err != nil {
				panic(fmt.Sprintf("setting -%s: default %q: %v", s.name, s.def, err))
			}
		}
		f.DefValue = s.def
	}
	return fs
}

// parse reads the command line, then, for every setting not given there,
// its environment variable (a variable set to nothing counts, as that value), then
// validates the settings cmd reads. With -h it prints cmd's usage to stdout
// and returns flag.ErrHelp.
func parse(fs *flag.FlagSet, cmd command, c *config, args []string, env func(string) (string, bool), stdout io.Writer) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(stdout, cmd, fs)
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q: erasured %s takes only flags", fs.Arg(0), commandName(cmd))}
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for _, s := range settings() {
		if s.cmds&cmd == 0 || given[s.name] {
			continue
		}
		// A variable that is set counts, even empty: ERASURE_DEFAULT_FEATURES=""
		// once meant "no features", and must not silently become all of them.
		if v, ok := env(s.env()); ok {
			if err := fs.Lookup(s.name).Value.Set(v); err != nil {
				return usageError{fmt.Errorf("%s=%q: invalid value for -%s: %w", s.env(), v, s.name, err)}
			}
		}
	}
	return c.validate(cmd)
}

// validate checks the settings cmd reads, all of them, so that one start
// reports every problem.
func (c *config) validate(cmd command) error {
	var errs []error
	for _, s := range settings() {
		if s.cmds&cmd == 0 || s.check == nil {
			continue
		}
		if err := s.check(c); err != nil {
			errs = append(errs, fmt.Errorf("-%s (%s) %w", s.name, s.env(), err))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return usageError{errors.Join(errs...)}
}

// allowedOrigins lists the origins of -cors-allowed-origins.
func (c *config) allowedOrigins() []string {
	var origins []string
	for _, o := range strings.Split(c.corsOrigins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			origins = append(origins, o)
		}
	}
	return origins
}

// publicKeyFiles lists the files of -jwt-public-keys.
func (c *config) publicKeyFiles() []string {
	var files []string
	for _, path := range strings.Split(c.publicKeys, ",") {
		if path = strings.TrimSpace(path); path != "" {
			files = append(files, path)
		}
	}
	return files
}

// defaultFeatures parses -default-features; "none" is the empty list, and
// an empty value is refused so that "no features" is always said out loud.
func (c *config) defaultFeatures() ([]deletion.Feature, error) {
	all := deletion.FeatureList(deletion.AllFeatures)
	switch strings.TrimSpace(c.features) {
	case "":
		return nil, fmt.Errorf("is empty: set a comma-separated list of %s, or none to activate no feature for accounts that have none stored", all)
	case "none":
		return []deletion.Feature{}, nil
	}
	features, err := deletion.ParseFeatures(c.features)
	if err != nil {
		return nil, fmt.Errorf("is %q: %w; set a comma-separated list of %s, or none", c.features, err, all)
	}
	return features, nil
}

// noBound stands for "0: no bound" in the per-account limits that
// deletion.Config would otherwise read as "use the default".
const noBound = math.MaxInt32

// deletionConfig is the deletion service's configuration from validated
// settings. Every field is set, so no default of deletion.Config applies
// silently.
func (c *config) deletionConfig(auditKey []byte) deletion.Config {
	d := c.deletion
	d.MaxUploadBytes = c.maxUploadMB << 20
	d.ShutdownGrace = c.shutdownGrace
	d.DefaultFeatures, _ = c.defaultFeatures() // validated
	d.AuditKey = auditKey
	if d.Workers == 0 {
		d.Workers = -1 // deletion.Config reads 0 as its default
	}
	// MaxJobsPerAccount reads 0 as no bound itself.
	for _, limit := range []*int{&d.MaxActiveJobsPerAccount, &d.MaxUploadsPerAccount} {
		if *limit == 0 {
			*limit = noBound
		}
	}
	return d
}

// commandDoc describes a subcommand for usage.
type commandDoc struct {
	cmd                 command // 0 for help and version, which read no settings
	name, args, summary string
}

// commands lists the subcommands, in -h's order.
func commands() []commandDoc {
	return []commandDoc{
		{serveCmd, "serve", "[flags]", "start the server (the default: erasured [flags] does the same)"},
		{tokenCmd, "token", "[flags]", "mint a development token signed with the development key the server trusts"},
		{featuresCmd, "features", "[flags]", "show or set the features activated for an account"},
		{webhookCmd, "webhook", "[flags]", "show or set where an account's job endings are posted"},
		{0, "help", "[command]", "show this help, or a command's flags"},
		{0, "version", "", "print the version and exit (also erasured -version)"},
	}
}

func commandName(cmd command) string {
	for _, c := range commands() {
		if c.cmd == cmd {
			return c.name
		}
	}
	return "?"
}

// printUsage prints cmd's usage: for serve, the list of commands too; then
// the command's own flags, then the settings it reads with their
// environment variables and defaults.
func printUsage(w io.Writer, cmd command, fs *flag.FlagSet) {
	if cmd == serveCmd {
		fmt.Fprint(w, "erasured serves the erasure API (gRPC, gRPC-Web and Connect on one port): permanent\n"+
			"deletion of marketing profiles in MongoDB, with reports and an audit trail.\n\nCommands:\n")
		for _, c := range commands() {
			fmt.Fprintf(w, "  %-28s %s\n", strings.TrimSpace("erasured "+c.name+" "+c.args), c.summary)
		}
		fmt.Fprint(w, "\nRun erasured help <command> for a command's flags.\n")
	} else {
		for _, c := range commands() {
			if c.cmd == cmd {
				fmt.Fprintf(w, "Usage: erasured %s %s\n\n%s.\n", c.name, c.args, strings.ToUpper(c.summary[:1])+c.summary[1:])
			}
		}
	}
	isSetting := map[string]bool{}
	for _, s := range settings() {
		isSetting[s.name] = true
	}
	var own []*flag.Flag
	fs.VisitAll(func(f *flag.Flag) {
		if !isSetting[f.Name] {
			own = append(own, f)
		}
	})
	if len(own) > 0 {
		fmt.Fprint(w, "\nFlags:\n")
		for _, f := range own {
			def := f.DefValue
			if g, ok := f.Value.(flag.Getter); ok {
				if _, ok := g.Get().(time.Duration); ok {
					if d, err := time.ParseDuration(def); err == nil {
						def = shortDuration(d)
					}
				}
				if _, ok := g.Get().(bool); ok && def == "false" {
					def = ""
				}
			}
			suffix := ""
			if def != "" {
				suffix = " (default " + def + ")"
			}
			printFlag(w, f, suffix)
		}
	}
	if cmd == serveCmd {
		fmt.Fprint(w, "\nSettings of the server, each a flag or the environment variable shown (a flag wins;\na variable set to nothing counts, as that value):\n")
	} else {
		fmt.Fprint(w, "\nSettings shared with the server, each a flag or the environment variable shown (a flag\nwins; a variable set to nothing counts, as that value):\n")
	}
	for _, s := range settings() {
		if s.cmds&cmd == 0 {
			continue
		}
		def := s.def
		if s.defDoc != "" {
			def = s.defDoc
		}
		suffix := " ($" + s.env() + ")"
		if def != "" {
			suffix = " ($" + s.env() + ", default " + def + ")"
		}
		printFlag(w, fs.Lookup(s.name), suffix)
	}
}

// printFlag prints a flag as the flag package does, with suffix after its
// usage.
func printFlag(w io.Writer, f *flag.Flag, suffix string) {
	typ, usage := flag.UnquoteUsage(f)
	if typ != "" {
		typ = " " + typ
	}
	fmt.Fprintf(w, "  -%s%s\n    \t%s%s\n", f.Name, typ, usage, suffix)
}
