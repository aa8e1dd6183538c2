package identifier

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

// checkFastPath fails when a fast reading of digits answers and the full
// parse disagrees: read as "+"+digits, and as a number written in each of
// regions; it reports whether the international reading answered valid.
func checkFastPath(t *testing.T, digits string, regions ...string) bool {
	t.Helper()
	if r := internationalReading(digits); r.known {
		slow, valid := slowValidE164("+"+digits, "")
		if valid != r.valid || slow != r.e164 {
			t.Fatalf("+%s: fast path %q valid %v, full parse %q valid %v", digits, r.e164, r.valid, slow, valid)
		}
		if r.valid {
			if full, why := slowInternational(digits); why.code != ok || full != r.e164 {
				t.Fatalf("+%s: fast path %q, full path %q (%v)", digits, r.e164, full, why)
			}
		}
	}
	for _, region := range regions {
		if r := nationalReading(digits, region); r.known {
			slow, valid := slowValidE164(digits, region)
			if valid != r.valid || slow != r.e164 {
				t.Fatalf("%s in %s: fast path %q valid %v, full parse %q valid %v", digits, region, r.e164, r.valid, slow, valid)
			}
		}
	}
	r := internationalReading(digits)
	return r.known && r.valid
}

// fastRegions are the default regions the differential tests read numbers
// in: a spread of numbering plans (national prefixes 0, 1, 8, 06 and none;
// shared country codes; 00, 011 and other international prefixes).
var fastRegions = []string{"SE", "GB", "US", "CA", "DE", "FR", "IT", "BR", "IN", "RU", "KZ", "HU", "AU", "JP", "MX", "AR", "NO", "SJ", "GG"}

// Every example number of every region and type, and numbers one digit
// away from them (changed, dropped, added), read by the fast path give
// what the full path gives; and the fast path serves most valid numbers.
func TestPhoneFastPathAgrees(t *testing.T) {
	t.Parallel()
	regions, types := sortedRegions(), numberTypes
	var examples []string
	for _, region := range regions {
		for _, typ := range types {
			if num := phonenumbers.GetExampleNumberForType(region, typ); num != nil && phonenumbers.IsValidNumber(num) {
				examples = append(examples, phonenumbers.Format(num, phonenumbers.E164)[1:])
			}
		}
	}
	for cc := range phonenumbers.GetSupportedGlobalNetworkCallingCodes() {
		if num := phonenumbers.GetExampleNumberForNonGeoEntity(cc); num != nil {
			examples = append(examples, phonenumbers.Format(num, phonenumbers.E164)[1:])
		}
	}
	fast, near, nearFast := 0, 0, 0
	for _, e := range examples {
		if checkFastPath(t, e, fastRegions...) {
			fast++
		}
		for i := range len(e) {
			for d := byte('0'); d <= '9'; d++ {
				changed := e[:i] + string(d) + e[i+1:]
				near++
				if checkFastPath(t, changed, fastRegions[i%len(fastRegions)]) {
					nearFast++
				}
			}
			checkFastPath(t, e[:i]+e[i+1:], fastRegions[i%len(fastRegions)])
			checkFastPath(t, e[:i]+"5"+e[i:], fastRegions[(i+1)%len(fastRegions)])
		}
	}
	t.Logf("%d of %d example numbers took the fast path; %d of %d numbers one digit away", fast, len(examples), nearFast, near)
	if fast < len(examples)*9/10 {
		t.Errorf("only %d of %d valid example numbers took the fast path", fast, len(examples))
	}
	// Random digit strings: mostly invalid, so the fast path declines, but
	// what it accepts must agree.
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 50_000 {
		var b strings.Builder
		for range 3 + rng.IntN(15) {
			b.WriteByte(byte('0' + rng.IntN(10)))
		}
		checkFastPath(t, b.String(), fastRegions[i%len(fastRegions)])
	}
}

// FuzzPhoneFastPath is the differential test of the fast path against the
// full parse: make fuzz-phone runs it for ten minutes.
func FuzzPhoneFastPath(f *testing.F) {
	for i, s := range []string{"46701234567", "447911123456", "14155552671", "390612345678", "4915112345678",
		"33612345678", "80012345678", "8613800138000", "5511912345678", "61412345678", "12", "0046701234567",
		"0701234567", "011441234567890", "89161234567", "0612345678", "36201234567"} {
		f.Add(s, uint8(i))
	}
	f.Fuzz(func(t *testing.T, raw string, regionIndex uint8) {
		region := fastRegions[int(regionIndex)%len(fastRegions)]
		digits := onlyDigits(raw)
		checkFastPath(t, digits, region)
		checkFastPath(t, raw, region)
	})
}

// BenchmarkPhoneInternational normalizes valid numbers of many countries
// written in E.164 (+…), with 00, and as MSISDN (country code first, no
// prefix; without a default region and with SE), through the fast path
// and, side by side, through the full parse it stands in for.
func BenchmarkPhoneInternational(b *testing.B) {
	var e164 []string
	for _, region := range []string{"SE", "GB", "US", "DE", "FR", "IT", "ES", "NL", "BR", "IN", "CN", "AU", "NO", "FI", "DK", "PL"} {
		for _, typ := range []phonenumbers.PhoneNumberType{phonenumbers.MOBILE, phonenumbers.FIXED_LINE} {
			if num := phonenumbers.GetExampleNumberForType(region, typ); num != nil {
				e164 = append(e164, phonenumbers.Format(num, phonenumbers.E164))
			}
		}
	}
	for _, form := range []struct {
		name, region string
		in           func(string) string
	}{
		{"e164", "", func(s string) string { return s }},
		{"00", "", func(s string) string { return "00" + s[1:] }},
		{"msisdn", "", func(s string) string { return s[1:] }},
		{"msisdn-region-SE", "SE", func(s string) string { return s[1:] }},
	} {
		n, err := New(Phone, form.region)
		if err != nil {
			b.Fatal(err)
		}
		inputs := make([]string, len(e164))
		for i, s := range e164 {
			inputs[i] = form.in(s)
		}
		for _, path := range []struct {
			name string
			fast bool
		}{{"fast", true}, {"full", false}} {
			b.Run(form.name+"/"+path.name, func(b *testing.B) {
				phoneFastPath = path.fast
				defer func() { phoneFastPath = true }()
				i := 0
				for b.Loop() {
					// With a default region some of them are ambiguous:
					// an error, the same by either path.
					_, _ = n.Normalize(inputs[i%len(inputs)])
					i++
				}
			})
		}
	}
}
