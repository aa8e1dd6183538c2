package identifier

import (
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

// checkFastPath fails when the fast path answers for digits and the full
// path disagrees; it reports whether the fast path answered.
func checkFastPath(t *testing.T, digits string) bool {
	t.Helper()
	fast, answered := fastInternational(digits)
	if !answered {
		return false
	}
	slow, why := slowInternational(digits)
	if why.code != ok || slow != fast {
		t.Fatalf("+%s: fast path %q, full path %q (%v)", digits, fast, slow, why)
	}
	return true
}

// Every example number of every region and type, and numbers one digit
// away from them (changed, dropped, added), read by the fast path give
// what the full path gives; and the fast path serves most valid numbers.
func TestPhoneFastPathAgrees(t *testing.T) {
	t.Parallel()
	regions := make([]string, 0, 256)
	for r := range phonenumbers.GetSupportedRegions() {
		regions = append(regions, r)
	}
	sort.Strings(regions)
	types := []phonenumbers.PhoneNumberType{
		phonenumbers.FIXED_LINE, phonenumbers.MOBILE, phonenumbers.TOLL_FREE, phonenumbers.PREMIUM_RATE,
		phonenumbers.SHARED_COST, phonenumbers.VOIP, phonenumbers.PERSONAL_NUMBER, phonenumbers.PAGER,
		phonenumbers.UAN, phonenumbers.VOICEMAIL,
	}
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
		if checkFastPath(t, e) {
			fast++
		}
		for i := range len(e) {
			for d := byte('0'); d <= '9'; d++ {
				changed := e[:i] + string(d) + e[i+1:]
				near++
				if checkFastPath(t, changed) {
					nearFast++
				}
			}
			checkFastPath(t, e[:i]+e[i+1:])
			checkFastPath(t, e[:i]+"5"+e[i:])
		}
	}
	t.Logf("%d of %d example numbers took the fast path; %d of %d numbers one digit away", fast, len(examples), nearFast, near)
	if fast < len(examples)*9/10 {
		t.Errorf("only %d of %d valid example numbers took the fast path", fast, len(examples))
	}
	// Random digit strings: mostly invalid, so the fast path declines, but
	// what it accepts must agree.
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200_000 {
		var b strings.Builder
		for range 3 + rng.IntN(15) {
			b.WriteByte(byte('0' + rng.IntN(10)))
		}
		checkFastPath(t, b.String())
	}
}

// FuzzPhoneFastPath is the differential test of the fast path against the
// full parse: make fuzz-phone runs it for ten minutes.
func FuzzPhoneFastPath(f *testing.F) {
	for _, s := range []string{"46701234567", "447911123456", "14155552671", "390612345678", "4915112345678",
		"33612345678", "80012345678", "8613800138000", "5511912345678", "61412345678", "12", "0046701234567"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		digits := strings.Map(func(r rune) rune {
			if '0' <= r && r <= '9' {
				return r
			}
			return -1
		}, raw)
		checkFastPath(t, digits)
		checkFastPath(t, raw)
	})
}

// BenchmarkPhoneInternational normalizes valid numbers of many countries
// written in E.164 (+…), with 00, and as MSISDN (country code first, no
// prefix, no default region), through the fast path and, side by side,
// through the full parse it stands in for.
func BenchmarkPhoneInternational(b *testing.B) {
	var e164 []string
	for _, region := range []string{"SE", "GB", "US", "DE", "FR", "IT", "ES", "NL", "BR", "IN", "CN", "AU", "NO", "FI", "DK", "PL"} {
		for _, typ := range []phonenumbers.PhoneNumberType{phonenumbers.MOBILE, phonenumbers.FIXED_LINE} {
			if num := phonenumbers.GetExampleNumberForType(region, typ); num != nil {
				e164 = append(e164, phonenumbers.Format(num, phonenumbers.E164))
			}
		}
	}
	n, err := New(Phone, "")
	if err != nil {
		b.Fatal(err)
	}
	for _, form := range []struct {
		name string
		in   func(string) string
	}{
		{"e164", func(s string) string { return s }},
		{"00", func(s string) string { return "00" + s[1:] }},
		{"msisdn", func(s string) string { return s[1:] }},
	} {
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
					if _, err := n.Normalize(inputs[i%len(inputs)]); err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
		}
	}
}
