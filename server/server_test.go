package server_test

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/erasure-dev/erasure/client"
	erasurev1 "github.com/erasure-dev/erasure/gen/erasure/v1"
	"github.com/erasure-dev/erasure/gen/erasure/v1/erasurev1connect"
	"github.com/erasure-dev/erasure/internal/auth"
	"github.com/erasure-dev/erasure/internal/deletion"
	"github.com/erasure-dev/erasure/internal/identifier"
	"github.com/erasure-dev/erasure/internal/profile"
	"github.com/erasure-dev/erasure/internal/storagetest"
	"github.com/erasure-dev/erasure/internal/testkit"
	"github.com/erasure-dev/erasure/server"
	"github.com/erasure-dev/erasure/storage"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

// env is a running server on the test's own database, with a grpc-go client
// (what internal services use, through package client) and a Connect client (what the web frontend's
// Connect-Web speaks, over HTTP/1.1).
type env struct {
	store   *storage.Store
	svc     *deletion.Service
	grpc    erasurev1.ErasureServiceClient
	connect erasurev1connect.ErasureServiceClient
	// stop shuts the server and its workers down (the test's cleanup also does).
	stop context.CancelFunc
	// baseURL is the server's address for more clients.
	baseURL string
	// key signs the test's tokens.
	key ed25519.PrivateKey
	// logs holds everything the server and its workers logged, at debug
	// level and up.
	logs *testkit.SyncBuffer
}

// token mints a token for the account and role.
func (e *env) token(t *testing.T, account string, role auth.Role) string {
	t.Helper()
	tok, err := auth.Sign(e.key, auth.Principal{Account: account, Subject: "tester", Kind: auth.KindUser, Role: role}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// client returns a Connect client that calls with a token for p.
func (e *env) client(t *testing.T, p auth.Principal) erasurev1connect.ErasureServiceClient {
	t.Helper()
	tok, err := auth.Sign(e.key, p, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return erasurev1connect.NewErasureServiceClient(&http.Client{Transport: bearerTransport(tok)}, e.baseURL)
}

// as returns a Connect client that calls with a token for the account and role.
func (e *env) as(t *testing.T, account string, role auth.Role) erasurev1connect.ErasureServiceClient {
	return erasurev1connect.NewErasureServiceClient(&http.Client{Transport: bearerTransport(e.token(t, account, role))}, e.baseURL)
}

// bearerTransport adds a bearer token to every request, as a browser's
// fetch with an Authorization header does.
type bearerTransport string

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+string(b))
	return http.DefaultTransport.RoundTrip(r)
}

func newEnv(t *testing.T, cfg deletion.Config) *env {
	t.Helper()
	if cfg.BatchSize == 0 {
		cfg.BatchSize = 5
	}
	cfg.QueuePoll = 50 * time.Millisecond
	cfg.WatchPoll = 50 * time.Millisecond
	cfg.TempDir = t.TempDir()
	store := storagetest.New(t, nil)
	logs := &testkit.SyncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	svc := deletion.New(logger, store, cfg)
	pub, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	verifier := auth.NewVerifier([]crypto.PublicKey{pub}, nil)

	ctx, cancel := context.WithCancel(context.Background())
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{}, 2)
	go func() { _ = svc.Run(ctx); done <- struct{}{} }()
	go func() {
		_ = server.Serve(ctx, l, server.New(ctx, logger, svc, verifier, server.Options{Reflection: true}), 0, time.Second)
		done <- struct{}{}
	}()

	e := &env{store: store, svc: svc, stop: cancel, baseURL: "http://" + l.Addr().String(), key: key, logs: logs}
	grpcClient, conn, err := client.Dial(l.Addr().String(), client.Options{Logger: logger, Token: e.token(t, "acme", auth.Owner)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		cancel()
		<-done
		<-done
	})
	e.grpc = grpcClient
	e.connect = e.as(t, "acme", auth.Owner)
	return e
}

func newProfile(account string, keyType identifier.Type, value string, sections ...string) profile.Profile {
	p := profile.Profile{AccountID: account, Key: profile.Key{Type: keyType, Value: value}}
	for _, s := range sections {
		p.Sections = append(p.Sections, profile.Section{
			SectionID: s,
			Tags:      []string{"vip"},
			Events:    []profile.Event{{Type: "click", At: time.Now()}},
		})
	}
	return p
}

func (e *env) seed(t *testing.T, ps ...profile.Profile) []profile.Profile {
	t.Helper()
	if err := e.store.InsertProfiles(context.Background(), ps); err != nil {
		t.Fatal(err)
	}
	return ps
}

// exists reports whether the account still has a profile with this key.
func (e *env) exists(t *testing.T, account string, keyType identifier.Type, value string) bool {
	t.Helper()
	ok, err := e.store.ProfileExists(context.Background(), account, profile.Key{Type: keyType, Value: value})
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// uploadGRPC sends a file with the client-streaming RPC in small chunks.
func (e *env) uploadGRPC(t *testing.T, account, filename string, data []byte) string {
	t.Helper()
	stream, err := e.grpc.UploadFile(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	md := &erasurev1.UploadFileRequest{Payload: &erasurev1.UploadFileRequest_Metadata{
		Metadata: &erasurev1.UploadMetadata{AccountId: account, Filename: filename}}}
	if err := stream.Send(md); err != nil {
		t.Fatal(err)
	}
	for len(data) > 0 {
		n := min(len(data), 1000)
		if err := stream.Send(&erasurev1.UploadFileRequest{Payload: &erasurev1.UploadFileRequest_Chunk{Chunk: data[:n]}}); err != nil {
			t.Fatal(err)
		}
		data = data[n:]
	}
	res, err := stream.CloseAndRecv()
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	if !res.GetUpload().GetComplete() {
		t.Fatalf("upload not complete: %v", res.GetUpload())
	}
	return res.GetUpload().GetUploadId()
}

// uploadChunks sends a file the way a browser does: unary chunks.
func (e *env) uploadChunks(t *testing.T, account, filename string, data []byte, chunk int) string {
	t.Helper()
	ctx := context.Background()
	res, err := e.connect.CreateUpload(ctx, connect.NewRequest(&erasurev1.CreateUploadRequest{
		Metadata: &erasurev1.UploadMetadata{AccountId: account, Filename: filename}}))
	if err != nil {
		t.Fatal(err)
	}
	id := res.Msg.GetUpload().GetUploadId()
	for off := 0; off < len(data); off += chunk {
		end := min(off+chunk, len(data))
		_, err := e.connect.UploadChunk(ctx, connect.NewRequest(&erasurev1.UploadChunkRequest{
			AccountId: account, UploadId: id, Offset: int64(off), Data: data[off:end], Last: end == len(data)}))
		if err != nil {
			t.Fatalf("chunk at %d: %v", off, err)
		}
	}
	return id
}

// execute runs ExecuteDeletion over Connect and returns every snapshot.
func (e *env) execute(t *testing.T, req *erasurev1.ExecuteDeletionRequest) []*erasurev1.Job {
	t.Helper()
	stream, err := e.connect.ExecuteDeletion(context.Background(), connect.NewRequest(req))
	if err != nil {
		t.Fatal(err)
	}
	var jobs []*erasurev1.Job
	for stream.Receive() {
		jobs = append(jobs, stream.Msg().GetJob())
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("execute: %v", err)
	}
	if len(jobs) == 0 {
		t.Fatal("execute sent nothing")
	}
	return jobs
}

func (e *env) outcomes(t *testing.T, account, jobID string) []*erasurev1.RowOutcome {
	t.Helper()
	stream, err := e.connect.ListRowOutcomes(context.Background(), connect.NewRequest(&erasurev1.ListRowOutcomesRequest{AccountId: account, JobId: jobID}))
	if err != nil {
		t.Fatal(err)
	}
	var rows []*erasurev1.RowOutcome
	for stream.Receive() {
		rows = append(rows, stream.Msg().GetRows()...)
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

func emailSpec() *erasurev1.DeletionSpec {
	return &erasurev1.DeletionSpec{IdentifierType: erasurev1.IdentifierType_IDENTIFIER_TYPE_EMAIL}
}

// streamErr reads a server stream to its end and returns how it ended: err
// when the call could not start, else the stream's error.
func streamErr(s interface {
	Receive() bool
	Err() error
}, err error) error {
	if err != nil {
		return err
	}
	for s.Receive() {
	}
	return s.Err()
}

func wantCode(t *testing.T, err error, code connect.Code, contains string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v", code)
	}
	if got := connect.CodeOf(err); got != code {
		t.Fatalf("code = %v (%v), want %v", got, err, code)
	}
	var ce *connect.Error
	if contains != "" && (!errors.As(err, &ce) || !containsFold(ce.Message(), contains)) {
		t.Fatalf("message %q does not say %q", err, contains)
	}
}
