// Package auth says who is calling and what they may do. Callers present a
// JWT (`authorization: Bearer …`) signed with a key the service trusts; its
// claims name the account, the subject, the kind of caller and the role.
// Roles map to permissions in one table (rolePermissions) that the README
// documents.
package auth

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Role is what a caller may do in its account.
type Role string

// The roles, from most to least powerful.
const (
	Owner Role = "OWNER"
	Admin Role = "ADMIN"
	User  Role = "USER"
)

// Kind is who is calling.
type Kind string

// The kinds of caller.
const (
	// KindUser is the web frontend acting for a signed-in person.
	KindUser Kind = "user"
	// KindService is an internal service.
	KindService Kind = "service"
	// KindOperator is a person using grpcurl.
	KindOperator Kind = "operator"
)

// Permission is one thing a role allows.
type Permission string

// The permissions.
const (
	// DeleteBulk: upload, inspect, preview and run deletions by file or by
	// list, and cancel them.
	DeleteBulk Permission = "delete_by_file_or_list"
	// DeleteProfile: delete a single profile by id (GDPR erasure).
	DeleteProfile Permission = "delete_single_profile"
	// ReadReports: read uploads, jobs, the history and row outcomes.
	ReadReports Permission = "read_reports"
	// ReadAudit: read the audit trail.
	ReadAudit Permission = "read_audit_trail"
	// UnsubscribeBulk: upload, inspect, preview and run unsubscribes by
	// file, by list or by profile id, and cancel them.
	UnsubscribeBulk Permission = "unsubscribe_by_file_or_list"
	// ReadSegments: count, show and export the profiles a segment matches.
	ReadSegments Permission = "read_segments"
	// DeleteBySegment: preview and execute a deletion straight from a
	// segment (the account also needs the feature segment_deletion).
	DeleteBySegment Permission = "delete_by_segment"
)

// rolePermissions is the role table. Bulk deletion is open to every role,
// as file imports are; single-profile erasure and the audit trail are kept
// to admins and owners, as the platform keeps destructive account-wide
// tools. Unsubscribing, which keeps the profile, is open to every role.
// Every role reads segments; deleting straight from a segment is kept to
// admins and owners, as the help article has it.
var rolePermissions = map[Role][]Permission{
	Owner: {DeleteBulk, DeleteProfile, UnsubscribeBulk, ReadReports, ReadAudit, ReadSegments, DeleteBySegment},
	Admin: {DeleteBulk, DeleteProfile, UnsubscribeBulk, ReadReports, ReadAudit, ReadSegments, DeleteBySegment},
	User:  {DeleteBulk, UnsubscribeBulk, ReadReports, ReadSegments},
}

// Principal is a verified caller.
type Principal struct {
	Account string
	Subject string
	Kind    Kind
	Role    Role
	// Sections lists the sections a user may see; empty means all.
	Sections []string
}

// Can reports whether the caller's role has the permission.
func (p *Principal) Can(perm Permission) bool {
	return slices.Contains(rolePermissions[p.Role], perm)
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the caller, or nil.
func FromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// Audience is the aud claim every token for this service carries, so a
// token minted for another service is refused.
const Audience = "erasure"

// claims are the token's claims.
type claims struct {
	jwt.RegisteredClaims
	Account  string   `json:"account"`
	Kind     Kind     `json:"kind"`
	Role     Role     `json:"role"`
	Sections []string `json:"sections,omitempty"`
}

// Verifier checks tokens against the trusted keys.
type Verifier struct {
	keys   []crypto.PublicKey
	secret []byte
	// issuer, when set, is the "iss" every token must carry.
	issuer string
	// maxLifetime, when set, bounds a token's life: from its "iat" (or
	// from now when it has none) to its "exp".
	maxLifetime time.Duration
}

// RequireIssuer makes v refuse tokens whose "iss" is not issuer, and
// returns v.
func (v *Verifier) RequireIssuer(issuer string) *Verifier {
	v.issuer = issuer
	return v
}

// LimitLifetime makes v refuse tokens that live longer than d, and returns v.
func (v *Verifier) LimitLifetime(d time.Duration) *Verifier {
	v.maxLifetime = d
	return v
}

// NewVerifier trusts the given public keys (Ed25519 or RSA) and, only if
// hmacSecret is not empty, HS256 tokens signed with it.
func NewVerifier(keys []crypto.PublicKey, hmacSecret []byte) *Verifier {
	return &Verifier{keys: keys, secret: hmacSecret}
}

// ErrUnauthenticated means the token is missing or not valid; the error
// says why in words a caller can act on.
var ErrUnauthenticated = errors.New("unauthenticated")

// Verify checks a bearer token and returns its principal.
func (v *Verifier) Verify(token string) (*Principal, error) {
	methods := []string{"EdDSA", "RS256", "RS384", "RS512", "PS256"}
	if len(v.secret) > 0 {
		methods = append(methods, "HS256")
	}
	var c claims
	var lastErr error
	opts := []jwt.ParserOption{jwt.WithValidMethods(methods), jwt.WithAudience(Audience), jwt.WithExpirationRequired(), jwt.WithLeeway(leeway)}
	if v.issuer != "" {
		opts = append(opts, jwt.WithIssuer(v.issuer))
	}
	for _, key := range v.candidates() {
		_, err := jwt.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) { return key, nil }, opts...)
		if err == nil {
			if err := v.checkLifetime(&c); err != nil {
				return nil, err
			}
			return c.principal()
		}
		lastErr = err
		if !errors.Is(err, jwt.ErrTokenSignatureInvalid) && !errors.Is(err, jwt.ErrTokenUnverifiable) {
			break // the signature was fine; the claims were not
		}
	}
	if lastErr == nil {
		lastErr = errors.New("no key is configured")
	}
	return nil, fmt.Errorf("%w: %s", ErrUnauthenticated, explain(lastErr))
}

// leeway is the clock difference tolerated between the token's issuer and
// this service.
const leeway = 30 * time.Second

// checkLifetime refuses a token that lives longer than v allows.
func (v *Verifier) checkLifetime(c *claims) error {
	if v.maxLifetime <= 0 {
		return nil
	}
	from := time.Now()
	if c.IssuedAt != nil {
		from = c.IssuedAt.Time
	}
	if c.ExpiresAt.Sub(from) > v.maxLifetime+leeway {
		return fmt.Errorf("%w: the token lives %s, longer than the %s this service accepts; get one that expires sooner", ErrUnauthenticated,
			c.ExpiresAt.Sub(from).Round(time.Second), v.maxLifetime)
	}
	return nil
}

func (v *Verifier) candidates() []any {
	var out []any
	for _, k := range v.keys {
		out = append(out, k)
	}
	if len(v.secret) > 0 {
		out = append(out, v.secret)
	}
	return out
}

func explain(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return "the token has expired; get a new one"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return `the token is not for this service (its "aud" must include "erasure")`
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		// Each missing claim has its own message: the library's says which.
		switch msg := err.Error(); {
		case strings.Contains(msg, "exp claim"):
			return "the token has no expiry (exp); tokens must expire"
		case strings.Contains(msg, "aud claim"):
			return `the token has no audience (aud); it must include "erasure"`
		case strings.Contains(msg, "iss claim"):
			return "the token has no issuer (iss); it must come from the issuer this service trusts"
		}
		return "the token lacks a claim this service requires"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "the token is not from the issuer this service trusts (iss)"
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "the bearer token is not a JWT"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return "the token is not signed by a key this service trusts"
	}
	return "the token is not valid"
}

func (c *claims) principal() (*Principal, error) {
	bad := func(msg string) (*Principal, error) {
		return nil, fmt.Errorf("%w: %s", ErrUnauthenticated, msg)
	}
	if strings.TrimSpace(c.Account) == "" {
		return bad(`the token names no account (claim "account")`)
	}
	if c.Subject == "" {
		return bad(`the token names no subject (claim "sub")`)
	}
	if _, ok := rolePermissions[c.Role]; !ok {
		return bad(`the token's "role" must be OWNER, ADMIN or USER`)
	}
	switch c.Kind {
	case KindUser, KindService, KindOperator:
	default:
		return bad(`the token's "kind" must be user, service or operator`)
	}
	return &Principal{Account: c.Account, Subject: c.Subject, Kind: c.Kind, Role: c.Role, Sections: c.Sections}, nil
}

// Sign mints a token for p, valid for ttl, with an Ed25519 private key
// (operators' local tokens and tests).
func Sign(key ed25519.PrivateKey, p Principal, ttl time.Duration) (string, error) {
	return SignIssued(key, p, ttl, "")
}

// SignIssued is Sign with an issuer ("iss"), for a service that requires
// one; empty means none.
func SignIssued(key ed25519.PrivateKey, p Principal, ttl time.Duration, issuer string) (string, error) {
	now := time.Now()
	c := claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    issuer,
			Subject:   p.Subject,
			Audience:  jwt.ClaimStrings{Audience},
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
		Account:  p.Account,
		Kind:     p.Kind,
		Role:     p.Role,
		Sections: p.Sections,
	}
	return jwt.NewWithClaims(jwt.SigningMethodEdDSA, c).SignedString(key)
}

// LoadPublicKey reads a PEM "PUBLIC KEY" (Ed25519 or RSA) file.
func LoadPublicKey(path string) (crypto.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%s: no PEM block", path)
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	switch key.(type) {
	case ed25519.PublicKey, *rsa.PublicKey:
		return key, nil
	}
	return nil, fmt.Errorf("%s: only Ed25519 and RSA public keys are accepted", path)
}

// DevKey returns the development signing key stored at path, creating it
// (mode 0600) when missing. `make run` trusts it; production does not.
func DevKey(path string) (ed25519.PrivateKey, error) {
	if data, err := os.ReadFile(path); err == nil {
		block, _ := pem.Decode(data)
		if block == nil {
			return nil, fmt.Errorf("%s: no PEM block", path)
		}
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		ek, ok := k.(ed25519.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("%s: not an Ed25519 key", path)
		}
		return ek, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return nil, err
	}
	return priv, nil
}
