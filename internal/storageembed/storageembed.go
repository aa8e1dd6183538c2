// Package storageembed runs FerretDB inside the process as a MongoDB
// wire-protocol server backed by SQLite files in a directory. It is the
// zero-setup default store for `make run`, demos and tests; production points
// MONGODB_URI at a real MongoDB instead.
package storageembed

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// Server is a running embedded engine.
type Server struct {
	uri    string
	cancel context.CancelFunc
	done   chan struct{}
}

// Start starts the engine with its data under dir (created if missing) and
// returns once it accepts connections. logger receives the engine's own
// logs; it logs expected duplicate-key errors at ERROR level, so callers pass
// a logger that keeps only what they want to see.
func Start(dir string, logger *slog.Logger) (*Server, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("embedded store: %w", err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("embedded store: %w", err)
	}
	f, err := ferretdb.New(&ferretdb.Config{
		// A Unix socket keeps the store off the network: nothing but this
		// process (and its owner) can reach it.
		Listener:  ferretdb.ListenerConfig{Unix: filepath.Join(abs, "mongo.sock")},
		Handler:   "sqlite",
		SQLiteURL: "file:" + abs + "/",
		Logger:    logger,
	})
	if err != nil {
		return nil, fmt.Errorf("embedded store: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = f.Run(ctx)
	}()
	s := &Server{cancel: cancel, done: done}
	// MongoDBURI needs the listener, which Run creates; wait for the socket.
	sock := filepath.Join(abs, "mongo.sock")
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			s.Close()
			return nil, fmt.Errorf("embedded store: socket %s did not appear", sock)
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.uri = f.MongoDBURI()
	return s, nil
}

// URI is the connection string for the MongoDB driver.
func (s *Server) URI() string { return s.uri }

// Close stops the engine and waits for it to release its files.
func (s *Server) Close() {
	s.cancel()
	<-s.done
}
