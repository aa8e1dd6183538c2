// Package server is the transport: it serves erasure.v1 over gRPC, gRPC-Web
// and Connect on one port, with server reflection (grpcurl list/describe) and
// grpc.health.v1. Handlers are thin: they check the shape of a request, call
// the deletion package and map its errors to status codes in one place.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"

	"github.com/erasure-dev/erasure/gen/erasure/v1/erasurev1connect"
	"github.com/erasure-dev/erasure/internal/auth"
	"github.com/erasure-dev/erasure/internal/deletion"
	"github.com/erasure-dev/erasure/internal/metrics"
)

// MaxMessageBytes bounds one request message; one over it fails with
// RESOURCE_EXHAUSTED and advice to send a file in chunks of MaxChunkBytes.
const MaxMessageBytes = 8 << 20

// MaxChunkBytes is the chunk size clients are told to use: 4 MiB of file
// stays under MaxMessageBytes even as base64 in a JSON request (5.4 MiB),
// which is how Connect-Web sends bytes unless told to use binary.
const MaxChunkBytes = 4 << 20

// Server implements erasure.v1.ErasureService.
type Server struct {
	logger *slog.Logger
	svc    *deletion.Service
	// stopping ends when the server shuts down; progress streams then end
	// with UNAVAILABLE and advice to re-attach, instead of a broken stream.
	stopping context.Context
}

var _ erasurev1connect.ErasureServiceHandler = (*Server)(nil)

// Options configure New.
type Options struct {
	// Reflection serves gRPC server reflection (grpcurl list, describe).
	Reflection bool
	// Health is the readiness the health service, /readyz and /healthz
	// report; nil means always ready.
	Health *Health
	// Metrics records every call; nil records nothing.
	Metrics *metrics.Metrics
}

// New returns the HTTP handler serving the API, reflection and health.
// Every API call needs a bearer token that verifier accepts; health and
// reflection (which expose no data) do not. When stopping ends, open
// progress streams are closed with UNAVAILABLE.
func New(stopping context.Context, logger *slog.Logger, svc *deletion.Service, verifier *auth.Verifier, opts Options) http.Handler {
	health := opts.Health
	if health == nil {
		health = NewHealth()
	}
	s := &Server{logger: logger, svc: svc, stopping: stopping}
	handlerOpts := []connect.HandlerOption{
		// Logging sees every call, including refused ones; recovery
		// (WithRecover) is innermost.
		connect.WithInterceptors(&logInterceptor{logger: logger, metrics: opts.Metrics}, &authInterceptor{verifier: verifier}),
		connect.WithRecover(s.recover),
		connect.WithReadMaxBytes(MaxMessageBytes),
		connect.WithConditionalHandlerOptions(gzipWithLimit),
	}
	mux := http.NewServeMux()
	path, api := erasurev1connect.NewErasureServiceHandler(s, handlerOpts...)
	mux.Handle(path, limitMessageSize(api))
	if opts.Reflection {
		reflector := grpcreflect.NewStaticReflector(erasurev1connect.ErasureServiceName)
		mux.Handle(grpcreflect.NewHandlerV1(reflector))
		mux.Handle(grpcreflect.NewHandlerV1Alpha(reflector))
	}
	mux.Handle(grpchealth.NewHandler(health.checker))
	mux.HandleFunc("GET /readyz", health.readyz)
	mux.HandleFunc("GET /healthz", healthz)
	return withRequestID(mux)
}

// recover turns a panic in a handler into an Internal error and logs the
// stack (never the request: it may hold identifiers).
func (s *Server) recover(ctx context.Context, spec connect.Spec, _ http.Header, p any) error {
	s.logger.ErrorContext(ctx, "handler panicked", "procedure", spec.Procedure, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
	return statusError(connect.CodeInternal, "internal error", "INTERNAL", "", nil)
}

// Serve serves h on l over HTTP/1.1 and cleartext HTTP/2 (h2c, which gRPC
// clients use) until ctx ends; then it goes on serving for drain (while
// health says NOT_SERVING, so load balancers take the instance out) and
// shuts down, giving open calls up to grace to finish. Calls do not inherit
// ctx: a call in flight is finished, not cut off, when shutdown starts.
func Serve(ctx context.Context, l net.Listener, h http.Handler, drain, grace time.Duration) error {
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	srv := &http.Server{
		Handler:           h,
		Protocols:         &protocols,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	if drain > 0 {
		select {
		case err := <-errc:
			return err
		case <-time.After(drain):
		}
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		srv.Close()
	}
	return nil
}

// logInterceptor logs one line per call: request id, procedure, protocol,
// code, the refusal's reason, the caller's account and token subject (once
// the token was verified), the peer of a refused call, and the duration;
// and counts the call in the metrics. Requests and responses are never
// logged: they hold identifiers.
type logInterceptor struct {
	logger  *slog.Logger
	metrics *metrics.Metrics
}

// callInfo is what the interceptors inside the log interceptor learn about
// the caller, for its log line.
type callInfo struct {
	account, subject string
}

type callInfoKey struct{}

// noteCaller records the verified caller of a call for its log line.
func noteCaller(ctx context.Context, p *auth.Principal) {
	if info, ok := ctx.Value(callInfoKey{}).(*callInfo); ok {
		info.account, info.subject = p.Account, p.Subject
	}
}

func (i *logInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		start, info := time.Now(), &callInfo{}
		res, err := next(context.WithValue(ctx, callInfoKey{}, info), req)
		i.log(ctx, req.Spec().Procedure, req.Peer(), info, start, err)
		return res, err
	}
}

func (i *logInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (i *logInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		start, info := time.Now(), &callInfo{}
		err := next(context.WithValue(ctx, callInfoKey{}, info), conn)
		i.log(ctx, conn.Spec().Procedure, conn.Peer(), info, start, err)
		return err
	}
}

func (i *logInterceptor) log(ctx context.Context, procedure string, peer connect.Peer, info *callInfo, start time.Time, err error) {
	attrs := []any{"request_id", requestIDFrom(ctx), "procedure", procedure, "protocol", peer.Protocol}
	code := "ok"
	level := slog.LevelInfo
	if err != nil {
		c := connect.CodeOf(err)
		code = c.String()
		switch c {
		case connect.CodeInternal, connect.CodeUnknown:
			level = slog.LevelError
		case connect.CodeUnauthenticated, connect.CodePermissionDenied, connect.CodeNotFound:
			// A refusal: who asked, from where, and why, so that a probe can
			// be told from a typo (never an identifier: reasons are codes).
			level = slog.LevelWarn
			attrs = append(attrs, "peer", peer.Addr)
		}
		attrs = append(attrs, "code", code, "reason", reasonOf(err))
	} else {
		attrs = append(attrs, "code", code)
	}
	if info.subject != "" {
		attrs = append(attrs, "account_id", info.account, "subject", info.subject)
	}
	d := time.Since(start)
	attrs = append(attrs, "duration_ms", d.Milliseconds())
	i.logger.Log(ctx, level, "rpc", attrs...)
	i.metrics.RPC(procedure, code, d)
}

// reasonOf returns the reason of an error's ErrorInfo, or "".
func reasonOf(err error) string {
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return ""
	}
	for _, d := range ce.Details() {
		if v, err := d.Value(); err == nil {
			if info, ok := v.(*errdetails.ErrorInfo); ok {
				return info.GetReason()
			}
		}
	}
	return ""
}
