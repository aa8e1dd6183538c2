package identifier

import (
	"errors"
	"strings"
	"testing"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// fuzzRegions are the default regions a phone fuzz input can pick: none,
// regions with and without a trunk prefix, and NANPA.
var fuzzRegions = [...]string{"", "SE", "GB", "US", "DE", "IT", "BR", "AR", "CN", "JP", "RU", "FR"}

// checkCommon asserts the invariants that hold for every type and returns
// the normalized value, or ok=false if raw was rejected.
func checkCommon(t *testing.T, typ Type, raw, region string) (out string, ok bool) {
	t.Helper()
	n, err := New(typ, region)
	if err != nil {
		t.Fatalf("New(%v, %q): %v", typ, region, err)
	}
	out, err = n.Normalize(raw)
	if valid := Valid(typ, raw, region); valid != (err == nil) {
		t.Fatalf("Valid(%q) = %v but Normalize error = %v", raw, valid, err)
	}
	if err != nil {
		var inv *InvalidError
		if !errors.As(err, &inv) || inv.Reason == "" {
			t.Fatalf("Normalize(%q) error %#v, want *InvalidError with a reason", raw, err)
		}
		if out != "" {
			t.Fatalf("Normalize(%q) returned %q with an error", raw, out)
		}
		if v := strings.TrimSpace(raw); len(v) >= 6 && strings.Contains(inv.Reason, v) {
			t.Fatalf("reason %q repeats the value", inv.Reason)
		}
		return "", false
	}
	if out == "" {
		t.Fatalf("Normalize(%q) returned an empty value", raw)
	}
	again, err := n.Normalize(out)
	if err != nil || again != out {
		t.Fatalf("Normalize(%q) = %q, but Normalize(%q) = %q, %v", raw, out, out, again, err)
	}
	for _, r := range out {
		if unicode.IsControl(r) || isInvisible(r) || r == unicode.ReplacementChar {
			t.Fatalf("Normalize(%q) = %q contains %U", raw, out, r)
		}
	}
	return out, true
}

func assertNoSpace(t *testing.T, raw, out string) {
	t.Helper()
	if i := strings.IndexFunc(out, unicode.IsSpace); i >= 0 {
		t.Fatalf("Normalize(%q) = %q contains whitespace", raw, out)
	}
}

func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{
		"john@example.com", "John.Doe@Example.COM", "ｊｏｈｎ＠example.com", "info@bücher.de",
		"mailto:john@example.com", "\u00a0john@example.com\u200b", "jo\u200bhn@example.com",
		"John <john@x.com>", "a@b", "a@@b.c", "a..b@c.d", "o\ufb03ce@example.com", "İ@example.com",
		"jose\u0301@example.com", "user@пример.рф", "\ufdfa@x.se", "a@xn--bcher-kva.de", "a@1.2.3.4",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		out, ok := checkCommon(t, Email, raw, "")
		if !ok {
			return
		}
		assertNoSpace(t, raw, out)
		if strings.Count(out, "@") != 1 {
			t.Fatalf("Normalize(%q) = %q does not have exactly one @", raw, out)
		}
		if strings.ToLower(out) != out || !norm.NFKC.IsNormalString(out) {
			t.Fatalf("Normalize(%q) = %q is not lower-case NFKC", raw, out)
		}
		if len(out) > maxBytes {
			t.Fatalf("Normalize(%q) = %q is longer than %d bytes", raw, out, maxBytes)
		}
	})
}

// onlyDigits is s without what is not an ASCII digit.
func onlyDigits(s string) string {
	return strings.Map(func(r rune) rune {
		if '0' <= r && r <= '9' {
			return r
		}
		return -1
	}, s)
}

func FuzzNormalizePhone(f *testing.F) {
	for _, s := range []struct {
		raw    string
		region uint8
	}{
		{"070-123 45 67", 1}, {"+44 20 7946 0958", 0}, {"(202) 555-0143", 3}, {"0046701234567", 0},
		{"46701234567", 0}, {"4.6701234567E+10", 0}, {"4,6701234567E+10", 1}, {"46701234567.0", 0},
		{"4.67012345670000E+010", 0}, {"2032518441", 3}, {"468704256", 1}, {"tel:+1-202-555-0143;ext=12", 0},
		{"０７０－１２３ ４５ ６７", 1}, {"+46 (0)70-123 45 67", 4}, {"4.67E+10", 0}, {"1E-5", 2},
		{"011 46 70 123 45 67", 3}, {"+39 06 1234 5678", 5}, {"(11) 91234-5678", 6}, {"x", 0},
	} {
		f.Add(s.raw, s.region)
	}
	f.Fuzz(func(t *testing.T, raw string, regionIndex uint8) {
		region := fuzzRegions[int(regionIndex)%len(fuzzRegions)]
		// Random text is rarely a valid number, so the digits of the input
		// are also tried on their own, to exercise the accepting paths.
		digits := onlyDigits(raw)
		for _, in := range []string{raw, digits, "+" + digits} {
			out, ok := checkCommon(t, Phone, in, region)
			if !ok {
				continue
			}
			if len(out) < 2 || out[0] != '+' || strings.Trim(out[1:], "0123456789") != "" {
				t.Fatalf("Normalize(%q) with region %q = %q, not E.164", in, region, out)
			}
			// The result does not depend on the region once it has a "+".
			if other, err := normalizeWith(t, Phone, out, ""); err != nil || other != out {
				t.Fatalf("Normalize(%q) without region = %q, %v; want %q", out, other, err, out)
			}
		}
	})
}

func FuzzNormalizeCRMID(f *testing.F) {
	for _, s := range []string{
		"0035g00000AbCdEAAV", " AbC-123 ", "CUST 00123", "CUST\u00a000123", "AB\u200bC", "1.23457E+11",
		"123456.0", "1 234 567", "12E4", "ＡＢＣ", "\ufeffX",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		out, ok := checkCommon(t, CRMID, raw, "")
		if !ok {
			return
		}
		// Nothing but the trimming may change a CRM ID.
		if !strings.Contains(raw, out) {
			t.Fatalf("Normalize(%q) = %q is not a part of the input", raw, out)
		}
		if strings.TrimFunc(out, unicode.IsSpace) != out {
			t.Fatalf("Normalize(%q) = %q has whitespace at an edge", raw, out)
		}
		if i := strings.IndexFunc(out, func(r rune) bool { return r != ' ' && unicode.IsSpace(r) }); i >= 0 {
			t.Fatalf("Normalize(%q) = %q contains whitespace other than U+0020", raw, out)
		}
		if len(out) > maxCRMIDBytes {
			t.Fatalf("Normalize(%q) = %q is longer than %d bytes", raw, out, maxCRMIDBytes)
		}
	})
}

// normalizeWith is a test shorthand for New followed by Normalize.
func normalizeWith(t *testing.T, typ Type, raw, region string) (string, error) {
	t.Helper()
	n, err := New(typ, region)
	if err != nil {
		t.Fatal(err)
	}
	return n.Normalize(raw)
}
