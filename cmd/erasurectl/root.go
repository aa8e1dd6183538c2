package main

import (
	"crypto/tls"
	"fmt"
	"strings"
	"sync"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/erasure-dev/erasure/client"
	erasurev1 "github.com/erasure-dev/erasure/gen/erasure/v1"
)

// cli holds the global flags and the connection every command uses.
type cli struct {
	tio terminalIO

	addr    string
	token   string
	account string
	output  string
	useTLS  bool

	svc erasurev1.ErasureServiceClient

	// Standard input's lines, for prompts (see readLines).
	linesOnce sync.Once
	lines     chan string
}

// rootCommand is the command tree.
func rootCommand(tio terminalIO) *cobra.Command {
	c := &cli{tio: tio}
	root := &cobra.Command{
		Use:   "erasurectl",
		Short: "Delete or unsubscribe profiles with erasured, follow jobs, read reports and the audit trail",
		Long: `erasurectl is the operators' client of erasured.

A deletion is permanent: delete and unsubscribe show a preview of what would
happen and ask before starting (--yes skips the question, for scripts).

The server is --server or ERASURE_SERVER (localhost:8080), the token --token or
ERASURE_TOKEN ('erasured token' prints one for the embedded store).

Exit codes: 0 done, 1 refused or unreachable, 2 usage, 3 job failed, 4 job
cancelled, 5 nothing started (not confirmed), 6 job left running, 7 no erasure
recorded (verify).`,
		SilenceErrors: true,
		SilenceUsage:  true,
		// Without a subcommand: the help, as a usage mistake.
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("unknown command %q", args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.SetOut(tio.err)
			cmd.Help()
			return &exitStatus{code: exitUsage}
		},
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Name() == "help" || cmd.Name() == "version" || !cmd.HasParent() {
				return nil
			}
			return c.connect()
		},
	}
	root.SetIn(tio.in)
	root.SetOut(tio.out)
	root.SetErr(tio.err)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.CompletionOptions.DisableDefaultCmd = true

	f := root.PersistentFlags()
	f.StringVar(&c.addr, "server", envOr(tio, "ERASURE_SERVER", "localhost:8080"), "erasured's gRPC address (ERASURE_SERVER)")
	f.StringVar(&c.token, "token", envOr(tio, "ERASURE_TOKEN", ""), "bearer token (ERASURE_TOKEN); prefer the variable: flags show in the process list")
	f.StringVar(&c.account, "account", "", "account to act on; the token's account when empty")
	f.StringVarP(&c.output, "output", "o", "text", "output: text for people, json for scripts (one JSON document on stdout)")
	f.BoolVar(&c.useTLS, "tls", false, "connect with TLS (the system's roots) instead of plain HTTP/2")

	root.AddCommand(
		c.deleteCommand(),
		c.unsubscribeCommand(),
		c.jobsCommand(),
		c.jobCommand(),
		c.watchCommand(),
		c.cancelCommand(),
		c.reportCommand(),
		c.auditCommand(),
		c.verifyCommand(),
		c.segmentCommand(),
		versionCommand(),
	)
	return root
}

func envOr(tio terminalIO, name, def string) string {
	if v, ok := tio.env(name); ok {
		return v
	}
	return def
}

// connect checks the global flags and dials the server (lazily: the first
// call connects).
func (c *cli) connect() error {
	if c.output != "text" && c.output != "json" {
		return usagef("-o %q: use text or json", c.output)
	}
	if strings.TrimSpace(c.token) == "" {
		return usagef("no token: set ERASURE_TOKEN (or --token); with the embedded store, 'erasured token' prints one")
	}
	opts := client.Options{Token: strings.TrimSpace(c.token)}
	if c.useTLS {
		opts.DialOptions = []grpc.DialOption{grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS12}))}
	}
	// The connection lives as long as the process.
	svc, _, err := client.Dial(c.addr, opts)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", c.addr, err)
	}
	c.svc = svc
	return nil
}

// exactArgs is cobra.ExactArgs as a usage mistake, naming what is missing.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("give %s", what)
		}
		return nil
	}
}
