package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// describe turns an error into what an operator reads: the service's own
// message, its reason and the fields it names, and for the codes that need
// it what to do next.
func describe(err error) string {
	if errors.Is(err, context.Canceled) {
		return "interrupted"
	}
	st, ok := status.FromError(err)
	if !ok {
		return err.Error()
	}
	var b strings.Builder
	b.WriteString(st.Message())
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			fmt.Fprintf(&b, "\n  reason: %s", d.GetReason())
			keys := make([]string, 0, len(d.GetMetadata()))
			for k := range d.GetMetadata() {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				fmt.Fprintf(&b, "\n  %s: %s", k, d.GetMetadata()[k])
			}
		case *errdetails.BadRequest:
			for _, v := range d.GetFieldViolations() {
				fmt.Fprintf(&b, "\n  field %s: %s", v.GetField(), v.GetDescription())
			}
		}
	}
	switch st.Code() {
	case codes.Unauthenticated:
		b.WriteString("\n  set ERASURE_TOKEN to a token the server trusts ('erasured token' prints one for the embedded store)")
	case codes.Unavailable:
		b.WriteString("\n  the server could not be reached or is restarting: check --server and try again")
	case codes.DeadlineExceeded:
		b.WriteString("\n  the server did not answer in time: try again")
	}
	return b.String()
}

// reasonOf returns the ErrorInfo reason of a service error, or "".
func reasonOf(err error) string {
	st, _ := status.FromError(err)
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.GetReason()
		}
	}
	return ""
}
