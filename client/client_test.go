package client_test

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/erasure-dev/erasure/client"
	erasurev1 "github.com/erasure-dev/erasure/gen/erasure/v1"
	"github.com/erasure-dev/erasure/internal/auth"
	"github.com/erasure-dev/erasure/internal/deletion"
	"github.com/erasure-dev/erasure/internal/storagetest"
	"github.com/erasure-dev/erasure/server"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

// A call made while the server is still starting is retried until it
// answers; the answer's own error is not retried.
func TestRetriesUntilTheServerIsUp(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	store := storagetest.New(t, nil)
	svc := deletion.New(logger, store, deletion.Config{})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens yet

	pub, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	token, err := auth.Sign(key, auth.Principal{Account: "acme", Subject: "svc", Kind: auth.KindService, Role: auth.Admin}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c, conn, err := client.Dial(addr, client.Options{Logger: logger, Token: token})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		time.Sleep(300 * time.Millisecond)
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Error(err)
			return
		}
		_ = server.Serve(ctx, l, server.New(ctx, logger, svc, auth.NewVerifier([]crypto.PublicKey{pub}, nil), server.Options{Reflection: true}), 0, time.Second)
	}()
	_, err = c.GetJob(context.Background(), &erasurev1.GetJobRequest{AccountId: "acme", JobId: "0123456789abcdef01234567"})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("GetJob = %v, want NotFound from the server once it is up", err)
	}
}
