package deletion

import (
	"errors"
	"fmt"

	"github.com/erasure-dev/erasure/storage"
)

// ErrorKind classifies an Error for the transport, which maps it to a status code.
type ErrorKind int8

const (
	// Invalid: the request or the file is wrong; the message says how.
	Invalid ErrorKind = iota + 1
	// NotFound: no such upload, job or profile in the caller's account.
	NotFound
	// FailedPrecondition: the request is right but the state is not, for
	// example an upload that is not complete yet.
	FailedPrecondition
	// TooLarge: a size or count limit was exceeded.
	TooLarge
	// Denied: the account has not activated the feature the call needs.
	Denied
)

// Error is a failure the caller can act on. Msg is a full sentence meant for
// the person using the service; it never holds an identifier from a file.
type Error struct {
	Kind ErrorKind
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

func invalidf(format string, args ...any) error {
	return &Error{Kind: Invalid, Msg: fmt.Sprintf(format, args...)}
}

func preconditionf(format string, args ...any) error {
	return &Error{Kind: FailedPrecondition, Msg: fmt.Sprintf(format, args...)}
}

func tooLargef(format string, args ...any) error {
	return &Error{Kind: TooLarge, Msg: fmt.Sprintf(format, args...)}
}

// notFound turns the store's ErrNotFound into an Error naming what was
// missing; other errors pass through.
func notFound(err error, what, id string) error {
	if errors.Is(err, storage.ErrNotFound) {
		if !storage.ValidID(id) {
			// Not an id at all: do not echo it, it may be anything a
			// caller pasted, an e-mail address included.
			return &Error{Kind: NotFound, Msg: fmt.Sprintf("%s not found in this account: its id has 24 hexadecimal digits", what)}
		}
		return &Error{Kind: NotFound, Msg: fmt.Sprintf("%s %q not found in this account", what, id)}
	}
	return err
}
