package identifier

import (
	"strings"
	"unicode"
)

// maxCRMIDBytes bounds a CRM ID; real ones are far shorter, so a longer value
// is a whole row or a note pasted into the wrong column.
const maxCRMIDBytes = 256

// normalizeCRMID checks s (already cleaned) and returns it unchanged: CRM IDs
// are compared exactly, so even case and inner spaces are kept.
//
// Besides the common rules, it rejects values a spreadsheet has visibly
// turned into numbers (scientific notation, added decimals, thousands
// separators). Left alone they would silently match no profile, and the
// deletion would be missed without anybody noticing.
func normalizeCRMID(s string) (string, reason) {
	if len(s) > maxCRMIDBytes {
		return "", reason{code: crmTooLong}
	}
	if !isASCII(s) {
		for _, r := range s {
			// An ordinary space may be part of an ID, but a no-break or
			// other special space looks identical and would not match.
			if r != ' ' && unicode.IsSpace(r) {
				return "", reason{code: crmUnusualSpace, char: r}
			}
		}
		return s, reason{}
	}
	if why := spreadsheetDamage(s); why.code != ok {
		return "", why
	}
	return s, reason{}
}

// spreadsheetDamage recognizes the shapes a spreadsheet gives a number
// column: "1.23457E+11", "123456.0" and "1,234,567". Scientific notation is
// recognized only with a signed exponent, as spreadsheets write it, because
// unsigned forms like "12E4" are plausible hexadecimal IDs.
func spreadsheetDamage(s string) reason {
	intPart, rest := leadingDigits(s)
	if intPart == "" || rest == "" {
		return reason{}
	}
	if (rest[0] == '.' || rest[0] == ',') && len(rest) > 1 {
		frac, after := leadingDigits(rest[1:])
		if frac != "" && after == "" && strings.Trim(frac, "0") == "" {
			return reason{code: crmDecimal}
		}
		if frac != "" {
			rest = after // possibly the exponent of scientific notation
		}
	}
	if len(rest) > 2 && (rest[0] == 'e' || rest[0] == 'E') && (rest[1] == '+' || rest[1] == '-') {
		if exp, after := leadingDigits(rest[2:]); exp != "" && after == "" {
			return reason{code: crmScientific}
		}
	}
	if isGroupedNumber(s) {
		return reason{code: crmThousands}
	}
	return reason{}
}

// isGroupedNumber reports whether s is digits in groups of three after a
// first group of one to three, all separated by the same character out of
// space, comma, dot and apostrophe: "1 234 567", "12,345", "1'000'000".
func isGroupedNumber(s string) bool {
	first, rest := leadingDigits(s)
	if first == "" || len(first) > 3 || rest == "" {
		return false
	}
	sep := rest[0]
	if sep != ' ' && sep != ',' && sep != '.' && sep != '\'' {
		return false
	}
	for rest != "" {
		if rest[0] != sep {
			return false
		}
		var group string
		group, rest = leadingDigits(rest[1:])
		if len(group) != 3 {
			return false
		}
	}
	return true
}
