package identifier

import (
	"errors"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
	"golang.org/x/text/unicode/norm"
)

const (
	// maxPhoneDigits stops obviously wrong values before they reach the
	// parser: 3 country-code digits plus the 17-digit national maximum the
	// phone metadata allows.
	maxPhoneDigits = 20
	// maxSpreadsheetDigits is the precision of a spreadsheet number cell
	// (Excel keeps 15 significant digits). A longer integer that went through
	// such a cell may have had its last digits replaced by zeros.
	maxSpreadsheetDigits = 15
)

// normalizePhone returns s (already cleaned) as an E.164 number.
func (n *Normalizer) normalizePhone(s string) (string, reason) {
	if !isASCII(s) {
		if hasSpecialNumber(s) {
			return "", reason{code: specialNumberChar}
		}
		s = norm.NFKC.String(s)
	}
	s, _ = cutPrefixFold(s, "tel:")
	s = strings.TrimSpace(s)

	digits, plus := "", false
	if d, why, isNumber := fromSpreadsheetNumber(s); isNumber {
		if why.code != ok {
			return "", why
		}
		// A number cell cannot hold a "+"; the digits are read like any
		// other number written without one.
		digits = d
	} else {
		if hasFloatSuffix(s) {
			return "", reason{code: phoneDecimals}
		}
		if digits, plus, why = phoneDigits(s); why.code != ok {
			return "", why
		}
	}
	switch {
	case plus:
		return phoneInternational(digits)
	case strings.HasPrefix(digits, "00"):
		return n.phoneDoubleZero(digits)
	}
	return n.phoneWithoutPrefix(digits)
}

// hasFloatSuffix reports whether s ends in ".0" after a digit. Where s is not
// a plain number ("+46701234567.0", "070-1234567.0"), the ".0" cannot be
// told apart from a last digit group "0", so the value is rejected rather
// than read with an extra digit. A one-digit last group is not a format
// anybody uses.
func hasFloatSuffix(s string) bool {
	return len(s) >= 3 && strings.HasSuffix(s, ".0") && '0' <= s[len(s)-3] && s[len(s)-3] <= '9'
}

// phoneDoubleZero reads digits that start with 00, the international prefix
// in most of the world. No national number starts with 00, so the digits
// after it are read as an international number. With a default region the
// digits are also read with that region's own international prefix (0011 in
// Australia, 009 in Colombia); if both readings are valid and differ, the
// value is ambiguous.
func (n *Normalizer) phoneDoubleZero(digits string) (string, reason) {
	intl, why := phoneInternational(digits[2:])
	if n.region == "" {
		return intl, why
	}
	national, nationalOK := validE164(digits, n.region)
	switch {
	case !nationalOK:
		return intl, why
	case why.code != ok:
		return national, reason{}
	case national != intl:
		return "", reason{code: phoneAmbiguous, region: n.region}
	}
	return intl, reason{}
}

// phoneDigits extracts the digits of a written phone number, checking that
// everything else is formatting. plus reports a leading "+".
func phoneDigits(s string) (digits string, plus bool, why reason) {
	buf := make([]byte, 0, 16)
	for i, r := range s {
		switch {
		case '0' <= r && r <= '9':
			if len(buf) == maxPhoneDigits {
				return "", false, reason{code: phoneTooManyDigits}
			}
			buf = append(buf, byte(r))
		case isPhoneSeparator(r):
		case r == '+':
			if plus || len(buf) > 0 {
				return "", false, reason{code: phonePlusNotFirst}
			}
			plus = true
		case len(buf) > 0 && isExtension(s[i:]):
			return "", false, reason{code: phoneExtension}
		case unicode.IsLetter(r):
			return "", false, reason{code: phoneLetters}
		case unicode.IsDigit(r):
			// NFKC has already folded full-width digits; what is left
			// (Arabic-Indic, Devanagari, ...) is not converted here.
			return "", false, reason{code: phoneOtherDigits}
		case r == ',' || r == ';' || r == '/' || r == '|' || r == '&' || r == '\\':
			return "", false, reason{code: phoneListSeparator, char: r}
		default:
			return "", false, reason{code: phoneChar, char: r}
		}
	}
	if len(buf) == 0 {
		return "", false, reason{code: phoneNoDigits}
	}
	return string(buf), plus, reason{}
}

// isPhoneSeparator reports whether r is formatting that people put between
// the digits of a phone number.
func isPhoneSeparator(r rune) bool {
	switch r {
	case ' ', '-', '.', '(', ')', '\u2212': // U+2212 is the minus sign.
		return true
	}
	return r >= utf8.RuneSelf && (unicode.Is(unicode.Zs, r) || unicode.Is(unicode.Pd, r))
}

// extensionMarkers introduce an extension after the number. Longer markers
// come first so that "ext" is not taken for "x"-less text.
var extensionMarkers = [...]string{";ext=", "extension", "extn", "ext", "x", "#"}

// isExtension reports whether s (the rest of a phone number, starting at the
// first character that is not part of the number) is an extension marker
// followed only by digits and formatting, like "ext. 123" or "x12".
func isExtension(s string) bool {
	lower := strings.ToLower(s)
	for _, m := range extensionMarkers {
		rest, found := strings.CutPrefix(lower, m)
		if !found {
			continue
		}
		rest = strings.TrimLeft(rest, ".:= ")
		if rest == "" {
			return false
		}
		for _, r := range rest {
			if !('0' <= r && r <= '9') && !isPhoneSeparator(r) {
				return false
			}
		}
		return true
	}
	return false
}

// fromSpreadsheetNumber recognizes a phone number that a spreadsheet or a
// program stored as a number and wrote back as "46701234567.0" or
// "4.6701234567E+10". isNumber reports whether s has one of these shapes; if
// so, digits holds the exact integer, or why says why it cannot be trusted.
func fromSpreadsheetNumber(s string) (digits string, why reason, isNumber bool) {
	intPart, rest := leadingDigits(s)
	if intPart == "" || rest == "" {
		return "", reason{}, false
	}
	var sep byte
	var frac string
	if rest[0] == '.' || rest[0] == ',' {
		sep = rest[0]
		if frac, rest = leadingDigits(rest[1:]); frac == "" {
			return "", reason{}, false
		}
	}
	if rest == "" {
		// A plain decimal. "46701234567.0" is how programs write a whole
		// number held as floating point, so the ".0" is dropped. Other
		// zero decimals (".00", ",0") are a number cell too, but with a
		// display format that may also have rounded, so they are rejected.
		// Non-zero decimals ("070.1234567") may be dots between digit
		// groups and are left to the general rules.
		switch {
		case strings.Trim(frac, "0") != "":
			return "", reason{}, false
		case sep != '.' || frac != "0":
			return "", reason{code: phoneDecimals}, true
		case len(strings.TrimLeft(intPart, "0")) > maxSpreadsheetDigits:
			return "", reason{code: phoneFloatPrecision}, true
		}
		return intPart, reason{}, true
	}
	if rest[0] != 'e' && rest[0] != 'E' {
		return "", reason{}, false
	}
	rest = rest[1:]
	negative := false
	if rest != "" && (rest[0] == '+' || rest[0] == '-') {
		negative = rest[0] == '-'
		rest = rest[1:]
	}
	expDigits, rest := leadingDigits(rest)
	if expDigits == "" || rest != "" {
		return "", reason{}, false
	}
	digits, why = scientificToDigits(intPart, frac, expDigits, negative)
	return digits, why, true
}

// scientificToDigits converts intPart.frac × 10^±exp to the digits of an
// integer, exactly, by moving the decimal point in the digit string.
//
// The rule that keeps rounded values out: every digit of the integer must
// be written in the mantissa. If the exponent reaches past the last
// mantissa digit ("4.67E+10"), the missing digits would have to be zeros,
// and since a spreadsheet shortens the mantissa to fit the column, those
// zeros are most likely rounding; the value is rejected even when the real
// number happens to end in zeros. Mantissa digits after the decimal point of
// the integer must be zeros ("4.67012345670000E+010"); otherwise the value
// is not an integer at all.
func scientificToDigits(intPart, frac, expDigits string, negative bool) (string, reason) {
	mantissa := intPart + frac
	expDigits = strings.TrimLeft(expDigits, "0")
	if len(expDigits) > 3 {
		// Far beyond any phone number either way; avoids overflow below.
		if negative {
			return "", reason{code: phoneNotWhole}
		}
		return "", reason{code: phoneShortened}
	}
	exp, _ := strconv.Atoi("0" + expDigits)
	if negative {
		exp = -exp
	}
	// The decimal point sits after len(intPart) digits of mantissa; the
	// exponent moves it right by exp.
	point := len(intPart) + exp
	if point > len(mantissa) {
		return "", reason{code: phoneShortened}
	}
	if point < 0 {
		point = 0
	}
	whole, fraction := mantissa[:point], mantissa[point:]
	if strings.Trim(fraction, "0") != "" {
		return "", reason{code: phoneNotWhole}
	}
	// A number has no leading zeros; a mantissa like "0.467E+11" could
	// produce them.
	whole = strings.TrimLeft(whole, "0")
	if whole == "" {
		return "", reason{code: phoneNoDigits}
	}
	if len(whole) > maxSpreadsheetDigits {
		return "", reason{code: phoneFloatPrecision}
	}
	return whole, reason{}
}

// leadingDigits splits s after its leading ASCII digits.
func leadingDigits(s string) (digits, rest string) {
	i := 0
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	return s[:i], s[i:]
}

// phoneInternational reads digits that follow a "+" or "00".
func phoneInternational(digits string) (string, reason) {
	if e164, ok := fastInternational(digits); ok {
		return e164, reason{}
	}
	return slowInternational(digits)
}

// slowInternational is phoneInternational without the fast path.
func slowInternational(digits string) (string, reason) {
	num, err := phonenumbers.Parse("+"+digits, "")
	if err != nil {
		return "", parseErrorReason(err, "")
	}
	if !phonenumbers.IsValidNumber(num) {
		return "", invalidNumberReason(num, "")
	}
	return phonenumbers.Format(num, phonenumbers.E164), reason{}
}

// phoneWithoutPrefix reads digits written without "+" or "00", which may be
// a national number of the default region or an international number whose
// "+" was lost, and accepts the value only if exactly one reading is valid.
func (n *Normalizer) phoneWithoutPrefix(digits string) (string, reason) {
	// No country code starts with 0, so the common national form with a
	// trunk prefix ("070...") skips the international reading, which costs
	// as much as the national one.
	var intl string
	intlOK := false
	if digits[0] != '0' {
		intl, intlOK = validE164("+"+digits, "")
	}
	if n.region == "" {
		if intlOK {
			return intl, reason{}
		}
		return "", reason{code: phoneNoCountryCode}
	}
	// The fast path answers unless both readings fail, whose reason the
	// full parse below words.
	if national := nationalReading(digits, n.region); national.known && (national.valid || intlOK) {
		switch {
		case !national.valid:
			return intl, reason{}
		case intlOK && intl != national.e164:
			return "", reason{code: phoneAmbiguous, region: n.region}
		}
		return national.e164, reason{}
	}
	num, err := phonenumbers.Parse(digits, n.region)
	if err != nil {
		if intlOK {
			return intl, reason{}
		}
		return "", parseErrorReason(err, n.region)
	}
	if !phonenumbers.IsValidNumber(num) {
		if intlOK {
			return intl, reason{}
		}
		// The digits may have started with the region's international
		// prefix (011 in the US) and name another country.
		region := n.region
		if int(num.GetCountryCode()) != phonenumbers.GetCountryCodeForRegion(region) {
			region = ""
		}
		return "", invalidNumberReason(num, region)
	}
	national := phonenumbers.Format(num, phonenumbers.E164)
	if intlOK && intl != national {
		return "", reason{code: phoneAmbiguous, region: n.region}
	}
	return national, reason{}
}

// validE164 parses s and returns its E.164 form if it is a valid number.
func validE164(s, region string) (string, bool) {
	fast := unknown
	switch {
	case region == "" && len(s) > 1 && s[0] == '+':
		fast = internationalReading(s[1:])
	case region != "":
		fast = nationalReading(s, region)
	}
	if fast.known {
		return fast.e164, fast.valid
	}
	return slowValidE164(s, region)
}

// slowValidE164 is validE164 without the fast path.
func slowValidE164(s, region string) (string, bool) {
	num, err := phonenumbers.Parse(s, region)
	if err != nil || !phonenumbers.IsValidNumber(num) {
		return "", false
	}
	return phonenumbers.Format(num, phonenumbers.E164), true
}

// parseErrorReason explains a parse failure of digits read with the given
// default region, or with none ("") when they followed a "+".
func parseErrorReason(err error, region string) reason {
	switch {
	case errors.Is(err, phonenumbers.ErrInvalidCountryCode):
		return reason{code: phoneUnknownCountryCode}
	case errors.Is(err, phonenumbers.ErrNumTooLong):
		return reason{code: phoneTooManyDigits}
	}
	// ErrTooShortNSN, ErrTooShortAfterIDD, and ErrNotANumber, which for a
	// string of digits means fewer than two.
	return reason{code: phoneTooShort, region: region}
}

// invalidNumberReason explains why a parsed number is not valid, using the
// length rules of its numbering plan: the default region if given, else the
// number's country code.
func invalidNumberReason(num *phonenumbers.PhoneNumber, region string) reason {
	why := reason{region: region}
	if region == "" {
		why.countryCode = num.GetCountryCode()
	}
	switch phonenumbers.IsPossibleNumberWithReason(num) {
	case phonenumbers.INVALID_COUNTRY_CODE:
		why.code = phoneUnknownCountryCode
	case phonenumbers.TOO_SHORT:
		why.code = phoneTooShort
	case phonenumbers.TOO_LONG:
		why.code = phoneTooLong
	case phonenumbers.INVALID_LENGTH:
		why.code = phoneWrongLength
	case phonenumbers.IS_POSSIBLE_LOCAL_ONLY:
		why.code = phoneLocalOnly
	default:
		why.code = phoneInvalid
	}
	return why
}
