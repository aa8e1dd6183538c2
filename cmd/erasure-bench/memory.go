package main

import (
	"bufio"
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"connectrpc.com/connect"
	"github.com/xuri/excelize/v2"

	erasurev1 "github.com/erasure-dev/erasure/gen/erasure/v1"
	"github.com/erasure-dev/erasure/gen/erasure/v1/erasurev1connect"
	"github.com/erasure-dev/erasure/internal/storageembed"
	"github.com/erasure-dev/erasure/storage"
)

// memConfig configures the memory measurement (-memory).
type memConfig struct {
	rows, profiles int
	erasured       string
	formats        string
	gomemlimit     string
	keep           bool
	// heapProfiles, when set, is where each phase's heap profile at its
	// peak is written.
	heapProfiles string
}

// memResult is one file's run against a fresh server.
type memResult struct {
	format                     string
	size                       int64
	idleKB                     int64
	uploadKB, previewKB, runKB int64 // peak RSS during the phase
	upload, preview, run       time.Duration
	report                     string
}

// runMemory measures the peak resident memory of a real erasured process
// while it takes a big file through upload, preview and execution.
//
// erasured runs as a child process against the embedded engine, which runs
// here, in the benchmark's process, and is reached through its Unix socket
// as if it were a MongoDB server: so the child's memory is the service's
// own, as in production, where the database is another machine. For each
// file a fresh child is started and left idle for two seconds; its resident
// set then is the idle figure. Before each phase the kernel's peak counter
// (VmHWM) is reset to the current resident set by writing 5 to
// /proc/<pid>/clear_refs, and after it VmHWM is that phase's peak.
func runMemory(c memConfig) error {
	dir, err := os.MkdirTemp("", "erasure-memory-")
	if err != nil {
		return err
	}
	if c.keep {
		fmt.Println("keeping", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	bin := c.erasured
	if bin == "" {
		bin = filepath.Join(dir, "erasured")
		build := exec.Command("go", "build", "-o", bin, "./cmd/erasured")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("build erasured (run from the repository root, or give -erasured): %w", err)
		}
	}

	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	eng, err := storageembed.Start(filepath.Join(dir, "engine"), quiet)
	if err != nil {
		return err
	}
	defer eng.Close()
	const database = "erasure_memory"
	ctx := context.Background()
	store, err := storage.Open(ctx, storage.Options{URI: eng.URI(), Database: database})
	if err != nil {
		return err
	}
	defer store.Close(ctx)

	var results []memResult
	for _, format := range strings.Split(c.formats, ",") {
		file, err := memoryFile(format, c.rows, dir)
		if err != nil {
			return err
		}
		// The profiles the previous file deleted are seeded again.
		if err := seed(ctx, store, config{profiles: c.profiles}); err != nil {
			return err
		}
		r, err := measure(ctx, bin, dir, eng.URI(), database, format, file, c)
		if err != nil {
			return fmt.Errorf("%s: %w", format, err)
		}
		results = append(results, r)
		fmt.Printf("%s: %d bytes, idle %s, peak growth upload %s, preview %s, execute %s\n", r.format, r.size, mib(r.idleKB),
			mib(r.uploadKB-r.idleKB), mib(r.previewKB-r.idleKB), mib(r.runKB-r.idleKB))
	}
	fmt.Println()

	limit := "GOMEMLIMIT not set"
	if c.gomemlimit != "" {
		limit = "GOMEMLIMIT=" + c.gomemlimit
	}
	fmt.Printf("peak resident memory of erasured (a child process; the embedded engine runs outside it; %s): %d rows per file, %d profiles seeded\n\n", limit, c.rows, c.profiles)
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "file\tbytes\tidle RSS\tgrowth: upload\tpreview\texecute\ttime: upload\tpreview\texecute\t")
	for _, r := range results {
		fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.format, r.size, mib(r.idleKB),
			mib(r.uploadKB-r.idleKB), mib(r.previewKB-r.idleKB), mib(r.runKB-r.idleKB),
			secs(r.upload), secs(r.preview), secs(r.run))
	}
	w.Flush()
	fmt.Println("\ntarget: peak RSS growth <= 64 MiB over the idle server")
	for _, r := range results {
		fmt.Printf("%s report: %s\n", r.format, r.report)
	}
	return nil
}

func mib(kb int64) string         { return fmt.Sprintf("%.1f MiB", float64(kb)/1024) }
func secs(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }

// memoryFile writes the file of the given format with rows rows, the
// first of them a header, and returns its bytes. Row i (from 1) has the
// address person<i-1>@example.com, so the first rows match the seeded
// profiles and the rest match nothing; every value is distinct and valid,
// the most the duplicate check has to remember.
func memoryFile(format string, rows int, dir string) ([]byte, error) {
	rng := rand.New(rand.NewPCG(5, 6))
	switch format {
	case "csv":
		// About 50 bytes a row: 1,048,576 rows make about 50 MB, just
		// under the 50 MiB limit.
		firstNames := []string{"Anna", "Erik", "Maria", "Lars", "Karin", "Johan", "Eva", "Anders", "Sofia", "Mohammed"}
		var b bytes.Buffer
		b.WriteString("Email,Phone,First name,Country\n")
		for i := range rows - 1 {
			fmt.Fprintf(&b, "person%07d@example.com,+4670%07d,%s,SE\n", i, i, firstNames[rng.IntN(len(firstNames))])
		}
		return b.Bytes(), nil
	case "xlsx":
		// A sheet of short rows deflates to about 25 bytes a row (the row
		// numbers in every cell reference are what does not compress); a
		// column of random 26-byte ids (as a CRM export has) brings
		// 1,048,576 rows to about 50 MB, while the sheet's XML (245 MB)
		// stays under the 256 MiB a sheet may unpack to.
		f := excelize.NewFile()
		defer f.Close()
		sw, err := f.NewStreamWriter("Sheet1")
		if err != nil {
			return nil, err
		}
		if err := sw.SetRow("A1", []any{"Email", "Customer ID", "Phone"}); err != nil {
			return nil, err
		}
		const idBytes = 26
		id := func() string {
			var b [idBytes]byte
			for i := range b {
				b[i] = byte(rng.UintN(256))
			}
			return hex.EncodeToString(b[:])
		}
		for i := range rows - 1 {
			cell, _ := excelize.CoordinatesToCellName(1, i+2)
			if err := sw.SetRow(cell, []any{fmt.Sprintf("person%07d@example.com", i), id(), 46700000000 + i}); err != nil {
				return nil, err
			}
		}
		if err := sw.Flush(); err != nil {
			return nil, err
		}
		path := filepath.Join(dir, "memory.xlsx")
		if err := f.SaveAs(path); err != nil {
			return nil, err
		}
		return os.ReadFile(path)
	}
	return nil, fmt.Errorf("unknown format %q: use csv or xlsx", format)
}

// measure starts a fresh erasured and takes one file through it.
func measure(ctx context.Context, bin, dir, uri, database, format string, file []byte, c memConfig) (memResult, error) {
	r := memResult{format: format, size: int64(len(file))}
	auditKey := make([]byte, 32)
	_, _ = crand.Read(auditKey)
	if err := os.WriteFile(filepath.Join(dir, "audit-key"), []byte(hex.EncodeToString(auditKey)), 0o600); err != nil {
		return r, err
	}
	tmp := filepath.Join(dir, "tmp-"+format)
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return r, err
	}
	// The token comes first, so the key is created here and the server,
	// given the same -dev-key, trusts it.
	devKey := filepath.Join(dir, "dev-jwt-key.pem")
	out, err := exec.Command(bin, "token", "-create-key", "-dev-key", devKey, "-account", "bench", "-role", "OWNER", "-kind", "service", "-subject", "bench").Output()
	if err != nil {
		return r, fmt.Errorf("erasured token: %w", err)
	}
	token := strings.TrimSpace(string(out))

	addr, err := freeAddr()
	if err != nil {
		return r, err
	}
	args := []string{"-addr", addr, "-mongodb-uri", uri, "-database", database, "-write-majority=false",
		"-dev-key", devKey, "-audit-key-file", filepath.Join(dir, "audit-key"), "-workers", "1", "-log-level", "warn"}
	var adminAddr string
	if c.heapProfiles != "" {
		if adminAddr, err = freeAddr(); err != nil {
			return r, err
		}
		args = append(args, "-metrics-addr", adminAddr)
	}
	cmd := exec.Command(bin, args...)
	// The service copies uploads to the temporary directory while it reads them.
	// erasured runs with the Go runtime's defaults, whatever this process
	// was given, unless -memory-gomemlimit says otherwise.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GOGC=") && !strings.HasPrefix(kv, "GOMEMLIMIT=") && !strings.HasPrefix(kv, "TMPDIR=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "TMPDIR="+tmp)
	if c.gomemlimit != "" {
		cmd.Env = append(cmd.Env, "GOMEMLIMIT="+c.gomemlimit)
	}
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return r, err
	}
	defer func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	}()
	pid := cmd.Process.Pid

	api := erasurev1connect.NewErasureServiceClient(&http.Client{Transport: bearer(token)}, "http://"+addr)
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := api.ListJobs(ctx, connect.NewRequest(&erasurev1.ListJobsRequest{AccountId: "bench"}))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return r, fmt.Errorf("erasured did not answer: %w", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // the first sweep and queue poll pass
	if r.idleKB, err = procStatus(pid, "VmRSS"); err != nil {
		return r, err
	}

	phase := func(name string, peak *int64, took *time.Duration, f func() error) error {
		if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
			return fmt.Errorf("reset peak RSS: %w", err)
		}
		if c.heapProfiles != "" {
			stop := watchHeap(pid, adminAddr, filepath.Join(c.heapProfiles, format+"-"+name+".heap.pb.gz"))
			defer stop()
		}
		start := time.Now()
		if err := f(); err != nil {
			return err
		}
		*took = time.Since(start)
		v, err := procStatus(pid, "VmHWM")
		*peak = v
		return err
	}

	var id string
	err = phase("upload", &r.uploadKB, &r.upload, func() error {
		up, err := api.CreateUpload(ctx, connect.NewRequest(&erasurev1.CreateUploadRequest{Metadata: &erasurev1.UploadMetadata{AccountId: "bench", Filename: "memory." + format}}))
		if err != nil {
			return err
		}
		id = up.Msg.GetUpload().GetUploadId()
		const chunk = 1 << 20
		for off := 0; off < len(file); off += chunk {
			end := min(off+chunk, len(file))
			if _, err := api.UploadChunk(ctx, connect.NewRequest(&erasurev1.UploadChunkRequest{AccountId: "bench", UploadId: id, Offset: int64(off), Data: file[off:end], Last: end == len(file)})); err != nil {
				return fmt.Errorf("upload at %d: %w", off, err)
			}
		}
		return nil
	})
	if err != nil {
		return r, err
	}

	src := &erasurev1.FileSource{UploadId: id, Column: &erasurev1.FileSource_ColumnName{ColumnName: "Email"}}
	spec := &erasurev1.DeletionSpec{IdentifierType: erasurev1.IdentifierType_IDENTIFIER_TYPE_EMAIL}
	err = phase("preview", &r.previewKB, &r.preview, func() error {
		_, err := api.PreviewDeletion(ctx, connect.NewRequest(&erasurev1.PreviewDeletionRequest{AccountId: "bench", Source: src, Spec: spec}))
		return err
	})
	if err != nil {
		return r, fmt.Errorf("preview: %w", err)
	}

	err = phase("execute", &r.runKB, &r.run, func() error {
		stream, err := api.ExecuteDeletion(ctx, connect.NewRequest(&erasurev1.ExecuteDeletionRequest{AccountId: "bench", Source: src, Spec: spec}))
		if err != nil {
			return err
		}
		var last *erasurev1.Job
		for stream.Receive() {
			last = stream.Msg().GetJob()
		}
		if err := stream.Err(); err != nil {
			return err
		}
		if last.GetState() != erasurev1.JobState_JOB_STATE_SUCCEEDED {
			return fmt.Errorf("job ended %v: %s", last.GetState(), last.GetError())
		}
		c := last.GetCounts()
		r.report = fmt.Sprintf("rows %d, deleted %d, not found %d, invalid %d, duplicate %d", c.GetRows(), c.GetDeleted(), c.GetNotFound(), c.GetInvalid(), c.GetDuplicate())
		return nil
	})
	if err != nil {
		return r, fmt.Errorf("execute: %w", err)
	}
	return r, nil
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// watchHeap samples the resident set of process pid every 200 ms and, each
// time it is the highest yet, fetches the process's heap profile from its
// admin listener; stop writes the last one fetched (the profile at the
// phase's peak, as of the collection before it) to path.
func watchHeap(pid int, adminAddr, path string) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		var top int64
		var profile []byte
		defer func() {
			if profile != nil {
				if err := os.WriteFile(path, profile, 0o644); err != nil {
					fmt.Fprintln(os.Stderr, "heap profile:", err)
				}
			}
		}()
		for {
			select {
			case <-done:
				return
			case <-time.After(200 * time.Millisecond):
			}
			rss, err := procStatus(pid, "VmRSS")
			if err != nil || rss <= top+1024 {
				continue
			}
			top = rss
			res, err := http.Get("http://" + adminAddr + "/debug/pprof/heap")
			if err != nil {
				continue
			}
			if b, err := io.ReadAll(res.Body); err == nil && res.StatusCode == http.StatusOK {
				profile = b
			}
			res.Body.Close()
		}
	}()
	return func() { close(done); <-finished }
}

// procStatus returns a field of /proc/<pid>/status given in kB.
func procStatus(pid int, field string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ":")
		if ok && name == field {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, errors.New(field + " not found in /proc/<pid>/status")
}

// memoryFlags registers the flags of -memory.
func memoryFlags(c *memConfig) {
	flag.IntVar(&c.rows, "memory-rows", 1<<20, "with -memory: rows of each file, the header included (1,048,576 is the most a sheet holds)")
	flag.IntVar(&c.profiles, "memory-profiles", 1000, "with -memory: profiles seeded; the first rows of each file match them")
	flag.StringVar(&c.erasured, "erasured", "", "with -memory: the erasured binary to measure (default: build ./cmd/erasured)")
	flag.StringVar(&c.formats, "memory-formats", "csv,xlsx", "with -memory: the files to measure, in order")
	flag.StringVar(&c.gomemlimit, "memory-gomemlimit", "", "with -memory: GOMEMLIMIT for erasured, such as 96MiB (default: none, as erasured runs)")
	flag.BoolVar(&c.keep, "memory-keep", false, "with -memory: keep the temporary directory (files, engine data)")
	flag.StringVar(&c.heapProfiles, "memory-heap-profiles", "", "with -memory: write to this `directory` each phase's heap profile at its peak (inspect with go tool pprof)")
}
