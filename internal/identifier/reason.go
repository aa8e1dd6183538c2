package identifier

import (
	"fmt"
	"strconv"
)

// reasonCode names one way a value can be invalid. Reasons are carried as
// small values and only turned into text by reason.String, so that Valid,
// which runs over whole columns, never formats messages it would discard.
type reasonCode uint8

const (
	ok reasonCode = iota
	badType

	// Common to all types.
	empty
	tooLong
	controlChar
	invisibleChar
	unreadableChar
	specialNumberChar
	decoratedLetter

	// E-mail.
	emailNameAndAddress
	emailAngleBrackets
	emailMailtoLink
	emailNoAt
	emailManyAt
	emailSpace
	emailTooLong
	emailLocalEmpty
	emailLocalTooLong
	emailLocalDots
	emailLocalChar
	emailDomainEmpty
	emailDomainTooLong
	emailDomainNoDot
	emailDomainEdge
	emailDomainEmptyLabel
	emailDomainLabelHyphen
	emailDomainLabelTooLong
	emailDomainChar
	emailDomainNumericTLD

	// Phone.
	phoneNoDigits
	phoneLetters
	phoneExtension
	phonePlusNotFirst
	phoneListSeparator
	phoneOtherDigits
	phoneChar
	phoneTooManyDigits
	phoneShortened
	phoneNotWhole
	phoneDecimals
	phoneFloatPrecision
	phoneNoCountryCode
	phoneAmbiguous
	phoneUnknownCountryCode
	phoneTooShort
	phoneTooLong
	phoneWrongLength
	phoneLocalOnly
	phoneInvalid

	// CRM ID.
	crmTooLong
	crmUnusualSpace
	crmScientific
	crmDecimal
	crmThousands
)

// reason is why a value is invalid, with the details its message needs.
type reason struct {
	code reasonCode
	// char is the offending character, for reasons about one character.
	char rune
	// region and countryCode name the numbering plan a phone number was
	// checked against: a default region ("SE"), or else a country calling
	// code (44). They are kept apart rather than formatted so that a
	// rejection costs no allocation.
	region      string
	countryCode int32
}

// plan formats the numbering plan as "region SE" or "country code +44".
func (r reason) plan() string {
	if r.region != "" {
		return "region " + r.region
	}
	return "country code +" + strconv.Itoa(int(r.countryCode))
}

var reasonText = [...]string{
	badType: "unknown identifier type",

	empty:          "empty value",
	tooLong:        "value is longer than 320 bytes",
	controlChar:    "contains a control character (such as a tab or line break)",
	unreadableChar: "contains an unreadable character; check the file's text encoding",
	specialNumberChar: "contains a superscript, subscript, circled or other special number character; " +
		"use the digits 0-9",
	decoratedLetter: "contains a circled, superscript or styled letter (such as ⓒ or ᵃ) " +
		"that only looks like a plain one; type the address with plain letters",

	emailNameAndAddress:     "looks like a name and address; keep only the address",
	emailAngleBrackets:      "e-mail address is in angle brackets; keep only the address",
	emailMailtoLink:         "e-mail address is a mailto: link with parameters or %-encoding; keep only the address",
	emailNoAt:               "e-mail address has no @",
	emailManyAt:             "e-mail address has more than one @; keep one address per cell",
	emailSpace:              "e-mail address contains a space",
	emailTooLong:            "e-mail address is longer than 320 bytes",
	emailLocalEmpty:         "e-mail address has nothing before the @",
	emailLocalTooLong:       "e-mail address has more than 64 bytes before the @",
	emailLocalDots:          "e-mail address has a dot at the start or end of the part before the @, or two dots in a row",
	emailDomainEmpty:        "e-mail address has nothing after the @",
	emailDomainTooLong:      "e-mail domain is longer than 255 bytes",
	emailDomainNoDot:        "e-mail domain has no dot",
	emailDomainEdge:         "e-mail domain starts or ends with a dot or hyphen",
	emailDomainEmptyLabel:   "e-mail domain has two dots in a row",
	emailDomainLabelHyphen:  "e-mail domain has a part that starts or ends with a hyphen",
	emailDomainLabelTooLong: "e-mail domain has a part longer than 63 characters",
	emailDomainNumericTLD:   "e-mail domain ends in a number instead of a name such as .com",

	phoneNoDigits:      "phone number has no digits",
	phoneLetters:       "phone number contains letters",
	phoneExtension:     "phone number has an extension; remove it",
	phonePlusNotFirst:  "phone number has a + that is not at the start",
	phoneOtherDigits:   "phone number contains digits other than 0-9",
	phoneTooManyDigits: "phone number has too many digits",
	phoneShortened: "phone number was shortened by a spreadsheet (scientific notation); " +
		"format the column as text and export again",
	phoneNotWhole: "phone number is not a whole number",
	phoneDecimals: "phone number looks like a spreadsheet number with decimals; " +
		"format the column as text and export again",
	phoneFloatPrecision: "phone number has more digits than a spreadsheet number can hold; " +
		"format the column as text and export again",
	phoneNoCountryCode:      "phone number has no country code; add it or set a default region",
	phoneUnknownCountryCode: "phone number has an unknown country code",

	crmTooLong: "CRM ID is longer than 256 bytes",
	crmScientific: "CRM ID looks like a number in scientific notation, which a spreadsheet may have rounded; " +
		"format the column as text and export again",
	crmDecimal: "CRM ID looks like a whole number to which a spreadsheet added decimals; " +
		"format the column as text and export again",
	crmThousands: "CRM ID looks like a number with thousands separators added by a spreadsheet; " +
		"format the column as text and export again",
}

// String returns the user-facing text of the reason.
func (r reason) String() string {
	switch r.code {
	case invisibleChar:
		return "contains an invisible character (" + codePoint(r.char) + ")"
	case emailLocalChar:
		return "e-mail address has a character that is not allowed before the @ (" + describeChar(r.char) + ")"
	case emailDomainChar:
		return "e-mail domain has a character that is not allowed (" + describeChar(r.char) + ")"
	case phoneListSeparator:
		return "phone number contains " + describeChar(r.char) +
			"; keep one number per cell and use only spaces, dashes, dots or parentheses between digits"
	case phoneChar:
		return "phone number contains a character that is not allowed (" + describeChar(r.char) + ")"
	case phoneAmbiguous:
		return "phone number is ambiguous: it reads as a number in " + r.region +
			" and as an international number; add + and the country code"
	case phoneTooShort:
		if r.region == "" && r.countryCode == 0 {
			return "phone number is too short"
		}
		return "phone number is too short for " + r.plan()
	case phoneTooLong:
		return "phone number is too long for " + r.plan()
	case phoneWrongLength:
		return "phone number has the wrong number of digits for " + r.plan()
	case phoneLocalOnly:
		return "phone number seems to lack an area code for " + r.plan()
	case phoneInvalid:
		return "phone number is not a valid number for " + r.plan()
	case crmUnusualSpace:
		return "CRM ID contains a space character other than an ordinary space (" + codePoint(r.char) + ")"
	}
	if int(r.code) < len(reasonText) && reasonText[r.code] != "" {
		return reasonText[r.code]
	}
	return "invalid value"
}

// codePoint formats a rune as U+XXXX.
func codePoint(r rune) string { return fmt.Sprintf("U+%04X", r) }

// describeChar shows a single character, quoted when it is visible. A single
// character does not identify anybody, so it may appear in a reason.
func describeChar(r rune) string {
	if strconv.IsPrint(r) && r != ' ' {
		return "'" + string(r) + "'"
	}
	return codePoint(r)
}
