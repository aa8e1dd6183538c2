package deletion

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
)

// Page tokens are opaque to callers and bound to the account and the query
// they page through: a token is the position of the page's last item and an
// HMAC of (account, query, position) under a key derived from the
// service's audit key, in base64url. A token altered, made up, taken from
// another account, or used with another query (another job's audit events)
// is refused with INVALID_PAGE_TOKEN. With a configured audit key tokens
// stay valid across restarts and instances.

// pageMACBytes is the length of a page token's MAC: 128 bits.
const pageMACBytes = 16

var errPageToken = errors.New("page token not valid")

func (s *Service) pageMAC(accountID, query string, position []byte) []byte {
	key := hmac.New(sha256.New, s.auditKey)
	key.Write([]byte("erasure page tokens v1"))
	mac := hmac.New(sha256.New, key.Sum(nil))
	mac.Write([]byte(accountID + "\x00" + query + "\x00"))
	mac.Write(position)
	return mac.Sum(nil)[:pageMACBytes]
}

// sealPage returns the page token of position for the account's query.
func (s *Service) sealPage(accountID, query string, position []byte) string {
	return base64.RawURLEncoding.EncodeToString(append(append([]byte(nil), position...), s.pageMAC(accountID, query, position)...))
}

// openPage returns the position a page token holds, or errPageToken when
// the token is not one sealPage made for this account and query.
func (s *Service) openPage(accountID, query, token string) ([]byte, error) {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) <= pageMACBytes {
		return nil, errPageToken
	}
	position, mac := raw[:len(raw)-pageMACBytes], raw[len(raw)-pageMACBytes:]
	if !hmac.Equal(mac, s.pageMAC(accountID, query, position)) {
		return nil, errPageToken
	}
	return position, nil
}

// badPageToken is the error of a page token openPage refused.
func badPageToken() error {
	return invalidf("page_token is not one this service returned for this account and query; start again without it").because("INVALID_PAGE_TOKEN").at("page_token")
}
