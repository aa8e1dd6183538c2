package identifier

import (
	"golang.org/x/text/unicode/norm"

	"strings"
	"unicode"
	"unicode/utf8"
)

// maxBytes bounds every value. It is the historical maximum length of an
// e-mail address (64 + 1 + 255) and far above any phone number or CRM ID.
const maxBytes = 320

// clean applies the rules shared by all types: it trims whitespace and
// invisible characters from the edges and rejects values that are empty,
// too long, or contain characters that no identifier can contain.
func clean(raw string) (string, reason) {
	s := strings.TrimFunc(raw, isEdgeJunk)
	if s == "" {
		return "", reason{code: empty}
	}
	if len(s) > maxBytes {
		return "", reason{code: tooLong}
	}
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b < 0x20 || b == 0x7f {
				return "", reason{code: controlChar}
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == utf8.RuneError:
			// Either invalid UTF-8 or a literal U+FFFD left by an earlier
			// decoder; both mean the original character is lost.
			return "", reason{code: unreadableChar}
		case isNoncharacter(r):
			// U+FFFE typically is a byte-swapped BOM: a UTF-16 file read
			// with the wrong byte order.
			return "", reason{code: unreadableChar}
		case unicode.IsControl(r):
			return "", reason{code: controlChar}
		case isInvisible(r):
			return "", reason{code: invisibleChar, char: r}
		}
	}
	return s, reason{}
}

// isEdgeJunk reports whether r may be trimmed from the edges of a value.
func isEdgeJunk(r rune) bool {
	return unicode.IsSpace(r) || isInvisible(r)
}

// isInvisible reports whether r is a format character or otherwise ignorable
// (zero-width space and joiners, word joiner, BOM, bidirectional controls,
// soft hyphen, variation selectors, Hangul fillers). Such characters render
// as nothing, so a value containing one cannot be checked by eye and would
// not match the stored profile.
func isInvisible(r rune) bool {
	if r < 0x80 {
		return false
	}
	return unicode.Is(unicode.Cf, r) ||
		unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r) ||
		unicode.Is(unicode.Variation_Selector, r)
}

// isNoncharacter reports whether r is one of the 66 code points Unicode
// reserves as never being characters.
func isNoncharacter(r rune) bool {
	return (r >= 0xFDD0 && r <= 0xFDEF) || r&0xFFFE == 0xFFFE
}

// hasSpecialNumber reports whether s contains a superscript, subscript,
// circled, fractional or Roman-numeral number character. NFKC would fold
// these into ordinary digits or letters ("²" into "2"), but in a cell they
// are far more likely footnote marks or decoration than part of the
// identifier, so folding them would be a guess.
func hasSpecialNumber(s string) bool {
	for _, r := range s {
		if r >= utf8.RuneSelf && (unicode.Is(unicode.No, r) || unicode.Is(unicode.Nl, r)) {
			return true
		}
	}
	return false
}

// isASCII reports whether s contains only ASCII bytes.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// decorated are the blocks of styled letters: enclosed (ⓒ, 🄰), super- and
// subscript and modifier letters (ᵃ, ʰ), letterlike and mathematical (ℯ,
// 𝐚) and squared CJK compatibility forms.
var decorated = &unicode.RangeTable{
	R16: []unicode.Range16{
		{Lo: 0x02B0, Hi: 0x02FF, Stride: 1},
		{Lo: 0x1D2C, Hi: 0x1D6A, Stride: 1},
		{Lo: 0x1D9B, Hi: 0x1DBF, Stride: 1},
		{Lo: 0x2070, Hi: 0x209F, Stride: 1},
		{Lo: 0x2100, Hi: 0x214F, Stride: 1},
		{Lo: 0x2460, Hi: 0x24FF, Stride: 1},
		{Lo: 0x3200, Hi: 0x33FF, Stride: 1},
	},
	R32: []unicode.Range32{
		{Lo: 0x1D400, Hi: 0x1D7FF, Stride: 1},
		{Lo: 0x1F100, Hi: 0x1F1FF, Stride: 1},
	},
}

// hasDecoratedLetter reports whether s contains a styled letter that NFKC
// would fold into a plain one: circled (ⓒ), superscript (ᵃ), mathematical
// (𝐚) and the like. Like special numbers, in a cell they are decoration or
// a lookalike, and folding them would turn one address into another.
// Full-width forms, ligatures copied from PDFs and small forms still fold.
func hasDecoratedLetter(s string) bool {
	for _, r := range s {
		if r >= utf8.RuneSelf && unicode.Is(decorated, r) && norm.NFKC.String(string(r)) != string(r) {
			return true
		}
	}
	return false
}
