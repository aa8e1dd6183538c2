package identifier

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

const (
	maxEmailLocal  = 64  // RFC 5321, section 4.5.3.1.1
	maxEmailDomain = 255 // RFC 5321, section 4.5.3.1.2
	maxDomainLabel = 63  // RFC 1035, section 2.3.4
)

// normalizeEmail checks s (already cleaned) and returns it NFKC-normalized and
// lower-cased.
//
// The accepted syntax is the dot-atom form of RFC 5322 with the Unicode
// letters, digits and marks of RFC 6531: no quoted local parts, comments,
// IP-address literals or display names. Those forms are legal but never come
// from a sign-up form, so in a deletion list they point to a mistake.
func normalizeEmail(s string) (string, reason) {
	if !isASCII(s) {
		if hasSpecialNumber(s) {
			return "", reason{code: specialNumberChar}
		}
		if hasDecoratedLetter(s) {
			return "", reason{code: decoratedLetter}
		}
		s = norm.NFKC.String(s)
	}
	if rest, found := cutPrefixFold(s, "mailto:"); found {
		// A mailto: link may carry parameters ("?subject=") or %-encoding;
		// these are legal characters in an address, so taking them over
		// would produce a different address.
		if strings.ContainsAny(rest, "%?/") {
			return "", reason{code: emailMailtoLink}
		}
		s = rest
	}
	s = lowerStable(s)
	if len(s) > maxBytes {
		// NFKC can expand a value that passed the common length check.
		return "", reason{code: emailTooLong}
	}

	// Order matters for the message: a name-and-address value also has a
	// space, and a list of addresses also has spaces and commas.
	if lt := strings.IndexByte(s, '<'); lt >= 0 || strings.IndexByte(s, '>') >= 0 {
		if lt > 0 {
			return "", reason{code: emailNameAndAddress}
		}
		return "", reason{code: emailAngleBrackets}
	}
	at := strings.IndexByte(s, '@')
	if at < 0 {
		return "", reason{code: emailNoAt}
	}
	if strings.IndexByte(s[at+1:], '@') >= 0 {
		return "", reason{code: emailManyAt}
	}
	if strings.IndexFunc(s, unicode.IsSpace) >= 0 {
		return "", reason{code: emailSpace}
	}
	if why := checkLocalPart(s[:at]); why.code != ok {
		return "", why
	}
	if why := checkDomain(s[at+1:]); why.code != ok {
		return "", why
	}
	return s, reason{}
}

// lowerStable lower-cases s. Lower-casing can, in rare cases, produce a
// string that is no longer NFKC-normalized, or that lower-cases differently
// after normalization; repeating until nothing changes makes the result a
// fixed point, so that normalizing a stored value gives the same value.
func lowerStable(s string) string {
	s = strings.ToLower(s)
	if isASCII(s) {
		return s
	}
	for range 4 {
		t := strings.ToLower(norm.NFKC.String(s))
		if t == s {
			break
		}
		s = t
	}
	return s
}

// cutPrefixFold removes prefix from s, ignoring ASCII case, and reports
// whether it was there.
func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}

func checkLocalPart(local string) reason {
	switch {
	case local == "":
		return reason{code: emailLocalEmpty}
	case len(local) > maxEmailLocal:
		return reason{code: emailLocalTooLong}
	case local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, ".."):
		return reason{code: emailLocalDots}
	}
	for i, r := range local {
		if r < utf8.RuneSelf {
			if !isASCIIAlnum(byte(r)) && r != '.' && !strings.ContainsRune("!#$%&'*+-/=?^_`{|}~", r) {
				return reason{code: emailLocalChar, char: r}
			}
			continue
		}
		if !isWordRune(r, i == 0) {
			return reason{code: emailLocalChar, char: r}
		}
	}
	return reason{}
}

func checkDomain(domain string) reason {
	switch {
	case domain == "":
		return reason{code: emailDomainEmpty}
	case len(domain) > maxEmailDomain:
		return reason{code: emailDomainTooLong}
	case strings.IndexByte(domain, '.') < 0:
		return reason{code: emailDomainNoDot}
	}
	if first, last := domain[0], domain[len(domain)-1]; first == '.' || first == '-' || last == '.' || last == '-' {
		return reason{code: emailDomainEdge}
	}
	var label string
	for rest := domain; rest != ""; {
		label, rest, _ = strings.Cut(rest, ".")
		if why := checkLabel(label); why.code != ok {
			return why
		}
	}
	// label now holds the top-level domain. An all-digit one means an IP
	// address or a typo, never a mailbox domain.
	if strings.Trim(label, "0123456789") == "" {
		return reason{code: emailDomainNumericTLD}
	}
	return reason{}
}

func checkLabel(label string) reason {
	if label == "" {
		return reason{code: emailDomainEmptyLabel}
	}
	if label[0] == '-' || label[len(label)-1] == '-' {
		return reason{code: emailDomainLabelHyphen}
	}
	ascii := true
	for i, r := range label {
		if r < utf8.RuneSelf {
			if !isASCIIAlnum(byte(r)) && r != '-' {
				return reason{code: emailDomainChar, char: r}
			}
			continue
		}
		ascii = false
		if !isWordRune(r, i == 0) {
			return reason{code: emailDomainChar, char: r}
		}
	}
	// The 63-octet limit applies to the punycode form of a Unicode label,
	// which is not computed here, so it is checked for ASCII labels only.
	if ascii && len(label) > maxDomainLabel {
		return reason{code: emailDomainLabelTooLong}
	}
	return reason{}
}

// isWordRune reports whether a non-ASCII rune may appear in an address: a
// letter, a decimal digit, or (not at the start) a combining mark, which
// some scripts need to spell words.
func isWordRune(r rune, first bool) bool {
	return unicode.IsLetter(r) || unicode.Is(unicode.Nd, r) || (!first && unicode.IsMark(r))
}

func isASCIIAlnum(b byte) bool {
	return ('a' <= b && b <= 'z') || ('A' <= b && b <= 'Z') || ('0' <= b && b <= '9')
}
