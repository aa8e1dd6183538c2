package identifier

import (
	"errors"
	"sort"
	"strings"
	"sync"
	"testing"
	"unicode"

	"github.com/nyaruka/phonenumbers"
)

// testCase is one row of a normalization table: either want (the exact
// normalized value) or reason (a substring of the InvalidError reason) is set.
type testCase struct {
	name   string
	region string
	in     string
	want   string
	reason string
}

func runCases(t *testing.T, typ Type, cases []testCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n, err := New(typ, tc.region)
			if err != nil {
				t.Fatalf("New(%v, %q): %v", typ, tc.region, err)
			}
			got, err := n.Normalize(tc.in)
			valid := Valid(typ, tc.in, tc.region)
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("Normalize(%q) error %v, want %q", tc.in, err, tc.want)
				}
				if got != tc.want {
					t.Fatalf("Normalize(%q) = %q, want %q", tc.in, got, tc.want)
				}
				if !valid {
					t.Errorf("Valid(%q) = false, want true", tc.in)
				}
				// A stored value must normalize to itself.
				if again, err := n.Normalize(got); err != nil || again != got {
					t.Errorf("Normalize(%q) = %q, %v; not idempotent", got, again, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Normalize(%q) = %q, want error containing %q", tc.in, got, tc.reason)
			}
			var inv *InvalidError
			if !errors.As(err, &inv) {
				t.Fatalf("Normalize(%q) error %T, want *InvalidError", tc.in, err)
			}
			if !strings.Contains(inv.Reason, tc.reason) {
				t.Fatalf("Normalize(%q) reason %q, want it to contain %q", tc.in, inv.Reason, tc.reason)
			}
			if got != "" {
				t.Errorf("Normalize(%q) returned %q along with an error", tc.in, got)
			}
			if valid {
				t.Errorf("Valid(%q) = true, want false", tc.in)
			}
			assertReasonHidesValue(t, tc.in, inv.Reason)
		})
	}
}

// assertReasonHidesValue checks that a reason does not repeat the value,
// which is personal data. Reasons may name one character, and values may
// share words with the fixed reason texts ("mailto"), so it looks for runs
// of four characters of the value that occur in the reason but in no reason
// template.
func assertReasonHidesValue(t *testing.T, value, reason string) {
	t.Helper()
	v := []rune(value)
	for i := 0; i+4 <= len(v); i++ {
		part := string(v[i : i+4])
		if strings.Contains(reason, part) && !strings.Contains(reasonTemplates, part) {
			t.Errorf("reason %q contains %q from the value", reason, part)
			return
		}
	}
}

// reasonTemplates holds the text of every reason, with placeholders that do
// not occur in test values.
var reasonTemplates = func() string {
	var b strings.Builder
	for c := reasonCode(0); c < 255; c++ {
		b.WriteString(reason{code: c, char: '~', region: "~"}.String())
		b.WriteString(reason{code: c, countryCode: 1}.String())
		b.WriteByte('\n')
	}
	return b.String()
}()

func TestTypeString(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		typ  Type
		want string
	}{
		{Email, "email"},
		{Phone, "phone"},
		{CRMID, "crm_id"},
		{0, "Type(0)"},
		{-3, "Type(-3)"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			t.Parallel()
			if got := tc.typ.String(); got != tc.want {
				t.Fatalf("String() = %q, want %q", got, tc.want)
			}
			if tc.typ >= Email && tc.typ <= CRMID {
				back, err := ParseType(tc.want)
				if err != nil || back != tc.typ {
					t.Fatalf("ParseType(%q) = %v, %v; want %v", tc.want, back, err, tc.typ)
				}
			}
		})
	}
}

func TestParseTypeRejects(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"", "Email", "EMAIL", " email", "crmid", "crm-id", "Type(1)", "1"} {
		t.Run(in, func(t *testing.T) {
			t.Parallel()
			if typ, err := ParseType(in); err == nil {
				t.Fatalf("ParseType(%q) = %v, want error", in, typ)
			} else if !strings.Contains(err.Error(), "email, phone or crm_id") {
				t.Fatalf("ParseType(%q) error %q does not list the accepted names", in, err)
			}
		})
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		typ     Type
		region  string
		wantErr string
	}{
		{"no region", Phone, "", ""},
		{"upper case", Phone, "SE", ""},
		{"lower case", Phone, "se", ""},
		{"mixed case", Phone, "gB", ""},
		{"region checked for email too", Email, "XX", `unknown default region "XX": use an ISO 3166-1 code such as SE or GB`},
		{"UK is not ISO", Phone, "UK", "the code for the United Kingdom is GB"},
		{"three letters", Phone, "SWE", "unknown default region"},
		{"non-geographic", Phone, "001", "unknown default region"},
		{"unknown-region code", Phone, "ZZ", "unknown default region"},
		{"surrounding space", Phone, " SE", "unknown default region"},
		{"bad type", 0, "", "unknown identifier type"},
		{"bad type 4", 4, "SE", "unknown identifier type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n, err := New(tc.typ, tc.region)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				if n.Type() != tc.typ {
					t.Fatalf("Type() = %v, want %v", n.Type(), tc.typ)
				}
				return
			}
			if err == nil {
				t.Fatalf("New(%v, %q) succeeded, want error", tc.typ, tc.region)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("New(%v, %q) error %q, want it to contain %q", tc.typ, tc.region, err, tc.wantErr)
			}
		})
	}
}

func TestValidBadArguments(t *testing.T) {
	t.Parallel()
	if Valid(Phone, "+46701234567", "XX") {
		t.Error("Valid with an unknown region = true")
	}
	if Valid(0, "a@b.se", "") {
		t.Error("Valid with an unknown type = true")
	}
}

func TestInvalidError(t *testing.T) {
	t.Parallel()
	n, _ := New(Email, "")
	_, err := n.Normalize("no-at-sign")
	if err == nil || err.Error() != "invalid identifier: e-mail address has no @" {
		t.Fatalf("error = %v", err)
	}
}

// TestCommonRules runs the type-independent rules through every type.
func TestCommonRules(t *testing.T) {
	t.Parallel()
	for _, typ := range []Type{Email, Phone, CRMID} {
		valid := map[Type]string{Email: "a@b.se", Phone: "+46701234567", CRMID: "A1b2"}[typ]
		t.Run(typ.String(), func(t *testing.T) {
			t.Parallel()
			runCases(t, typ, []testCase{
				{name: "plain", in: valid, want: valid},
				{name: "ascii spaces and tabs", in: " \t" + valid + " \r\n", want: valid},
				{name: "NBSP edges", in: "\u00a0" + valid + "\u00a0", want: valid},
				{name: "ideographic space edges", in: "\u3000" + valid + "\u3000", want: valid},
				{name: "narrow NBSP and NEL", in: "\u202f" + valid + "\u0085", want: valid},
				{name: "zero-width edges", in: "\u200b\u200c" + valid + "\u200d\u2060", want: valid},
				{name: "BOM", in: "\ufeff" + valid, want: valid},
				{name: "bidi marks", in: "\u202a\u200e" + valid + "\u202c", want: valid},
				{name: "mixed edges", in: "\ufeff \u00a0\u200b" + valid + "\u200b \t", want: valid},

				{name: "empty", in: "", reason: "empty value"},
				{name: "only spaces", in: " \u00a0\u3000\t", reason: "empty value"},
				{name: "only invisible", in: "\ufeff\u200b", reason: "empty value"},
				{name: "zero-width inside", in: valid[:2] + "\u200b" + valid[2:], reason: "contains an invisible character (U+200B)"},
				{name: "word joiner inside", in: valid[:2] + "\u2060" + valid[2:], reason: "invisible character (U+2060)"},
				{name: "soft hyphen inside", in: valid[:2] + "\u00ad" + valid[2:], reason: "invisible character (U+00AD)"},
				{name: "hangul filler inside", in: valid[:2] + "\u3164" + valid[2:], reason: "invisible character (U+3164)"},
				{name: "NUL inside", in: valid[:2] + "\x00" + valid[2:], reason: "contains a control character"},
				{name: "NUL at edge", in: valid + "\x00", reason: "contains a control character"},
				{name: "tab inside", in: valid[:2] + "\t" + valid[2:], reason: "contains a control character"},
				{name: "newline inside", in: valid[:2] + "\n" + valid[2:], reason: "contains a control character"},
				{name: "DEL inside", in: valid[:2] + "\x7f" + valid[2:], reason: "contains a control character"},
				{name: "C1 control inside", in: valid[:2] + "\u0090" + valid[2:], reason: "contains a control character"},
				{name: "replacement char", in: valid[:2] + "\ufffd" + valid[2:], reason: "contains an unreadable character; check the file's text encoding"},
				{name: "replacement char at edge", in: valid + "\ufffd", reason: "unreadable character"},
				{name: "invalid UTF-8", in: valid[:2] + "\xff" + valid[2:], reason: "unreadable character"},
				{name: "latin-1 byte", in: valid + "\xe9", reason: "unreadable character"},
				{name: "swapped BOM", in: "\ufffe" + valid, reason: "unreadable character"},
				{name: "too long", in: strings.Repeat("1", 321), reason: "longer than 320 bytes"},
				{name: "too long after trimming", in: " " + strings.Repeat("1", 321) + " ", reason: "longer than 320 bytes"},
			})
		})
	}
}

func TestEmail(t *testing.T) {
	t.Parallel()
	runCases(t, Email, []testCase{
		{name: "simple", in: "john@example.com", want: "john@example.com"},
		{name: "lower-cased", in: "John.Doe@Example.COM", want: "john.doe@example.com"},
		{name: "unicode lower-cased", in: "ÅSA@EXAMPLE.SE", want: "åsa@example.se"},
		{name: "full-width", in: "ｊｏｈｎ＠example.com", want: "john@example.com"},
		{name: "circled letter", in: "ⓒarl@example.com", reason: "circled, superscript or styled letter"},
		{name: "mathematical bold", in: "𝐜arl@example.com", reason: "circled, superscript or styled letter"},
		{name: "superscript letter", in: "carlᵃ@example.com", reason: "circled, superscript or styled letter"},
		{name: "squared letters in the domain", in: "carl@🄰cme.com", reason: "circled, superscript or styled letter"},
		{name: "full-width everything", in: "ＪＯＨＮ＠ＥＸＡＭＰＬＥ．ＣＯＭ", want: "john@example.com"},
		{name: "small commercial at", in: "john\ufe6bexample.com", want: "john@example.com"},
		{name: "ligature from a PDF", in: "o\ufb03ce@example.com", want: "office@example.com"},
		{name: "decomposed accent composed", in: "jose\u0301@example.com", want: "josé@example.com"},
		{name: "IDN domain kept as unicode", in: "info@bücher.de", want: "info@bücher.de"},
		{name: "IDN domain lower-cased", in: "Info@BÜCHER.DE", want: "info@bücher.de"},
		{name: "punycode domain kept", in: "info@xn--bcher-kva.de", want: "info@xn--bcher-kva.de"},
		{name: "non-latin domain", in: "user@пример.рф", want: "user@пример.рф"},
		{name: "unicode local part", in: "Jörg@example.de", want: "jörg@example.de"},
		{name: "mailto", in: "mailto:john@example.com", want: "john@example.com"},
		{name: "MAILTO upper", in: "MAILTO:John@Example.com", want: "john@example.com"},
		{name: "mailto with edges", in: "\u00a0mailto:john@example.com\u200b", want: "john@example.com"},
		{name: "plus tag", in: "john+news@example.com", want: "john+news@example.com"},
		{name: "atext symbols", in: "a!#$%&'*+-/=?^_`{|}~b@example.com", want: "a!#$%&'*+-/=?^_`{|}~b@example.com"},
		{name: "subdomains", in: "a@mail.sub.example.co.uk", want: "a@mail.sub.example.co.uk"},
		{name: "hyphen and digits in domain", in: "a@my-shop2.example.com", want: "a@my-shop2.example.com"},
		{name: "64-byte local part", in: strings.Repeat("a", 64) + "@example.com", want: strings.Repeat("a", 64) + "@example.com"},
		{name: "63-byte label", in: "a@" + strings.Repeat("b", 63) + ".com", want: "a@" + strings.Repeat("b", 63) + ".com"},

		{name: "no at", in: "john.example.com", reason: "e-mail address has no @"},
		{name: "mailto only", in: "mailto:", reason: "has no @"},
		{name: "two at", in: "john@doe@example.com", reason: "more than one @"},
		{name: "two addresses", in: "a@example.com, b@example.com", reason: "more than one @; keep one address per cell"},
		{name: "name and address", in: "John <john@x.com>", reason: "looks like a name and address; keep only the address"},
		{name: "quoted name and address", in: `"Doe, John" <john@x.com>`, reason: "looks like a name and address"},
		{name: "angle brackets only", in: "<john@x.com>", reason: "angle brackets"},
		{name: "space inside", in: "john doe@example.com", reason: "contains a space"},
		{name: "space after mailto", in: "mailto: john@example.com", reason: "contains a space"},
		{name: "ideographic space inside", in: "john\u3000@example.com", reason: "contains a space"},
		{name: "NBSP inside", in: "john@\u00a0example.com", reason: "contains a space"},
		{name: "empty local part", in: "@example.com", reason: "nothing before the @"},
		{name: "empty domain", in: "john@", reason: "nothing after the @"},
		{name: "local part too long", in: strings.Repeat("a", 65) + "@example.com", reason: "more than 64 bytes before the @"},
		{name: "leading dot", in: ".john@example.com", reason: "dot at the start or end"},
		{name: "trailing dot in local part", in: "john.@example.com", reason: "dot at the start or end"},
		{name: "two dots in local part", in: "john..doe@example.com", reason: "two dots in a row"},
		{name: "quoted local part", in: `"john doe"@example.com`, reason: "contains a space"},
		{name: "quote in local part", in: `"john"@example.com`, reason: `not allowed before the @ ('"')`},
		{name: "comma in local part", in: "doe,john@example.com", reason: "not allowed before the @ (',')"},
		{name: "colon in local part", in: "john:doe@example.com", reason: "not allowed before the @"},
		{name: "symbol in local part", in: "john€@example.com", reason: "not allowed before the @ ('€')"},
		{name: "superscript", in: "john²@example.com", reason: "superscript"},
		{name: "circled digit", in: "john①@example.com", reason: "circled"},
		{name: "no dot in domain", in: "john@localhost", reason: "domain has no dot"},
		{name: "domain starts with dot", in: "john@.example.com", reason: "starts or ends with a dot or hyphen"},
		{name: "domain ends with dot", in: "john@example.com.", reason: "starts or ends with a dot or hyphen"},
		{name: "domain starts with hyphen", in: "john@-example.com", reason: "starts or ends with a dot or hyphen"},
		{name: "domain ends with hyphen", in: "john@example.com-", reason: "starts or ends with a dot or hyphen"},
		{name: "empty label", in: "john@example..com", reason: "two dots in a row"},
		{name: "label starts with hyphen", in: "john@mail.-example.com", reason: "part that starts or ends with a hyphen"},
		{name: "label ends with hyphen", in: "john@example-.com", reason: "part that starts or ends with a hyphen"},
		{name: "underscore in domain", in: "john@my_shop.com", reason: "domain has a character that is not allowed ('_')"},
		{name: "IP literal", in: "john@[192.168.0.1]", reason: "domain has a character that is not allowed ('[')"},
		{name: "IP address domain", in: "john@192.168.0.1", reason: "ends in a number"},
		{name: "label too long", in: "a@" + strings.Repeat("b", 64) + ".com", reason: "part longer than 63"},
		{name: "domain too long", in: "a@" + strings.Repeat(strings.Repeat("b", 60)+".", 5) + "com", reason: "domain is longer than 255"},
		{name: "comma in domain", in: "john@example,shop.com", reason: "domain has a character that is not allowed (',')"},
		{name: "query without mailto", in: "john@example.com?subject=hi", reason: "domain has a character that is not allowed ('?')"},
		{name: "mailto query", in: "mailto:john@example.com?subject=hi", reason: "mailto: link with parameters"},
		{name: "mailto to parameter", in: "mailto:?to=john@example.com", reason: "mailto: link with parameters"},
		{name: "mailto percent-encoding", in: "mailto:john%2Bnews@example.com", reason: "%-encoding"},
		{name: "mailto slashes", in: "mailto://john@example.com", reason: "mailto: link"},
		{name: "percent without mailto is legal", in: "john%news@example.com", want: "john%news@example.com"},
		{name: "NFKC expands past the limit", in: strings.Repeat("\ufdfa", 20) + "@example.com", reason: "longer than 320 bytes"},
	})
}

func TestPhone(t *testing.T) {
	t.Parallel()
	runCases(t, Phone, []testCase{
		// Written numbers.
		{name: "SE national with dashes", region: "SE", in: "070-123 45 67", want: "+46701234567"},
		{name: "SE national plain", region: "SE", in: "0701234567", want: "+46701234567"},
		{name: "SE national dots", region: "SE", in: "070.123.45.67", want: "+46701234567"},
		{name: "SE international", in: "+46 70 123 45 67", want: "+46701234567"},
		{name: "SE international with trunk zero", in: "+46 (0)70-123 45 67", want: "+46701234567"},
		{name: "SE international ignores region", region: "US", in: "+46701234567", want: "+46701234567"},
		{name: "SE 00 prefix", in: "0046701234567", want: "+46701234567"},
		{name: "SE 00 prefix with region", region: "US", in: "0046 70 123 45 67", want: "+46701234567"},
		{name: "SE 00 prefix with region SE", region: "SE", in: "00 46 70 123 45 67", want: "+46701234567"},
		{name: "Australian prefix 0011", region: "AU", in: "0011 46 70 123 45 67", want: "+46701234567"},
		{name: "SE lost plus, no region", in: "46701234567", want: "+46701234567"},
		{name: "SE lost plus, region SE", region: "SE", in: "46701234567", want: "+46701234567"},
		{name: "SE lost leading zero", region: "SE", in: "701234567", want: "+46701234567"},
		{name: "SE lost leading zero, written", region: "SE", in: "70-123 45 67", want: "+46701234567"},
		{name: "SE Stockholm landline", region: "SE", in: "08-123 456 78", want: "+46812345678"},
		{name: "UK international", in: "+44 20 7946 0958", want: "+442079460958"},
		{name: "UK international with (0)", in: "+44 (0)20 7946 0958", want: "+442079460958"},
		{name: "UK national", region: "GB", in: "020 7946 0958", want: "+442079460958"},
		{name: "UK national lower-case region", region: "gb", in: "(020) 7946 0958", want: "+442079460958"},
		{name: "US national", region: "US", in: "(202) 555-0143", want: "+12025550143"},
		{name: "US national dots", region: "US", in: "202.555.0143", want: "+12025550143"},
		{name: "US with leading 1", region: "US", in: "1-202-555-0143", want: "+12025550143"},
		{name: "US international", in: "+1 (202) 555-0143", want: "+12025550143"},
		{name: "US international prefix 011", region: "US", in: "011 46 70 123 45 67", want: "+46701234567"},
		{name: "tel URI", in: "tel:+46-70-123-45-67", want: "+46701234567"},
		{name: "TEL upper", region: "SE", in: "TEL:070 123 45 67", want: "+46701234567"},
		{name: "plus inside parentheses", in: "(+46) 70 123 45 67", want: "+46701234567"},
		{name: "full-width digits", region: "SE", in: "０７０－１２３ ４５ ６７", want: "+46701234567"},
		{name: "full-width plus", in: "＋４６７０１２３４５６７", want: "+46701234567"},
		{name: "unicode dashes", region: "SE", in: "070\u2013123\u201145\u221267", want: "+46701234567"},
		{name: "NBSP between groups", region: "SE", in: "070\u00a0123\u00a045\u202f67", want: "+46701234567"},
		{name: "Italian keeps its leading zero", in: "+39 06 1234 5678", want: "+390612345678"},

		// Spreadsheet damage.
		{name: "scientific notation", in: "4.6701234567E+10", want: "+46701234567"},
		{name: "scientific notation, decimal comma", in: "4,6701234567E+10", want: "+46701234567"},
		{name: "scientific notation, padded", in: "4.67012345670000E+010", want: "+46701234567"},
		{name: "scientific notation, lower-case e", in: "4.6701234567e+10", want: "+46701234567"},
		{name: "scientific notation, no sign", in: "4.6701234567E10", want: "+46701234567"},
		{name: "scientific notation, region SE", region: "SE", in: "4.6701234567E+10", want: "+46701234567"},
		{name: "scientific notation, national SE", region: "SE", in: "7.01234567E+08", want: "+46701234567"},
		{name: "scientific notation, UK", in: "4.42079460958E+11", want: "+442079460958"},
		{name: "scientific notation, full-width", in: "４．６７０１２３４５６７Ｅ＋１０", want: "+46701234567"},
		{name: "float suffix", in: "46701234567.0", want: "+46701234567"},
		{name: "float suffix, region SE", region: "SE", in: "701234567.0", want: "+46701234567"},
		{name: "float suffix, US", region: "US", in: "2025550143.0", want: "+12025550143"},
		{name: "rounded scientific notation", in: "4.67E+10", reason: "phone number was shortened by a spreadsheet (scientific notation); format the column as text and export again"},
		{name: "Excel General format", in: "4.42079E+11", reason: "shortened by a spreadsheet"},
		{name: "real trailing zero still rejected", in: "4.670123456E+10", reason: "shortened by a spreadsheet"},
		{name: "mantissa only", in: "5E+10", reason: "shortened by a spreadsheet"},
		{name: "huge exponent", in: "4.6E+99999", reason: "shortened by a spreadsheet"},
		{name: "scientific notation, not whole", in: "4.6701234567E+9", reason: "not a whole number"},
		{name: "negative exponent", in: "4.67E-10", reason: "not a whole number"},
		{name: "more digits than a cell holds", in: "1.234567890123456E+15", reason: "more digits than a spreadsheet number can hold"},
		{name: "float suffix with 16 digits", in: "1234567890123456.0", reason: "more digits than a spreadsheet number can hold"},
		{name: "two zero decimals", region: "SE", in: "701234567.00", reason: "spreadsheet number with decimals"},
		{name: "float suffix after plus", in: "+4930123456.0", reason: "spreadsheet number with decimals"},
		{name: "float suffix after formatting", region: "SE", in: "070-123 45 67.0", reason: "spreadsheet number with decimals"},
		{name: "dotted pairs ending in 00", region: "SE", in: "08.123.45.00", want: "+4681234500"},
		{name: "decimal comma zero", in: "46701234567,0", reason: "spreadsheet number with decimals"},

		// Ambiguity. 2032518441 is (203) 251-8441 in Connecticut and
		// +20 3 2518441 in Alexandria, Egypt; 468704256 is 046-870 42 56 in
		// Lund without its 0 and +46 8 704256 in Stockholm without its +.
		{name: "ambiguous US", region: "US", in: "2032518441", reason: "phone number is ambiguous: it reads as a number in US and as an international number; add + and the country code"},
		{name: "ambiguous US, written", region: "US", in: "(203) 251-8441", reason: "ambiguous"},
		{name: "ambiguous US, float", region: "US", in: "2032518441.0", reason: "ambiguous"},
		{name: "ambiguous SE", region: "SE", in: "468704256", reason: "it reads as a number in SE and as an international number"},
		{name: "US resolved with plus", region: "US", in: "+1 203 251 8441", want: "+12032518441"},
		{name: "US resolved with leading 1", region: "US", in: "1 203 251 8441", want: "+12032518441"},
		{name: "Egypt resolved with plus", region: "US", in: "+20 3 2518441", want: "+2032518441"},
		{name: "SE resolved with trunk zero", region: "SE", in: "046-870 42 56", want: "+46468704256"},
		{name: "SE resolved with plus", region: "SE", in: "+46 8 704256", want: "+468704256"},
		{name: "not ambiguous without a region", in: "2032518441", want: "+2032518441"},
		{name: "lost plus with another region", region: "SE", in: "4915112345678", want: "+4915112345678"},

		// Rejections.
		{name: "no country code", in: "0701234567", reason: "phone number has no country code; add it or set a default region"},
		{name: "no country code, US", in: "(202) 555-0143", reason: "no country code"},
		{name: "too short for SE", region: "SE", in: "070-12", reason: "phone number is too short for region SE"},
		{name: "too long for SE", region: "SE", in: "070-123 45 67 89 01", reason: "too long for region SE"},
		{name: "too short international", in: "+46 70 12", reason: "too short for country code +46"},
		{name: "too long international", in: "+46 70 123 45 67 89 01", reason: "too long for country code +46"},
		{name: "invalid for US", region: "US", in: "(123) 555-0143", reason: "not a valid number for region US"},
		{name: "US international prefix, too short", region: "US", in: "(011) 555-0143", reason: "too short for country code +55"},
		{name: "unknown country code", in: "+999 123 456", reason: "unknown country code"},
		{name: "00 then zero", in: "000701234567", reason: "unknown country code"},
		{name: "single digit", region: "SE", in: "7", reason: "too short"},
		{name: "plus only", in: "+", reason: "has no digits"},
		{name: "dashes only", in: "--", reason: "has no digits"},
		{name: "letters", region: "US", in: "1-800-FLOWERS", reason: "phone number contains letters"},
		{name: "label", region: "SE", in: "Mobile: 070-123 45 67", reason: "contains letters"},
		{name: "extension x", region: "US", in: "(202) 555-0143 x12", reason: "phone number has an extension; remove it"},
		{name: "extension ext.", in: "+1 202 555 0143 ext. 12", reason: "has an extension"},
		{name: "extension EXT", in: "+1 202 555 0143 EXT 12", reason: "has an extension"},
		{name: "extension hash", in: "+1 202 555 0143 #12", reason: "has an extension"},
		{name: "tel URI extension", in: "tel:+1-202-555-0143;ext=12", reason: "has an extension"},
		{name: "x without digits", in: "+1 202 555 0143 x", reason: "contains letters"},
		{name: "plus in the middle", in: "46+701234567", reason: "has a + that is not at the start"},
		{name: "two plus signs", in: "++46701234567", reason: "has a + that is not at the start"},
		{name: "two numbers", region: "SE", in: "070-123 45 67, 070-765 43 21", reason: "contains ','; keep one number per cell"},
		{name: "slash", region: "DE", in: "030/1234567", reason: "contains '/'"},
		{name: "semicolon", region: "SE", in: "0701234567;0707654321", reason: "contains ';'"},
		{name: "apostrophe text marker", region: "SE", in: "'0701234567", reason: "not allowed ('''"},
		{name: "star", region: "SE", in: "*31#", reason: "not allowed ('*')"},
		{name: "arabic-indic digits", in: "+٤٦٧٠١٢٣٤٥٦٧", reason: "digits other than 0-9"},
		{name: "superscript footnote", region: "SE", in: "070-123 45 67¹", reason: "superscript"},
		{name: "too many digits", in: "+4670123456701234567012345670123", reason: "too many digits"},
		{name: "e-mail in phone column", in: "john@example.com", reason: "contains letters"},
	})
}

func TestCRMID(t *testing.T) {
	t.Parallel()
	runCases(t, CRMID, []testCase{
		{name: "salesforce style", in: "0035g00000AbCdEAAV", want: "0035g00000AbCdEAAV"},
		{name: "case kept", in: "AbC-123", want: "AbC-123"},
		{name: "lower and upper differ", in: "abc-123", want: "abc-123"},
		{name: "trimmed", in: "\u00a0 AbC-123\u200b\t", want: "AbC-123"},
		{name: "inner space kept", in: "CUST 00123", want: "CUST 00123"},
		{name: "symbols kept", in: "a/b:c#1", want: "a/b:c#1"},
		{name: "unicode kept", in: "Kund-Ö1", want: "Kund-Ö1"},
		{name: "full-width not folded", in: "ＡＢＣ", want: "ＡＢＣ"},
		{name: "GUID", in: "3F2504E0-4F89-11D3-9A0C-0305E82C3301", want: "3F2504E0-4F89-11D3-9A0C-0305E82C3301"},
		{name: "hex with E", in: "12E4", want: "12E4"},
		{name: "numeric ID", in: "1234567", want: "1234567"},
		{name: "leading zeros kept", in: "0001234", want: "0001234"},
		{name: "version-like", in: "1.2.3", want: "1.2.3"},
		{name: "decimal that is not zero", in: "123.5", want: "123.5"},
		{name: "256 bytes", in: strings.Repeat("x", 256), want: strings.Repeat("x", 256)},

		{name: "too long", in: strings.Repeat("x", 257), reason: "CRM ID is longer than 256 bytes"},
		{name: "NBSP inside", in: "CUST\u00a000123", reason: "other than an ordinary space (U+00A0)"},
		{name: "ideographic space inside", in: "CUST\u300000123", reason: "(U+3000)"},
		{name: "line separator inside", in: "CUST\u202800123", reason: "(U+2028)"},
		{name: "zero-width inside", in: "AB\u200bC", reason: "contains an invisible character (U+200B)"},
		{name: "NUL inside", in: "AB\x00C", reason: "contains a control character"},
		{name: "scientific notation", in: "1.23457E+11", reason: "CRM ID looks like a number in scientific notation"},
		{name: "scientific notation, negative", in: "1E-05", reason: "scientific notation"},
		{name: "float suffix", in: "123456.0", reason: "CRM ID looks like a whole number to which a spreadsheet added decimals"},
		{name: "decimal comma", in: "123456,00", reason: "added decimals"},
		{name: "thousands with spaces", in: "1 234 567", reason: "thousands separators"},
		{name: "thousands with commas", in: "1,234,567", reason: "thousands separators"},
		{name: "thousands with apostrophes", in: "1'234'567", reason: "thousands separators"},
	})
}

// TestConcurrentUse shares one Normalizer between goroutines; run with -race.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	n, err := New(Phone, "SE")
	if err != nil {
		t.Fatal(err)
	}
	inputs := []string{"070-123 45 67", "+44 20 7946 0958", "4.6701234567E+10", "468704256", "x"}
	want := make([]string, len(inputs))
	for i, in := range inputs {
		want[i], _ = n.Normalize(in)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				k := (g + i) % len(inputs)
				if got, _ := n.Normalize(inputs[k]); got != want[k] {
					t.Errorf("Normalize(%q) = %q, want %q", inputs[k], got, want[k])
					return
				}
			}
		}()
	}
	wg.Wait()
}

func BenchmarkNormalize(b *testing.B) {
	for _, bc := range []struct {
		typ    Type
		region string
		inputs []string
	}{
		{Email, "", []string{"john.doe@example.com", "Ｊｏｈｎ＠Example.com", "Info@BÜCHER.DE", "not an address"}},
		{Phone, "SE", []string{"070-123 45 67", "+44 20 7946 0958", "46701234567", "4.6701234567E+10"}},
		{CRMID, "", []string{"0035g00000AbCdEAAV", " CUST-00123 ", "1.23457E+11"}},
	} {
		n, err := New(bc.typ, bc.region)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bc.typ.String(), func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				_, _ = n.Normalize(bc.inputs[i%len(bc.inputs)])
				i++
			}
		})
	}
}

// sortedRegions are the regions of the phone metadata, in order.
func sortedRegions() []string {
	regions := make([]string, 0, 256)
	for r := range phonenumbers.GetSupportedRegions() {
		regions = append(regions, r)
	}
	sort.Strings(regions)
	return regions
}

// numberTypes are the phone number types with example numbers.
var numberTypes = []phonenumbers.PhoneNumberType{
	phonenumbers.FIXED_LINE, phonenumbers.MOBILE, phonenumbers.TOLL_FREE, phonenumbers.PREMIUM_RATE,
	phonenumbers.SHARED_COST, phonenumbers.VOIP, phonenumbers.PERSONAL_NUMBER, phonenumbers.PAGER,
	phonenumbers.UAN, phonenumbers.VOICEMAIL,
}

// TestPhoneExampleNumbers runs the example numbers of every region and
// number type in the phone metadata through the normalizer: the E.164 and
// international forms must come back unchanged, and the national form with
// the region as default must give the same number or be reported ambiguous.
func TestPhoneExampleNumbers(t *testing.T) {
	t.Parallel()
	regions, types := sortedRegions(), numberTypes
	noRegion, _ := New(Phone, "")
	checked, ambiguous := 0, 0
	for _, region := range regions {
		national, err := New(Phone, region)
		if err != nil {
			t.Fatalf("New(Phone, %q): %v", region, err)
		}
		for _, typ := range types {
			num := phonenumbers.GetExampleNumberForType(region, typ)
			if num == nil || !phonenumbers.IsValidNumber(num) {
				continue
			}
			checked++
			e164 := phonenumbers.Format(num, phonenumbers.E164)
			for _, in := range []string{e164, phonenumbers.Format(num, phonenumbers.INTERNATIONAL)} {
				if got, err := noRegion.Normalize(in); err != nil || got != e164 {
					t.Errorf("%s %v: Normalize(%q) = %q, %v; want %q", region, typ, in, got, err, e164)
				}
			}
			in := phonenumbers.Format(num, phonenumbers.NATIONAL)
			if back, err := phonenumbers.Parse(in, region); err != nil || !phonenumbers.IsValidNumber(back) {
				// The library cannot read its own national format back
				// (AR mobile, "09 15-2345-6789"); rejecting it is right.
				continue
			}
			got, err := national.Normalize(in)
			var inv *InvalidError
			switch {
			case errors.As(err, &inv) && strings.Contains(inv.Reason, "ambiguous"):
				ambiguous++
			case err != nil || got != e164:
				t.Errorf("%s %v: Normalize(%q) with region = %q, %v; want %q", region, typ, in, got, err, e164)
			}
		}
	}
	t.Logf("%d example numbers, %d national forms ambiguous", checked, ambiguous)
}

// TestEmailEveryRune puts every code point into an address and checks that
// whatever is accepted is a fixed point of the normalization.
func TestEmailEveryRune(t *testing.T) {
	if testing.Short() {
		t.Skip("takes seconds")
	}
	t.Parallel()
	n, _ := New(Email, "")
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if r >= 0xD800 && r <= 0xDFFF {
			continue
		}
		for _, in := range []string{"a" + string(r) + "@example.com", "a@ex" + string(r) + ".com", string(r) + "@example.com"} {
			got, err := n.Normalize(in)
			if err != nil {
				continue
			}
			if again, err := n.Normalize(got); err != nil || again != got {
				t.Fatalf("Normalize(%q) = %q, then %q, %v", in, got, again, err)
			}
		}
	}
}

// TestValidDoesNotFormatReasons checks that rejecting a value in Valid costs
// no allocation, since column suggestion runs it over whole columns.
func TestValidDoesNotFormatReasons(t *testing.T) {
	for _, tc := range []struct {
		typ Type
		in  string
	}{
		{Email, "not an address"},
		{Email, "john@example..com"},
		{Email, "jo\u200bhn@example.com"},
		{Phone, "Mobile: 070-123 45 67"},
		{Phone, "070-123 45 67, 070-765 43 21"},
		{CRMID, "1.23457E+11"},
		{CRMID, "CUST\u00a000123"},
	} {
		if allocs := testing.AllocsPerRun(100, func() { Valid(tc.typ, tc.in, "") }); allocs != 0 {
			t.Errorf("Valid(%v, %q) allocates %v times", tc.typ, tc.in, allocs)
		}
	}
}
