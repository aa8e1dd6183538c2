package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"connectrpc.com/grpchealth"

	"github.com/erasure-dev/erasure/gen/erasure/v1/erasurev1connect"
)

// Health is the service's readiness, as gRPC/Connect health
// (grpc.health.v1, for the whole server "" and for erasure.v1) and as the
// HTTP endpoints /readyz and /healthz report it. It is SERVING while the
// store answers and the server is not shutting down.
type Health struct {
	checker *grpchealth.StaticChecker
	mu      sync.Mutex
	// why is why it is not serving; "" when it is.
	why string
}

// NewHealth returns a Health that is serving.
func NewHealth() *Health {
	return &Health{checker: grpchealth.NewStaticChecker(erasurev1connect.ErasureServiceName)}
}

// Set records whether the service is ready, and why not.
func (h *Health) Set(ready bool, why string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	status := grpchealth.StatusServing
	if !ready {
		status = grpchealth.StatusNotServing
	} else {
		why = ""
	}
	h.why = why
	h.checker.SetStatus("", status)
	h.checker.SetStatus(erasurev1connect.ErasureServiceName, status)
}

// notReady returns why the service is not ready, or "".
func (h *Health) notReady() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.why
}

// storeDown is why the service is not ready while pings fail.
const storeDown = "the store does not answer"

// Watch pings the store every interval until ctx ends, turning NOT_SERVING
// when a ping fails (or takes longer than the interval) and SERVING again
// when one succeeds, and logs each change.
func (h *Health) Watch(ctx context.Context, logger *slog.Logger, ping func(context.Context) error, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, interval)
		err := ping(pctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		// Only the store's own verdict is changed here: a server shutting
		// down stays not ready.
		was := h.notReady()
		switch {
		case err != nil && was == "":
			logger.Warn("not ready: "+storeDown, "error", err)
			h.Set(false, storeDown)
		case err == nil && was == storeDown:
			logger.Info("ready again: the store answers")
			h.Set(true, "")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// readyz answers 200 "ready" or 503 with the reason: for load balancers and
// orchestrators, which stop sending calls to an instance that is not ready.
func (h *Health) readyz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if why := h.notReady(); why != "" {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "not ready: %s\n", why)
		return
	}
	fmt.Fprintln(w, "ready")
}

// healthz answers 200 while the process serves HTTP: liveness.
func healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "ok")
}
