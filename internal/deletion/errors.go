package deletion

import (
	"errors"
	"fmt"
	"strings"

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
	// Exists: the request's id names another request (ALREADY_EXISTS).
	Exists
	// Busy: try again in a moment (UNAVAILABLE).
	Busy
)

// Error is a failure the caller can act on. Msg is a full sentence meant for
// the person using the service; it never holds an identifier from a file.
// Reason, Field and Meta are for programs: a stable reason (the list is in
// proto/erasure/v1/erasure.proto), the request field at fault, and values
// such as the column, the limit or the job id.
type Error struct {
	Kind   ErrorKind
	Msg    string
	Reason string
	// Field is the request field at fault, as the API names it
	// ("spec.identifier_type"); empty when the fault is not one field's.
	Field string
	Meta  map[string]string
}

func (e *Error) Error() string { return e.Msg }

// ReasonOrDefault is the error's reason, or one that says its kind.
func (e *Error) ReasonOrDefault() string {
	if e.Reason != "" {
		return e.Reason
	}
	return map[ErrorKind]string{Invalid: "INVALID_REQUEST", NotFound: "NOT_FOUND", FailedPrecondition: "FAILED_PRECONDITION",
		TooLarge: "LIMIT_EXCEEDED", Denied: "DENIED"}[e.Kind]
}

// because sets the error's reason and metadata (key, value pairs).
func (e *Error) because(reason string, kv ...string) *Error {
	e.Reason = reason
	for i := 0; i+1 < len(kv); i += 2 {
		if e.Meta == nil {
			e.Meta = map[string]string{}
		}
		e.Meta[kv[i]] = kv[i+1]
	}
	return e
}

// at names the request field at fault.
func (e *Error) at(field string) *Error {
	e.Field = field
	return e
}

func invalidf(format string, args ...any) *Error {
	return &Error{Kind: Invalid, Msg: fmt.Sprintf(format, args...)}
}

func preconditionf(format string, args ...any) *Error {
	return &Error{Kind: FailedPrecondition, Msg: fmt.Sprintf(format, args...)}
}

func tooLargef(format string, args ...any) *Error {
	return &Error{Kind: TooLarge, Msg: fmt.Sprintf(format, args...)}
}

// clip cuts a value a caller sent to a short prefix, for echoing it in a
// message: a 5,000-character cell must not come back whole.
func clip(s string) string {
	const max = 40
	if r := []rune(s); len(r) > max {
		return string(r[:max]) + "…"
	}
	return s
}

// notFound turns the store's ErrNotFound into an Error naming what was
// missing; other errors pass through.
func notFound(err error, what, id string) error {
	if errors.Is(err, storage.ErrNotFound) {
		if !storage.ValidID(id) {
			// Not an id at all: do not echo it, it may be anything a
			// caller pasted, an e-mail address included.
			return (&Error{Kind: NotFound, Msg: fmt.Sprintf("%s not found in this account: its id has 24 hexadecimal digits", what)}).
				because(strings.ToUpper(what) + "_NOT_FOUND")
		}
		return (&Error{Kind: NotFound, Msg: fmt.Sprintf("%s %q not found in this account", what, id)}).
			because(strings.ToUpper(what)+"_NOT_FOUND", what+"_id", id)
	}
	return err
}
