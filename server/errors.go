package server

import (
	"context"
	"errors"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"

	"github.com/erasure-dev/erasure/internal/deletion"
)

// errorDomain is the ErrorInfo domain of every error the service sends.
const errorDomain = "erasure.v1"

// statusError is a status with machine-readable details for programs to
// branch on (the reasons are listed in proto/erasure/v1/erasure.proto): a
// google.rpc.ErrorInfo with a stable reason and metadata, and, when one
// request field is at fault, a google.rpc.BadRequest naming it.
func statusError(code connect.Code, msg, reason, field string, meta map[string]string) *connect.Error {
	ce := connect.NewError(code, errors.New(msg))
	if d, err := connect.NewErrorDetail(&errdetails.ErrorInfo{Reason: reason, Domain: errorDomain, Metadata: meta}); err == nil {
		ce.AddDetail(d)
	}
	if field != "" {
		bad := &errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: field, Description: msg}}}
		if d, err := connect.NewErrorDetail(bad); err == nil {
			ce.AddDetail(d)
		}
	}
	return ce
}

// toStatus maps a domain error to a status, the one place that does. The
// message of an unexpected error stays in the server log; the client gets a
// safe one.
func (s *Server) toStatus(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	var ce *connect.Error
	if errors.As(err, &ce) {
		return err
	}
	var de *deletion.Error
	if errors.As(err, &de) {
		code := map[deletion.ErrorKind]connect.Code{
			deletion.Invalid:            connect.CodeInvalidArgument,
			deletion.NotFound:           connect.CodeNotFound,
			deletion.FailedPrecondition: connect.CodeFailedPrecondition,
			deletion.TooLarge:           connect.CodeResourceExhausted,
			deletion.Denied:             connect.CodePermissionDenied,
			deletion.Exists:             connect.CodeAlreadyExists,
			deletion.Busy:               connect.CodeUnavailable,
		}[de.Kind]
		if code == 0 {
			code = connect.CodeInternal
		}
		return statusError(code, de.Msg, de.ReasonOrDefault(), de.Field, de.Meta)
	}
	switch {
	case errors.Is(err, context.Canceled):
		return statusError(connect.CodeCanceled, "the call was cancelled", "CANCELLED", "", nil)
	case errors.Is(err, context.DeadlineExceeded):
		return statusError(connect.CodeDeadlineExceeded, "the call ran out of time; jobs keep running: use WatchJob to follow one", "DEADLINE_EXCEEDED", "", nil)
	}
	s.logger.ErrorContext(ctx, "internal error", "error", err)
	return statusError(connect.CodeInternal, "internal error; try again, and report it if it persists", "INTERNAL", "", nil)
}

// invalid refuses a request whose field is malformed.
func invalid(msg, field string) error {
	return statusError(connect.CodeInvalidArgument, msg, "INVALID_REQUEST", field, nil)
}

// clip cuts a value a caller sent to a short prefix, for echoing it.
func clip(s string) string {
	const max = 40
	if r := []rune(s); len(r) > max {
		return string(r[:max]) + "…"
	}
	return s
}
