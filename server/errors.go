package server

import (
	"context"
	"errors"

	"connectrpc.com/connect"

	"github.com/erasure-dev/erasure/internal/deletion"
)

// errorf maps a domain error to a status, the one place that does. The
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
		}[de.Kind]
		if code == 0 {
			code = connect.CodeInternal
		}
		return connect.NewError(code, errors.New(de.Msg))
	}
	switch {
	case errors.Is(err, context.Canceled):
		return connect.NewError(connect.CodeCanceled, errors.New("the call was cancelled"))
	case errors.Is(err, context.DeadlineExceeded):
		return connect.NewError(connect.CodeDeadlineExceeded, errors.New("the call ran out of time; jobs keep running: use WatchJob to follow one"))
	}
	s.logger.ErrorContext(ctx, "internal error", "error", err)
	return connect.NewError(connect.CodeInternal, errors.New("internal error; try again, and report it if it persists"))
}

func invalid(msg string) error {
	return connect.NewError(connect.CodeInvalidArgument, errors.New(msg))
}
