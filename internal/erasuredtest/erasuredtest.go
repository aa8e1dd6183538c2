// Package erasuredtest runs the real erasured binary for end-to-end tests:
// an embedded store the test owns (so instances can be killed, doubled and
// restarted while the store lives on, and the store stopped while an
// instance lives on), the signing key and token its instances trust, and
// instances as child processes.
package erasuredtest

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/erasure-dev/erasure/client"
	erasurev1 "github.com/erasure-dev/erasure/gen/erasure/v1"
	"github.com/erasure-dev/erasure/internal/auth"
	"github.com/erasure-dev/erasure/internal/storageembed"
	"github.com/erasure-dev/erasure/internal/testkit"
)

// Account is the account of Engine.Token.
const Account = "acme"

var (
	buildMu sync.Mutex
	built   = map[string]string{}
)

// Main runs the tests of a package that uses Build, then removes what it
// built. Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	buildMu.Lock()
	for _, bin := range built {
		os.RemoveAll(filepath.Dir(bin))
	}
	buildMu.Unlock()
	os.Exit(code)
}

// Build builds a command of the module once per test binary, such as
// "cmd/erasured", and returns the executable's path; Main removes it.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if bin, ok := built[pkg]; ok {
		return bin
	}
	dir, err := os.MkdirTemp("", "erasure-bin-")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, filepath.Base(pkg))
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/erasure-dev/erasure/"+pkg).CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", pkg, err, out)
	}
	built[pkg] = bin
	return bin
}

// Engine is an embedded store the test can stop and start again, with the
// signing key its instances trust.
type Engine struct {
	Dir string
	Srv *storageembed.Server
	// KeyPEM is the development key file instances trust.
	KeyPEM string
	// Token is an OWNER service token of Account, valid for an hour.
	Token string
	// AuditKey is the audit key file every instance shares.
	AuditKey string
	// WorkDir is the -work-dir of every instance, as on one machine.
	WorkDir string
}

// StartEngine starts a store, stopped when the test ends.
func StartEngine(t *testing.T) *Engine {
	t.Helper()
	e := &Engine{Dir: t.TempDir(), WorkDir: t.TempDir()}
	e.KeyPEM = filepath.Join(t.TempDir(), "dev-jwt-key.pem")
	e.AuditKey = filepath.Join(t.TempDir(), "audit-key")
	if err := os.WriteFile(e.AuditKey, []byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	key, err := auth.DevKey(e.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	e.Token, err = auth.Sign(key, auth.Principal{Account: Account, Subject: "test", Kind: auth.KindService, Role: auth.Owner}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	e.Start(t)
	t.Cleanup(func() {
		if e.Srv != nil {
			e.Srv.Close()
		}
	})
	return e
}

// Start starts the store again after Stop.
func (e *Engine) Start(t *testing.T) {
	t.Helper()
	srv, err := storageembed.Start(e.Dir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	e.Srv = srv
}

// Stop stops the store; instances lose it until Start.
func (e *Engine) Stop() {
	e.Srv.Close()
	e.Srv = nil
}

// Instance is an erasured process.
type Instance struct {
	Cmd  *exec.Cmd
	Addr string
	// URI and DB are the store it uses.
	URI, DB string
	Logs    *testkit.SyncBuffer
	Exited  chan error
	// Client calls it with the engine's token.
	Client erasurev1.ErasureServiceClient
}

// StartInstance starts erasured on a free address against the store at uri,
// database db, with settings for tests (small batches, a 2 s lease, several
// batches per checkpoint so that a crash leaves batches to redo) and extra
// flags, and returns once it answers. It is killed when the test ends and
// its log printed if the test failed.
func StartInstance(t *testing.T, e *Engine, uri, db string, extra ...string) *Instance {
	t.Helper()
	return StartInstanceWithEnv(t, e, uri, db, nil, extra...)
}

// StartInstanceWithEnv is StartInstance with environment variables added
// to the test's (such as ERASURE_TEST_PAUSE_AFTER_ROWS).
func StartInstanceWithEnv(t *testing.T, e *Engine, uri, db string, env []string, extra ...string) *Instance {
	t.Helper()
	i := &Instance{Addr: testkit.FreeAddr(t), URI: uri, DB: db, Logs: &testkit.SyncBuffer{}, Exited: make(chan error, 1)}
	args := append([]string{"-addr", i.Addr, "-mongodb-uri", uri, "-database", db, "-write-majority=false", "-dev-key", e.KeyPEM, "-audit-key-file", e.AuditKey, "-work-dir", e.WorkDir,
		"-lease", "2s", "-batch-size", "10", "-shutdown-grace", "5s", "-checkpoint-interval", "250ms"}, extra...)
	i.Cmd = exec.Command(Build(t, "cmd/erasured"), args...)
	i.Cmd.Stdout, i.Cmd.Stderr = i.Logs, i.Logs
	if env != nil {
		i.Cmd.Env = append(os.Environ(), env...)
	}
	if err := i.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { i.Exited <- i.Cmd.Wait() }()
	c, conn, err := client.Dial(i.Addr, client.Options{Token: e.Token})
	if err != nil {
		t.Fatal(err)
	}
	i.Client = c
	t.Cleanup(func() {
		conn.Close()
		if i.Cmd.ProcessState == nil {
			i.Cmd.Process.Kill()
			<-i.Exited
		}
		if t.Failed() {
			t.Logf("log of %s:\n%s", i.Addr, i.Logs.String())
		}
	})
	// Up when it answers (the client retries while it starts).
	_, err = c.GetJob(context.Background(), &erasurev1.GetJobRequest{AccountId: Account, JobId: "0123456789abcdef01234567"})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("instance not up: %v\n%s", err, i.Logs.String())
	}
	return i
}

// Kill kills the instance with SIGKILL: no shutdown of any kind.
func (i *Instance) Kill(t *testing.T) {
	t.Helper()
	if err := i.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-i.Exited
}
