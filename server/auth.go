package server

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"connectrpc.com/connect"

	"github.com/erasure-dev/erasure/internal/auth"
	"github.com/erasure-dev/erasure/internal/deletion"
	"github.com/erasure-dev/erasure/internal/job"
)

// authInterceptor verifies the bearer token of every call and puts the
// caller in its context. Health and reflection are served without it.
type authInterceptor struct{ verifier *auth.Verifier }

func (i *authInterceptor) authenticate(ctx context.Context, h http.Header) (context.Context, error) {
	value := h.Get("Authorization")
	token, ok := strings.CutPrefix(value, "Bearer ")
	if !ok || strings.TrimSpace(token) == "" {
		return nil, statusError(connect.CodeUnauthenticated,
			`send a bearer token: the header "authorization: Bearer <token>" (for local use, "erasured token" mints one)`, "TOKEN_MISSING", "", nil)
	}
	p, err := i.verifier.Verify(strings.TrimSpace(token))
	if err != nil {
		return nil, statusError(connect.CodeUnauthenticated, err.Error(), "TOKEN_INVALID", "", nil)
	}
	noteCaller(ctx, p)
	return auth.WithPrincipal(ctx, p), nil
}

func (i *authInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		ctx, err := i.authenticate(ctx, req.Header())
		if err != nil {
			return nil, err
		}
		return next(ctx, req)
	}
}

func (i *authInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (i *authInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		ctx, err := i.authenticate(ctx, conn.RequestHeader())
		if err != nil {
			return err
		}
		return next(ctx, conn)
	}
}

// authorize returns who makes the call — always in the caller's own
// account — after checking that its role has one of perms. A request
// naming another account is answered as if that account did not exist.
func authorize(ctx context.Context, requested string, perms ...auth.Permission) (deletion.Caller, error) {
	p := auth.FromContext(ctx)
	if p == nil {
		return deletion.Caller{}, statusError(connect.CodeUnauthenticated, "no caller", "TOKEN_MISSING", "", nil)
	}
	if !slices.ContainsFunc(perms, p.Can) {
		names := make([]string, len(perms))
		for i, perm := range perms {
			names[i] = string(perm)
		}
		return deletion.Caller{}, statusError(connect.CodePermissionDenied, fmt.Sprintf(
			"role %s lacks the permission %s; ask an owner or admin of the account", p.Role, strings.Join(names, " or ")),
			"PERMISSION_MISSING", "", map[string]string{"role": string(p.Role), "permissions": strings.Join(names, ",")})
	}
	if requested != "" && requested != p.Account {
		return deletion.Caller{}, statusError(connect.CodeNotFound, fmt.Sprintf("account %q not found", clip(requested)), "ACCOUNT_NOT_FOUND", "account_id", nil)
	}
	return deletion.Caller{
		AccountID: p.Account,
		Actor:     job.Actor{Subject: p.Subject, Kind: string(p.Kind), Role: string(p.Role)},
		Sections:  p.Sections,
	}, nil
}
