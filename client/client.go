// Package client connects Go services to erasured over gRPC with the
// generated grpc-go stubs and the go-grpc-middleware interceptors a caller
// wants: unary calls that fail with UNAVAILABLE (the server was not reached
// or is restarting) are retried with backoff, unary calls get a default
// timeout, and every call is logged in one line without its payload (payloads
// hold identifiers).
//
// Streams are not retried: a broken progress stream is resumed with WatchJob,
// and an upload stream by uploading again or with UploadChunk.
//
// Every call that starts a job gets a request_id when it has none (a random
// one, written into the request message before the first attempt), so the
// retries above, and a caller that sends the same message again after an
// error, get the job the first attempt started instead of a second one.
package client

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/retry"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/timeout"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	erasurev1 "github.com/erasure-dev/erasure/gen/erasure/v1"
)

// Options configure Dial. Zero fields take the defaults shown.
type Options struct {
	// Logger receives one line per call; nil logs nothing.
	Logger *slog.Logger
	// Timeout bounds each unary call that has no earlier deadline
	// (default 2 minutes: a preview reads a whole file).
	Timeout time.Duration
	// MaxRetries bounds the retries of a unary call (default 6: with the
	// backoff, about ten seconds, long enough for a server to restart).
	MaxRetries uint
	// Token is the bearer token sent with every call (a JWT the server
	// trusts; see package auth).
	Token string
	// DialOptions are added to the defaults (insecure transport credentials
	// for a local or mesh-internal h2c server).
	DialOptions []grpc.DialOption
}

// bearer sends the token with every call. The transport is h2c inside a
// mesh or on localhost, so it does not insist on TLS.
type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

func (bearer) RequireTransportSecurity() bool { return false }

// Dial returns a client for erasured at target and the connection to close
// when done.
func Dial(target string, opts Options) (erasurev1.ErasureServiceClient, *grpc.ClientConn, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = 2 * time.Minute
	}
	if opts.MaxRetries == 0 {
		opts.MaxRetries = 6
	}
	unary := []grpc.UnaryClientInterceptor{
		// Outermost: the retries below reuse the id.
		func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			setRequestID(req)
			return invoker(ctx, method, req, reply, cc, opts...)
		},
		timeout.UnaryClientInterceptor(opts.Timeout),
		retry.UnaryClientInterceptor(
			retry.WithCodes(codes.Unavailable),
			retry.WithMax(opts.MaxRetries),
			retry.WithBackoff(retry.BackoffExponentialWithJitterBounded(200*time.Millisecond, 0.2, 5*time.Second)),
		),
	}
	stream := []grpc.StreamClientInterceptor{
		func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			s, err := streamer(ctx, desc, cc, method, opts...)
			if err != nil {
				return nil, err
			}
			return requestIDStream{s}, nil
		},
	}
	if opts.Logger != nil {
		l := logger(opts.Logger)
		logOpts := []logging.Option{logging.WithLogOnEvents(logging.FinishCall)}
		unary = append([]grpc.UnaryClientInterceptor{logging.UnaryClientInterceptor(l, logOpts...)}, unary...)
		stream = append(stream, logging.StreamClientInterceptor(l, logOpts...))
	}
	dial := []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithChainUnaryInterceptor(unary...),
		grpc.WithChainStreamInterceptor(stream...),
	}
	if opts.Token != "" {
		dial = append(dial, grpc.WithPerRPCCredentials(bearer(opts.Token)))
	}
	dial = append(dial, opts.DialOptions...)
	conn, err := grpc.NewClient(target, dial...)
	if err != nil {
		return nil, nil, err
	}
	return erasurev1.NewErasureServiceClient(conn), conn, nil
}

// logger adapts slog to the middleware's logging interface.
func logger(l *slog.Logger) logging.Logger {
	return logging.LoggerFunc(func(ctx context.Context, level logging.Level, msg string, fields ...any) {
		l.Log(ctx, slog.Level(level), msg, fields...)
	})
}

// setRequestID gives a request message with an empty request_id field a
// new random id, in place.
func setRequestID(m any) {
	pm, ok := m.(proto.Message)
	if !ok {
		return
	}
	r := pm.ProtoReflect()
	f := r.Descriptor().Fields().ByName("request_id")
	if f == nil || f.Kind() != protoreflect.StringKind || r.Get(f).String() != "" {
		return
	}
	b := make([]byte, 16)
	rand.Read(b)
	r.Set(f, protoreflect.ValueOfString(hex.EncodeToString(b)))
}

// requestIDStream sets the request id of the messages a stream sends.
type requestIDStream struct{ grpc.ClientStream }

func (s requestIDStream) SendMsg(m any) error {
	setRequestID(m)
	return s.ClientStream.SendMsg(m)
}
