package auth

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestVerify(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("0123456789abcdef0123456789abcdef")
	good := func() jwt.MapClaims {
		return jwt.MapClaims{"sub": "u1", "aud": "erasure", "exp": time.Now().Add(time.Hour).Unix(),
			"account": "acme", "kind": "user", "role": "ADMIN", "sections": []string{"s1"}}
	}
	with := func(k string, v any) jwt.MapClaims {
		c := good()
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	sign := func(m jwt.SigningMethod, key any, c jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(m, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	strict := NewVerifier([]crypto.PublicKey{pub, &rsaKey.PublicKey}, nil)
	issued := NewVerifier([]crypto.PublicKey{pub}, nil).RequireIssuer("https://id.example.com")
	short := NewVerifier([]crypto.PublicKey{pub}, nil).LimitLifetime(24 * time.Hour)
	withIat := func(life time.Duration) jwt.MapClaims {
		c := good()
		c["iat"] = time.Now().Add(-time.Minute).Unix()
		c["exp"] = time.Now().Add(life - time.Minute).Unix()
		return c
	}
	withHS := NewVerifier([]crypto.PublicKey{pub}, secret)
	for _, c := range []struct {
		name     string
		v        *Verifier
		token    string
		wantErr  string // "" means valid
		wantRole Role
	}{
		{"Ed25519", strict, sign(jwt.SigningMethodEdDSA, priv, good()), "", Admin},
		{"RSA", strict, sign(jwt.SigningMethodRS256, rsaKey, good()), "", Admin},
		{"HS256 when enabled", withHS, sign(jwt.SigningMethodHS256, secret, good()), "", Admin},
		{"HS256 when not enabled", strict, sign(jwt.SigningMethodHS256, secret, good()), "not signed by a key this service trusts", ""},
		// The classic confusion: an HMAC token keyed with public key bytes.
		{"HS256 keyed with the public key", withHS, sign(jwt.SigningMethodHS256, []byte(pub), good()), "not signed by a key this service trusts", ""},
		{"alg none", strict, sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, good()), "not signed by a key this service trusts", ""},
		{"expired", strict, sign(jwt.SigningMethodEdDSA, priv, with("exp", time.Now().Add(-time.Minute).Unix())), "expired", ""},
		{"no expiry", strict, sign(jwt.SigningMethodEdDSA, priv, with("exp", nil)), "no expiry", ""},
		{"another audience", strict, sign(jwt.SigningMethodEdDSA, priv, with("aud", "billing")), `"aud" must include "erasure"`, ""},
		// Each missing claim is named: an expiry but no audience is not
		// "no expiry".
		{"no audience", strict, sign(jwt.SigningMethodEdDSA, priv, with("aud", nil)), `no audience (aud)`, ""},
		{"the issuer required", issued, sign(jwt.SigningMethodEdDSA, priv, with("iss", "https://id.example.com")), "", Admin},
		{"no issuer", issued, sign(jwt.SigningMethodEdDSA, priv, good()), `no issuer (iss)`, ""},
		{"another issuer", issued, sign(jwt.SigningMethodEdDSA, priv, with("iss", "https://evil.example.com")), `not from the issuer this service trusts`, ""},
		{"a lifetime within the limit", short, sign(jwt.SigningMethodEdDSA, priv, withIat(24*time.Hour)), "", Admin},
		{"a lifetime beyond the limit", short, sign(jwt.SigningMethodEdDSA, priv, withIat(48*time.Hour)), `longer than the 24h0m0s this service accepts`, ""},
		{"no iat, expiring beyond the limit", short, sign(jwt.SigningMethodEdDSA, priv, with("exp", time.Now().Add(30*24*time.Hour).Unix())), `longer than`, ""},
		{"no account", strict, sign(jwt.SigningMethodEdDSA, priv, with("account", nil)), `names no account`, ""},
		{"no subject", strict, sign(jwt.SigningMethodEdDSA, priv, with("sub", nil)), `names no subject`, ""},
		{"unknown role", strict, sign(jwt.SigningMethodEdDSA, priv, with("role", "ROOT")), `"role" must be OWNER, ADMIN or USER`, ""},
		{"lower-case role", strict, sign(jwt.SigningMethodEdDSA, priv, with("role", "admin")), `"role" must be`, ""},
		{"unknown kind", strict, sign(jwt.SigningMethodEdDSA, priv, with("kind", "robot")), `"kind" must be user, service or operator`, ""},
		{"not a JWT", strict, "ann@example.com", "not a JWT", ""},
		{"no keys", NewVerifier(nil, nil), sign(jwt.SigningMethodEdDSA, priv, good()), "not valid", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := c.v.Verify(c.token)
			if c.wantErr == "" {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if p.Account != "acme" || p.Subject != "u1" || p.Kind != KindUser || p.Role != c.wantRole || strings.Join(p.Sections, ",") != "s1" {
					t.Fatalf("principal %+v", p)
				}
				return
			}
			if !errors.Is(err, ErrUnauthenticated) || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("Verify = %v, %v; want unauthenticated saying %q", p, err, c.wantErr)
			}
			if strings.Contains(err.Error(), "ann@example.com") {
				t.Fatalf("the error echoes the token: %v", err)
			}
		})
	}
}

// The role table as the README documents it.
func TestRoleTable(t *testing.T) {
	want := map[Role]map[Permission]bool{
		Owner: {DeleteBulk: true, DeleteProfile: true, ReadReports: true, ReadAudit: true},
		Admin: {DeleteBulk: true, DeleteProfile: true, ReadReports: true, ReadAudit: true},
		User:  {DeleteBulk: true, DeleteProfile: false, ReadReports: true, ReadAudit: false},
	}
	for role, perms := range want {
		for perm, ok := range perms {
			if got := (&Principal{Role: role}).Can(perm); got != ok {
				t.Errorf("%s can %s = %v, want %v", role, perm, got, ok)
			}
		}
	}
	if (&Principal{Role: "ROOT"}).Can(ReadReports) {
		t.Error("an unknown role has a permission")
	}
}

func TestSignAndDevKey(t *testing.T) {
	path := t.TempDir() + "/dev.pem"
	key, err := DevKey(path)
	if err != nil {
		t.Fatal(err)
	}
	again, err := DevKey(path)
	if err != nil || !key.Equal(again) {
		t.Fatalf("DevKey does not reload the key it created: %v", err)
	}
	tok, err := Sign(key, Principal{Account: "demo", Subject: "op", Kind: KindOperator, Role: Owner}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewVerifier([]crypto.PublicKey{key.Public()}, nil).Verify(tok)
	if err != nil || p.Account != "demo" || p.Role != Owner || p.Kind != KindOperator {
		t.Fatalf("Verify(Sign(…)) = %+v, %v", p, err)
	}
}
