package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net/http"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/erasure-dev/erasure/internal/deletion"
)

// RequestIDHeader carries a call's request id: taken from the caller when it
// sends one (gRPC metadata "x-request-id" arrives as this header), made up
// otherwise, and returned in the response, so that a caller's log line and
// the service's can be matched.
const RequestIDHeader = "X-Request-Id"

type requestIDKey struct{}

// withRequestID gives every request a request id (see RequestIDHeader).
func withRequestID(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(RequestIDHeader)
		// The same rule as a request_id: safe to log, nothing else inside.
		if !deletion.ValidRequestID(id) {
			id = newRequestID()
		}
		w.Header().Set(RequestIDHeader, id)
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id)))
	})
}

// requestIDFrom returns the request id of a call's context, or "".
func requestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

func newRequestID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// requestOf identifies a call that starts a job, for deletion.Request: its
// request_id, and a hash of the rest of the message (request_id and
// account_id left out, deterministic encoding), so that a retry matches and
// another request under the same id does not.
func requestOf(m proto.Message, id string) deletion.Request {
	if id == "" {
		return deletion.Request{}
	}
	c := proto.Clone(m).ProtoReflect()
	for _, name := range []protoreflect.Name{"request_id", "account_id"} {
		if f := c.Descriptor().Fields().ByName(name); f != nil {
			c.Clear(f)
		}
	}
	b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(c.Interface())
	sum := sha256.Sum256(b)
	return deletion.Request{ID: id, Fingerprint: sum[:]}
}
