// Command erasurectl is the operators' command-line client of erasured: it
// deletes or unsubscribes the profiles of a file, a list or one profile id
// after showing a preview and asking for a confirmation, follows jobs with
// a progress bar, cancels them, and prints reports, the audit trail and
// erasure proofs. It talks gRPC through the Go client (package client), so
// its calls that start jobs carry request ids and are retried safely.
//
// Exit codes (see exitCode): 0 done, 1 the service refused or could not be
// reached, 2 a usage mistake, 3 the job failed, 4 the job was cancelled,
// 5 nothing was started (the confirmation was declined or could not be
// asked), 6 the job was left running, 7 no erasure is recorded (verify).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/term"
)

func main() {
	// SIGINT is handled where it means something (while a job runs it asks
	// whether to cancel the job); elsewhere it stops the command.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], terminalIO{
		in:          os.Stdin,
		out:         os.Stdout,
		err:         os.Stderr,
		inTerminal:  term.IsTerminal(int(os.Stdin.Fd())),
		errTerminal: term.IsTerminal(int(os.Stderr.Fd())),
		env:         os.LookupEnv,
	}))
}

// terminalIO is what a command reads and writes, and whether a person is at
// the other end: a prompt needs stdin on a terminal, a progress bar stderr.
type terminalIO struct {
	in          io.Reader
	out, err    io.Writer
	inTerminal  bool
	errTerminal bool
	env         func(string) (string, bool)
}

// The exit codes, for scripts: each says what happened.
const (
	exitOK        = 0
	exitError     = 1 // the service refused the call or could not be reached
	exitUsage     = 2 // wrong flags or arguments
	exitFailed    = 3 // the job ended FAILED
	exitCancelled = 4 // the job ended CANCELLED
	exitDeclined  = 5 // nothing was started: no confirmation
	exitDetached  = 6 // the job goes on running; erasurectl stopped following it
	exitNotErased = 7 // verify: no recorded erasure of that identifier
)

// exitStatus is an outcome that is not an error message of its own but
// ends the command with a code: a job that failed or was cancelled, a
// declined confirmation. Its message, when set, has been printed already
// or is printed as is.
type exitStatus struct {
	code int
	msg  string
}

func (e *exitStatus) Error() string { return e.msg }

// usageError is a mistake in the command line.
type usageError struct{ error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

func run(ctx context.Context, args []string, tio terminalIO) int {
	root := rootCommand(tio)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var st *exitStatus
	if errors.As(err, &st) {
		if st.msg != "" {
			fmt.Fprintln(tio.err, st.msg)
		}
		return st.code
	}
	fmt.Fprintln(tio.err, "erasurectl: "+describe(err))
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintln(tio.err, "Run 'erasurectl help' for the commands and their flags.")
		return exitUsage
	}
	return exitError
}
