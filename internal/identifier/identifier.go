// Package identifier turns the text of a spreadsheet cell into the stored,
// comparable form of a Unique Identifier (e-mail address, phone number or CRM
// ID), or explains why it cannot.
//
// Every normalized value selects marketing profiles for permanent deletion, so
// the rules are strict: a value is accepted only when there is exactly one way
// to read it. Anything else is rejected with an [*InvalidError] whose Reason
// tells the user what to fix. Reasons never quote the value, because values
// are personal data and reasons may be logged.
//
// Rules common to all types:
//
//   - Whitespace (including NBSP, U+3000 and the other Unicode spaces) and
//     invisible format characters (zero-width space/joiners, word joiner, BOM,
//     bidirectional marks) are trimmed from both ends. Copy and paste adds
//     them; they are never part of an identifier.
//   - What remains must be non-empty and at most 320 bytes, and must not
//     contain control characters, invisible characters, U+FFFD, invalid UTF-8
//     or Unicode noncharacters. Inside a value these indicate a damaged or
//     mis-decoded file, and silently dropping them would be a guess.
//
// E-mail addresses are NFKC-normalized (so full-width forms fold to ASCII) and
// lower-cased. Superscript, circled and similar number characters, which NFKC
// would turn into digits, are rejected instead: in a cell they are more
// likely footnote marks than part of the address. So are circled,
// superscript and mathematical letters (ⓒ, ᵃ, 𝐚): folding them would make
// a lookalike match another person's address. The syntax accepted is the
// common dot-atom form, with Unicode letters allowed. Internationalized domains stay in Unicode ("bücher.de"); they
// are not converted to punycode because profiles are stored as the platform
// wrote them, which means "bücher.de" and "xn--bcher-kva.de" are different
// values. A leading "mailto:" is dropped; "Name <address>" forms are
// rejected rather than taken apart.
//
// Phone numbers are returned in E.164 form ("+46701234567") and must be valid
// according to github.com/nyaruka/phonenumbers. Numbers damaged by a
// spreadsheet (scientific notation, a ".0" suffix, a lost "+" or a lost
// leading zero) are repaired only when the repair is unambiguous; see
// [Normalizer.Normalize].
//
// CRM IDs are kept exactly as written apart from the trimming above, case
// and inner spaces included, and are at most 256 bytes. Values a spreadsheet
// has visibly turned into numbers ("1.23457E+11", "123456.0", "1 234 567")
// and values with a space other than U+0020 inside are rejected, because
// they would silently match no profile.
package identifier

import (
	"fmt"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// Type is the kind of Unique Identifier a column holds.
type Type int8

// The identifier types. The numeric values may be persisted, so they must
// never be renumbered.
const (
	Email Type = 1
	Phone Type = 2
	CRMID Type = 3
)

// String returns the type's wire name, the inverse of [ParseType].
func (t Type) String() string {
	switch t {
	case Email:
		return "email"
	case Phone:
		return "phone"
	case CRMID:
		return "crm_id"
	}
	return fmt.Sprintf("Type(%d)", int8(t))
}

// ParseType converts a wire name ("email", "phone" or "crm_id", exactly as
// [Type.String] writes them) back into a Type.
func ParseType(s string) (Type, error) {
	switch s {
	case "email":
		return Email, nil
	case "phone":
		return Phone, nil
	case "crm_id":
		return CRMID, nil
	}
	return 0, fmt.Errorf("unknown identifier type %q: use email, phone or crm_id", s)
}

// Normalizer holds the settings for normalizing one column. It is immutable,
// so one value may be shared by any number of goroutines.
type Normalizer struct {
	typ Type
	// region is the upper-case default region for phone numbers without a
	// country code, or "" when there is none.
	region string
}

// New returns a Normalizer for identifiers of type t. defaultRegion is the
// ISO 3166-1 alpha-2 code (any case) of the country assumed for phone numbers
// written without a country code, or "" for none. It is validated for every
// type so that a misconfigured job fails at once rather than when a phone
// column turns up.
func New(t Type, defaultRegion string) (*Normalizer, error) {
	n, err := newNormalizer(t, defaultRegion)
	if err != nil {
		return nil, err
	}
	return &n, nil
}

func newNormalizer(t Type, defaultRegion string) (Normalizer, error) {
	switch t {
	case Email, Phone, CRMID:
	default:
		return Normalizer{}, fmt.Errorf("unknown identifier type %d: use Email, Phone or CRMID", int8(t))
	}
	region, err := checkRegion(defaultRegion)
	if err != nil {
		return Normalizer{}, err
	}
	return Normalizer{typ: t, region: region}, nil
}

// checkRegion returns the upper-case form of a default region, accepting only
// regions that have a numbering plan in the phone metadata.
func checkRegion(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	r := strings.ToUpper(s)
	// The metadata also knows "001" (non-geographic numbers); it is not a
	// country and cannot be a default, hence the length and letter check.
	if len(r) == 2 && isASCIIUpper(r[0]) && isASCIIUpper(r[1]) && phonenumbers.GetSupportedRegions()[r] {
		return r, nil
	}
	hint := ""
	if r == "UK" {
		hint = " (the code for the United Kingdom is GB)"
	}
	return "", fmt.Errorf("unknown default region %q: use an ISO 3166-1 code such as SE or GB%s", s, hint)
}

func isASCIIUpper(b byte) bool { return 'A' <= b && b <= 'Z' }

// Type reports which kind of identifier the normalizer accepts.
func (n *Normalizer) Type() Type { return n.typ }

// Normalize returns the stored form of raw, or an [*InvalidError] saying why
// raw is not an identifier of the normalizer's type.
//
// Phone numbers are read as follows (after the common trimming):
//
//   - Spaces, dashes, dots and parentheses between digits are ignored, as are
//     a "tel:" prefix and full-width forms. Letters, extensions, list
//     separators (",", ";", "/") and any other characters make the value
//     invalid.
//   - A leading "+" means the number carries its country code. So does a
//     leading "00"; with a default region whose own international prefix
//     also starts with 00 (0011 in Australia), both readings are tried and
//     must not disagree.
//   - A value that is a plain number with a ".0" suffix ("46701234567.0"), or
//     a number in scientific notation ("4.6701234567E+10"), is what a
//     spreadsheet or program writes for a number cell; it is converted to
//     its digits exactly. Scientific notation is accepted only when the
//     mantissa holds every digit of the integer: "4.67E+10" stands for
//     46700000000, but the trailing zeros are most likely a spreadsheet's
//     rounding, so it is rejected even if the real number ends in zeros.
//     Values with more than 15 digits, the precision of a spreadsheet
//     number, are rejected, as are other zero decimals (".00", ",0") and a
//     ".0" after a formatted number.
//   - Otherwise the digits are read both as a national number of the default
//     region (which tolerates a lost leading zero) and as an international
//     number whose "+" was lost. If exactly one reading is a valid number,
//     it is used; if both are valid and differ, the value is ambiguous and
//     rejected: with region US, "2032518441" is both (203) 251-8441 and
//     +20 3 2518441 in Egypt. Without a default region only the
//     international reading exists.
func (n *Normalizer) Normalize(raw string) (string, error) {
	out, why := n.normalize(raw)
	if why.code != ok {
		return "", &InvalidError{Reason: why.String()}
	}
	return out, nil
}

// normalize does the work of Normalize but reports failure as a reason value,
// so that Valid never has to format a message.
func (n *Normalizer) normalize(raw string) (string, reason) {
	s, why := clean(raw)
	if why.code != ok {
		return "", why
	}
	switch n.typ {
	case Email:
		return normalizeEmail(s)
	case Phone:
		return n.normalizePhone(s)
	case CRMID:
		return normalizeCRMID(s)
	}
	return "", reason{code: badType}
}

// Valid reports whether raw normalizes as type t with the given default
// region. It is meant for guessing which column holds identifiers, so it
// returns false for an unusable type or region instead of an error.
func Valid(t Type, raw, defaultRegion string) bool {
	n, err := newNormalizer(t, defaultRegion)
	if err != nil {
		return false
	}
	_, why := n.normalize(raw)
	return why.code == ok
}

// InvalidError is returned by [Normalizer.Normalize] for a value that is not
// an identifier of the requested type.
type InvalidError struct {
	// Reason is a short sentence fragment for the user, such as
	// "e-mail address has no @". It never contains the value itself.
	Reason string
}

// Error returns the reason prefixed so that it reads well in logs.
func (e *InvalidError) Error() string { return "invalid identifier: " + e.Reason }
