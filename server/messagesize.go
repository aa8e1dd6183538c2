package server

import (
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"connectrpc.com/connect"

	"github.com/erasure-dev/erasure/gen/erasure/v1/erasurev1connect"
)

// messageTooLarge refuses a request message over MaxMessageBytes, saying
// how to send a large file instead. size is the message's, 0 when unknown.
func messageTooLarge(procedure string, size int64) *connect.Error {
	what := "a message"
	if size > 0 {
		what = fmt.Sprintf("this message has %d bytes,", size)
	}
	msg := fmt.Sprintf("%s over the limit of %d MiB for one message", what, MaxMessageBytes>>20)
	const readme = `see "Uploading a large file" in README.md for a grpcurl recipe`
	switch procedure {
	case erasurev1connect.ErasureServiceUploadFileProcedure:
		msg = fmt.Sprintf("%s: send the file in chunk messages of at most %d MiB each; %s", msg, MaxChunkBytes>>20, readme)
	case erasurev1connect.ErasureServiceUploadChunkProcedure:
		msg = fmt.Sprintf("%s: send the file in UploadChunk calls of at most %d MiB of data each; %s", msg, MaxChunkBytes>>20, readme)
	default:
		msg += ": split the request into smaller ones"
	}
	return statusError(connect.CodeResourceExhausted, msg, "MESSAGE_TOO_LARGE", "",
		map[string]string{"limit_bytes": strconv.Itoa(MaxMessageBytes), "chunk_limit_bytes": strconv.Itoa(MaxChunkBytes)})
}

// limitMessageSize refuses a request message over MaxMessageBytes with
// RESOURCE_EXHAUSTED and advice, for every protocol. connect-go enforces the
// same limit (WithReadMaxBytes) with a bare message, and for unary calls
// while decoding the request, before any interceptor or handler runs
// (connectrpc/connect-go#584); an error from a custom Codec would reach the
// client as INVALID_ARGUMENT. But connect-go passes on as is a
// *connect.Error that the request body returns, so the check runs here, in
// the body. gRPC, gRPC-Web and Connect streaming requests are
// length-prefixed messages (a 5-byte prefix: flags and a big-endian uint32
// size; connect-go checks that size before reading a message); a Connect
// unary request is one message, the whole body. The checks are connect-go's,
// so its own never fires; a compressed message that inflates past the limit
// is refused by gzipLimit.
func limitMessageSize(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ct := r.Header.Get("Content-Type")
		switch {
		case strings.HasPrefix(ct, "application/grpc") || strings.HasPrefix(ct, "application/connect+"):
			r.Body = &envelopeLimit{body: r.Body, procedure: r.URL.Path}
		case r.Method == http.MethodPost:
			r.Body = &bodyLimit{body: r.Body, procedure: r.URL.Path}
		}
		next.ServeHTTP(w, r)
	})
}

// envelopeLimit reads length-prefixed messages and fails on the prefix of
// one over MaxMessageBytes. No read crosses a message boundary, so a
// refused prefix is never handed on.
type envelopeLimit struct {
	body      io.ReadCloser
	procedure string
	prefix    [5]byte
	// prefixRead counts the bytes of the current prefix read so far.
	prefixRead int
	// left is what remains of the current message after its prefix.
	left int64
	err  error
}

func (l *envelopeLimit) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if l.left > 0 {
		n, err := l.body.Read(p[:min(int64(len(p)), l.left)])
		l.left -= int64(n)
		return n, err
	}
	n, err := l.body.Read(p[:min(len(p), len(l.prefix)-l.prefixRead)])
	copy(l.prefix[l.prefixRead:], p[:n])
	l.prefixRead += n
	if l.prefixRead < len(l.prefix) {
		return n, err
	}
	l.prefixRead = 0
	l.left = int64(binary.BigEndian.Uint32(l.prefix[1:]))
	if l.left <= MaxMessageBytes {
		return n, err
	}
	// Read the message to its end, as connect-go does, so that an HTTP/1.1
	// client still writing it gets the answer rather than a reset.
	size := l.left
	_, _ = io.CopyN(io.Discard, l.body, l.left)
	l.err = messageTooLarge(l.procedure, size)
	return 0, l.err
}

func (l *envelopeLimit) Close() error { return l.body.Close() }

// bodyLimit fails once a body is over MaxMessageBytes.
type bodyLimit struct {
	body      io.ReadCloser
	procedure string
	read      int64
	err       error
}

func (l *bodyLimit) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	n, err := l.body.Read(p)
	l.read += int64(n)
	if l.read <= MaxMessageBytes {
		return n, err
	}
	rest, _ := io.Copy(io.Discard, l.body)
	l.err = messageTooLarge(l.procedure, l.read+rest)
	return n, l.err
}

func (l *bodyLimit) Close() error { return l.body.Close() }

// gzipLimit is connect-go's gzip decompressor (the only compression it
// accepts) refusing with advice a message that inflates past
// MaxMessageBytes; connect-go would refuse it too, without advice. The
// refusal passes through connect-go as is, like limitMessageSize's.
type gzipLimit struct {
	gzip.Reader
	procedure string
	read      int64
}

// gzipWithLimit replaces connect-go's gzip with gzipLimit, per procedure
// so that the advice fits the call.
func gzipWithLimit(spec connect.Spec) []connect.HandlerOption {
	return []connect.HandlerOption{
		connect.WithCompression("gzip", nil, nil), // remove the default, or "gzip" is announced twice
		connect.WithCompression("gzip",
			func() connect.Decompressor { return &gzipLimit{procedure: spec.Procedure} },
			func() connect.Compressor { return gzip.NewWriter(io.Discard) }),
	}
}

func (g *gzipLimit) Reset(r io.Reader) error {
	g.read = 0
	return g.Reader.Reset(r)
}

func (g *gzipLimit) Read(p []byte) (int, error) {
	n, err := g.Reader.Read(p)
	g.read += int64(n)
	if g.read > MaxMessageBytes {
		// Not inflated further to tell the size: it may be a gzip bomb.
		return n, messageTooLarge(g.procedure, 0)
	}
	return n, err
}
