package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	erasurev1 "github.com/erasure-dev/erasure/gen/erasure/v1"
	"github.com/erasure-dev/erasure/internal/erasuredtest"
	"github.com/erasure-dev/erasure/internal/testkit"
)

// proc is erasurectl running as a process, on a pseudo-terminal (as a
// person at a terminal runs it) or on pipes (as a script does).
type proc struct {
	cmd  *exec.Cmd
	tty  *os.File // the terminal's master side; nil on pipes
	out  *testkit.SyncBuffer
	done chan struct{}
}

func (e *env) start(t *testing.T, onTerminal bool, args ...string) *proc {
	t.Helper()
	p := &proc{out: &testkit.SyncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(erasuredtest.Build(t, "cmd/erasurectl"), args...)
	p.cmd.Env = append(os.Environ(), "ERASURE_SERVER="+e.inst.Addr, "ERASURE_TOKEN="+e.engine.Token)
	if onTerminal {
		tty, err := pty.StartWithSize(p.cmd, &pty.Winsize{Rows: 40, Cols: 160})
		if err != nil {
			t.Fatal(err)
		}
		p.tty = tty
		go func() {
			io.Copy(p.out, tty) // ends with EIO when the process exits
			close(p.done)
		}()
	} else {
		p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		close(p.done)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
		if p.tty != nil {
			p.tty.Close()
		}
	})
	return p
}

// waitFor waits until the output shows want: a thing the process says
// when it gets there, not a time.
func (p *proc) waitFor(t *testing.T, want string) {
	t.Helper()
	p.waitForN(t, want, 1)
}

// waitForN waits until the output shows want n times.
func (p *proc) waitForN(t *testing.T, want string, n int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for strings.Count(p.out.String(), want) < n {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the output:\n%s", want, p.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// typeLine types a line on the terminal.
func (p *proc) typeLine(t *testing.T, s string) {
	t.Helper()
	if _, err := p.tty.Write([]byte(s + "\r")); err != nil {
		t.Fatal(err)
	}
}

// exit waits for the process and returns its exit code.
func (p *proc) exit(t *testing.T) int {
	t.Helper()
	err := p.cmd.Wait()
	<-p.done
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0
}

// bigCSV names every demo profile by e-mail address (the e-mail keyed ones
// match), one row each.
func bigCSV() string {
	var b strings.Builder
	b.WriteString("Email\n")
	for n := 1; n <= demoProfiles; n++ {
		fmt.Fprintf(&b, "person%04d@example.com\n", n)
	}
	return b.String()
}

// emailKeyed is how many of bigCSV's rows match: demo.Profile keys n%10 < 7
// by e-mail.
const emailKeyed = demoProfiles / 10 * 7

func TestProgressBarOnATerminal(t *testing.T) {
	e := newEnv(t)
	path := e.file(t, "people.csv", bigCSV())
	p := e.start(t, true, "delete", "--type", "email", "--column", "Email", path)
	p.waitFor(t, "[y/N]")
	p.typeLine(t, "y")
	if code := p.exit(t); code != exitOK {
		t.Fatalf("exit %d:\n%s", code, p.out)
	}
	out := p.out.String()
	// The bar, redrawn in place: rows done of the total, the rate, the time
	// spent and left while it runs, and full at the end.
	running := regexp.MustCompile(fmt.Sprintf(`\rdeleting +\d+%% \|[█ ]+\| \(\d+/%d, \d+ rows/\w+\) \[\d+s:\d+s\]`, demoProfiles))
	full := regexp.MustCompile(fmt.Sprintf(`\rdeleting 100%% \|█+\| \(%d/%d, \d+ rows/\w+\)`, demoProfiles, demoProfiles))
	if !running.MatchString(out) || !full.MatchString(out) {
		t.Errorf("no progress bar with count, rate and time left, or not full at the end:\n%q", out)
	}
	for _, want := range []string{previewRow("matched", emailKeyed) + "  profiles to delete", fmt.Sprintf("%d profiles deleted", emailKeyed), "succeeded in"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
	if n := e.profiles(t); n != demoProfiles-emailKeyed {
		t.Errorf("%d profiles, want %d", n, demoProfiles-emailKeyed)
	}
}

// Ctrl-C while a job runs asks whether to cancel it or leave it running; a
// script's interrupt leaves it running. The server runs no jobs
// (-workers 0), so each job waits in the queue for as long as the test
// needs, whatever the machine's speed.
func TestInterruptAsksWhatToDoWithTheJob(t *testing.T) {
	e := newEnv(t, "-workers", "0")
	path := e.file(t, "people.csv", bigCSV())
	jobOf := func(p *proc) string {
		m := regexp.MustCompile(`job (\w{24}) queued`).FindStringSubmatch(p.out.String())
		if m == nil {
			t.Fatalf("no queued job in:\n%s", p.out)
		}
		return m[1]
	}
	state := func(id string) erasurev1.JobState {
		resp, err := e.inst.Client.GetJob(context.Background(), &erasurev1.GetJobRequest{JobId: id})
		if err != nil {
			t.Fatal(err)
		}
		return resp.GetJob().GetState()
	}

	// Leave it running.
	p := e.start(t, true, "delete", "--type", "email", "--column", "Email", path)
	p.waitFor(t, "[y/N]")
	p.typeLine(t, "y")
	p.waitFor(t, "queued (position 1)")
	p.tty.Write([]byte{0x03}) // Ctrl-C
	p.waitFor(t, "Cancel it (c), leave it running (l), or go on watching (w)?")
	p.typeLine(t, "l")
	if code := p.exit(t); code != exitDetached || !strings.Contains(p.out.String(), "goes on running on the server") {
		t.Fatalf("leave it running: exit %d:\n%s", code, p.out)
	}
	left := jobOf(p)
	if s := state(left); s != erasurev1.JobState_JOB_STATE_QUEUED {
		t.Errorf("the job left running is %s", s)
	}

	// Go on watching, then cancel it.
	p = e.start(t, true, "delete", "--type", "email", "--column", "Email", path)
	p.waitFor(t, "[y/N]")
	p.typeLine(t, "y")
	p.waitFor(t, "queued (position 2)")
	p.tty.Write([]byte{0x03})
	p.waitFor(t, "[c/l/w]")
	p.typeLine(t, "w")
	p.waitForN(t, "queued (position 2):", 2) // shown again once it goes on watching
	p.tty.Write([]byte{0x03})
	p.waitForN(t, "[c/l/w]", 2)
	p.typeLine(t, "c")
	if code := p.exit(t); code != exitCancelled || !strings.Contains(p.out.String(), "cancelled: 0 rows, 0 profiles deleted") {
		t.Fatalf("cancel: exit %d:\n%s", code, p.out)
	}
	if s := state(jobOf(p)); s != erasurev1.JobState_JOB_STATE_CANCELLED {
		t.Errorf("the cancelled job is %s", s)
	}

	// A script (no terminal) interrupted: the job is left running.
	p = e.start(t, false, "delete", "--type", "email", "--column", "Email", "--yes", path)
	p.waitFor(t, "queued (position 2)")
	p.cmd.Process.Signal(os.Interrupt)
	if code := p.exit(t); code != exitDetached {
		t.Fatalf("interrupted script: exit %d:\n%s", code, p.out)
	}
	script := jobOf(p)

	// Nothing was deleted; an instance that runs jobs runs both left
	// running, and watch follows one to its end.
	if n := e.profiles(t); n != demoProfiles {
		t.Fatalf("%d profiles before any job ran, want %d", n, demoProfiles)
	}
	// Its two workers find both jobs queued at once; the account's bound
	// of one running job makes the second run after the first.
	erasuredtest.StartInstance(t, e.engine, e.engine.Srv.URI(), e.db)
	r := e.ctl(t, "", "watch", left)
	if r.code != exitOK || !strings.Contains(r.stdout, fmt.Sprintf("%d profiles deleted", emailKeyed)) {
		t.Fatalf("watch: %v", r)
	}
	if r = e.ctl(t, "", "watch", script); r.code != exitOK || !strings.Contains(r.stdout, "0 profiles deleted") {
		t.Errorf("watch the second: %v", r)
	}
}
