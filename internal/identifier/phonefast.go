package identifier

import (
	"errors"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/nyaruka/phonenumbers"
)

// The fast path for numbers in international form: "+" or "00" and then
// digits, or digits that start with a country code (MSISDN), the forms most
// systems export. phonenumbers.Parse, IsValidNumber and Format cost 15-40 µs
// for such a number, mostly in building and looking up their regular
// expressions on every call; this path does what they do for these shapes
// of input with the same metadata, its patterns compiled once per region
// into deterministic automata over digits, in one or two microseconds.
//
// It answers "valid, with this E.164 form" or "invalid" only where it can
// follow the parser step by step; anywhere else (a national or
// international prefix the parser would strip, a pattern it cannot
// compile) it says it does not know, and the full path decides. Reasons for
// invalid values are always worded by the full path. The differential tests
// (TestPhoneFastPathAgrees, FuzzPhoneFastPath: make fuzz-phone) check that
// its answers are the full path's.

// reading is what parsing a number and checking it with IsValidNumber
// gives: its E.164 form and whether it is valid; known is false when the
// fast path cannot tell (the full path must).
type reading struct {
	e164         string
	valid, known bool
}

var unknown = reading{}

// invalid is a number the full path also finds invalid (a parse error, or
// IsValidNumber false).
var invalid = reading{known: true}

// fastInternational returns the E.164 form of the number "+"+digits when it
// is valid, as phoneInternational would; ok is false when it cannot tell.
func fastInternational(digits string) (e164 string, ok bool) {
	r := internationalReading(digits)
	return r.e164, r.valid
}

// internationalReading reads "+"+digits as phonenumbers.Parse(…, "") and
// IsValidNumber do.
func internationalReading(digits string) reading {
	if !fastShape(digits) {
		return unknown
	}
	if digits[0] == '0' {
		return invalid // no country code starts with 0
	}
	// The country code: the shortest prefix of one to three digits that
	// is one (phonenumbers' extractCountryCode).
	cc, national := 0, ""
	for i := 1; i <= 3; i++ {
		code, _ := strconv.Atoi(digits[:i])
		if len(phonenumbers.GetRegionCodesForCountryCode(code)) > 0 {
			cc, national = code, digits[i:]
			break
		}
	}
	if cc == 0 || len(national) < 2 {
		return invalid // the parser's errors
	}
	// The parser reads the national number with the rules of the country
	// code's main region, and strips a national prefix when its pattern
	// matches the start: then the full path decides.
	main := rulesFor(cc, phonenumbers.GetRegionCodesForCountryCode(cc)[0])
	if main == nil || main.nationalPrefix != nil && main.nationalPrefix.matchesPrefix(national) {
		return unknown
	}
	if len(national) > 17 {
		return invalid
	}
	return validity(cc, national)
}

// nationalReading reads digits as phonenumbers.Parse(digits, region) and
// IsValidNumber do: a national number of region, or one that starts with
// the region's own country code.
func nationalReading(digits, region string) reading {
	if !fastShape(digits) {
		return unknown
	}
	phoneRules.once.Do(loadPhoneMetadata)
	md := phoneRules.regions[region]
	if md == nil {
		return unknown
	}
	cc := int(md.GetCountryCode())
	home := rulesFor(cc, region)
	// Digits that start with the region's international prefix are read
	// as an international number: the full path decides.
	if home == nil || home.internationalPrefix == nil || home.internationalPrefix.matchesPrefix(digits) {
		return unknown
	}
	national, stripRules := digits, home
	if code := strconv.Itoa(cc); strings.HasPrefix(digits, code) {
		// The parser drops the region's country code when the rest is a
		// better national number (phonenumbers' maybeExtractCountryCode).
		rest := digits[len(code):]
		if rest != "" && home.nationalPrefix != nil && home.nationalPrefix.matchesPrefix(rest) {
			return unknown
		}
		full, short := home.general.pattern.matchesAll(digits), home.general.pattern.matchesAll(rest)
		if !full && short || home.tooLong(len(digits)) {
			national = rest
			if main := phonenumbers.GetRegionCodeForCountryCode(cc); main != region {
				if stripRules = rulesFor(cc, main); stripRules == nil {
					return unknown
				}
			}
		}
	}
	if len(national) < 2 {
		return invalid
	}
	if stripRules.nationalPrefix != nil && stripRules.nationalPrefix.matchesPrefix(national) {
		return unknown
	}
	if len(national) > 17 {
		return invalid
	}
	return validity(cc, national)
}

// validity is IsValidNumber for a country code and national significant
// number: the region of the number (the only one, else the first whose
// leading digits match or whose patterns accept it), and the number valid
// there.
func validity(cc int, national string) reading {
	regions := phonenumbers.GetRegionCodesForCountryCode(cc)
	var r *regionRules
	for _, code := range regions {
		c := rulesFor(cc, code)
		if c == nil {
			return unknown
		}
		if len(regions) == 1 {
			r = c
			break
		}
		if c.leadingDigits != nil {
			if c.leadingDigits.matchesPrefix(national) {
				r = c
				break
			}
		} else if c.valid(national) {
			r = c
			break
		}
	}
	if r == nil || r.countryCode != cc || !r.valid(national) {
		return invalid
	}
	return reading{e164: "+" + strconv.Itoa(cc) + national, valid: true, known: true}
}

// fastShape says whether the fast path reads digits at all: it is on, and
// they are 3 to maxPhoneDigits ASCII digits.
func fastShape(digits string) bool {
	if !phoneFastPath || len(digits) < 3 || len(digits) > maxPhoneDigits {
		return false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return false
		}
	}
	return true
}

// phoneFastPath turns the fast path off for benchmarks that compare it
// with the full parse.
var phoneFastPath = true

// regionRules are the patterns of one region's metadata that parsing and
// validating an international number use, compiled.
type regionRules struct {
	countryCode    int
	leadingDigits  *dfa // nil when the metadata has none
	nationalPrefix *dfa // national prefix for parsing; nil when none
	// internationalPrefix is the region's international dialling prefix
	// (00, 011, …); nil when it has none or it could not be compiled.
	internationalPrefix *dfa
	general             descRule
	// localOnly are the general lengths only dialable locally.
	localOnly []int32
	// kinds are the descriptions of the number types a valid number
	// matches one of (phonenumbers' getNumberTypeHelper).
	kinds []descRule
}

// descRule is one PhoneNumberDesc: the lengths it allows (any when empty)
// and its national number pattern.
type descRule struct {
	lengths []int32
	pattern *dfa
}

func (d descRule) matches(nsn string) bool {
	if len(d.lengths) > 0 {
		found := false
		for _, l := range d.lengths {
			if int(l) == len(nsn) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return d.pattern.matchesAll(nsn)
}

// tooLong is phonenumbers' testNumberLength(…, UNKNOWN) == TOO_LONG for a
// number of n digits.
func (r *regionRules) tooLong(n int) bool {
	lengths := r.general.lengths
	if len(lengths) == 0 || lengths[0] == -1 || slices.Contains(r.localOnly, int32(n)) {
		return false
	}
	return int(lengths[0]) < n && int(lengths[len(lengths)-1]) < n
}

// valid says whether the national significant number is of a known type
// in the region.
func (r *regionRules) valid(nsn string) bool {
	if !r.general.matches(nsn) {
		return false
	}
	for _, k := range r.kinds {
		if k.matches(nsn) {
			return true
		}
	}
	return false
}

var phoneRules struct {
	once sync.Once
	// metadata of every region, and of the non-geographical country
	// codes ("001") by code.
	regions map[string]*phonenumbers.PhoneMetadata
	nonGeo  map[int]*phonenumbers.PhoneMetadata
	// compiled holds a *compiledRules per region code, or per
	// non-geographical country code as "001/<code>".
	compiled sync.Map
}

type compiledRules struct {
	once  sync.Once
	rules *regionRules // nil when a pattern could not be compiled
}

// rulesFor returns the compiled rules of a region (code "001": the country
// code's non-geographical metadata), or nil when the fast path cannot
// serve it.
func rulesFor(countryCode int, region string) *regionRules {
	phoneRules.once.Do(loadPhoneMetadata)
	key := region
	md := phoneRules.regions[region]
	if region == "001" {
		key = "001/" + strconv.Itoa(countryCode)
		md = phoneRules.nonGeo[countryCode]
	}
	if md == nil {
		return nil
	}
	v, _ := phoneRules.compiled.LoadOrStore(key, &compiledRules{})
	c := v.(*compiledRules)
	c.once.Do(func() { c.rules = compileRules(md) })
	return c.rules
}

func loadPhoneMetadata() {
	phoneRules.regions = map[string]*phonenumbers.PhoneMetadata{}
	phoneRules.nonGeo = map[int]*phonenumbers.PhoneMetadata{}
	coll, err := phonenumbers.MetadataCollection()
	if err != nil {
		return // every number goes the full path
	}
	for _, md := range coll.GetMetadata() {
		if md.GetId() == "001" {
			phoneRules.nonGeo[int(md.GetCountryCode())] = md
		} else {
			phoneRules.regions[md.GetId()] = md
		}
	}
}

func compileRules(md *phonenumbers.PhoneMetadata) *regionRules {
	r := &regionRules{countryCode: int(md.GetCountryCode())}
	var err error
	if p := md.GetLeadingDigits(); p != "" {
		if r.leadingDigits, err = compileDFA(p); err != nil {
			return nil
		}
	}
	if p := md.GetNationalPrefixForParsing(); p != "" {
		if r.nationalPrefix, err = compileDFA(p); err != nil {
			return nil
		}
	}
	if p := md.GetInternationalPrefix(); p != "" {
		// Only the national reading needs it; without it, that reading
		// goes the full path.
		r.internationalPrefix, _ = compileDFA(p)
	}
	r.localOnly = md.GetGeneralDesc().PossibleLengthLocalOnly
	desc := func(d *phonenumbers.PhoneNumberDesc) (descRule, error) {
		pattern, err := compileDFA(d.GetNationalNumberPattern())
		return descRule{lengths: d.PossibleLength, pattern: pattern}, err
	}
	if r.general, err = desc(md.GetGeneralDesc()); err != nil {
		return nil
	}
	kinds := []*phonenumbers.PhoneNumberDesc{md.GetPremiumRate(), md.GetTollFree(), md.GetSharedCost(), md.GetVoip(),
		md.GetPersonalNumber(), md.GetPager(), md.GetUan(), md.GetVoicemail(), md.GetFixedLine()}
	if !md.GetSameMobileAndFixedLinePattern() {
		// Otherwise a mobile number matches the fixed line pattern.
		kinds = append(kinds, md.GetMobile())
	}
	for _, d := range kinds {
		if d == nil {
			return nil // not what phonenumbers' metadata holds; let it decide
		}
		k, err := desc(d)
		if err != nil {
			return nil
		}
		r.kinds = append(r.kinds, k)
	}
	return r
}

// dfa is a deterministic automaton over the digits 0-9, compiled from a
// regular expression of the phone metadata.
type dfa struct {
	next   [][10]int32 // per state, the state after each digit; -1 for none
	accept []bool
}

// maxDFAStates bounds an automaton; a pattern needing more goes the full
// path.
const maxDFAStates = 20_000

var errUnsupported = errors.New("pattern not compilable to a digit automaton")

// compileDFA compiles pattern, as Go's regexp reads it, into a dfa by the
// subset construction over its program. Assertions (^, $, \b) are not
// supported: the metadata's patterns have none; the callers anchor them.
func compileDFA(pattern string) (*dfa, error) {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return nil, err
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return nil, err
	}
	for _, in := range prog.Inst {
		if in.Op == syntax.InstEmptyWidth {
			return nil, errUnsupported
		}
	}
	closure := func(pcs []uint32) []uint32 {
		seen := make(map[uint32]bool, len(pcs))
		var out []uint32
		stack := append([]uint32(nil), pcs...)
		for len(stack) > 0 {
			pc := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if seen[pc] {
				continue
			}
			seen[pc] = true
			in := &prog.Inst[pc]
			switch in.Op {
			case syntax.InstAlt, syntax.InstAltMatch:
				stack = append(stack, in.Out, in.Arg)
			case syntax.InstCapture, syntax.InstNop:
				stack = append(stack, in.Out)
			case syntax.InstFail:
			default:
				out = append(out, pc)
			}
		}
		sortPCs(out)
		return out
	}
	key := func(pcs []uint32) string {
		b := make([]byte, 0, 4*len(pcs))
		for _, pc := range pcs {
			b = append(b, byte(pc>>24), byte(pc>>16), byte(pc>>8), byte(pc))
		}
		return string(b)
	}
	d := &dfa{}
	index := map[string]int32{}
	var sets [][]uint32
	add := func(pcs []uint32) int32 {
		k := key(pcs)
		if i, ok := index[k]; ok {
			return i
		}
		i := int32(len(sets))
		index[k] = i
		sets = append(sets, pcs)
		accept := false
		for _, pc := range pcs {
			if prog.Inst[pc].Op == syntax.InstMatch {
				accept = true
			}
		}
		d.accept = append(d.accept, accept)
		d.next = append(d.next, [10]int32{})
		return i
	}
	add(closure([]uint32{uint32(prog.Start)}))
	for s := 0; s < len(sets); s++ {
		if len(sets) > maxDFAStates {
			return nil, errUnsupported
		}
		for digit := range 10 {
			var moved []uint32
			for _, pc := range sets[s] {
				in := &prog.Inst[pc]
				switch in.Op {
				case syntax.InstRuneAny, syntax.InstRuneAnyNotNL:
					moved = append(moved, in.Out)
				case syntax.InstRune, syntax.InstRune1:
					if in.MatchRune('0' + rune(digit)) {
						moved = append(moved, in.Out)
					}
				}
			}
			to := int32(-1)
			if len(moved) > 0 {
				if c := closure(moved); len(c) > 0 {
					to = add(c)
				}
			}
			d.next[s][digit] = to
		}
	}
	return d, nil
}

func sortPCs(pcs []uint32) {
	for i := 1; i < len(pcs); i++ {
		for j := i; j > 0 && pcs[j] < pcs[j-1]; j-- {
			pcs[j], pcs[j-1] = pcs[j-1], pcs[j]
		}
	}
}

// matchesAll says whether the whole of digits is in the language, as
// regexp's "^(?:pattern)$" would.
func (d *dfa) matchesAll(digits string) bool {
	s := int32(0)
	for i := 0; i < len(digits); i++ {
		if s = d.next[s][digits[i]-'0']; s < 0 {
			return false
		}
	}
	return d.accept[s]
}

// matchesPrefix says whether some prefix of digits (the empty one
// included) is in the language, as regexp's "^(?:pattern)" would.
func (d *dfa) matchesPrefix(digits string) bool {
	s := int32(0)
	for i := 0; ; i++ {
		if d.accept[s] {
			return true
		}
		if i == len(digits) {
			return false
		}
		if s = d.next[s][digits[i]-'0']; s < 0 {
			return false
		}
	}
}
