package deletion_test

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/erasure-dev/erasure/internal/deletion"
	"github.com/erasure-dev/erasure/internal/identifier"
	"github.com/erasure-dev/erasure/internal/job"
	"github.com/erasure-dev/erasure/internal/profile"
	"github.com/erasure-dev/erasure/internal/testkit"
	"github.com/erasure-dev/erasure/storage"
)

// The hostile-file corpus: files that are empty, damaged, malicious, in the
// wrong format, or full of the characters and number formats that break
// identifiers, each run end to end through one Service (upload, Inspect,
// Preview, StartFile, the job, its row outcomes) against an account seeded
// with the profiles the files name, decoys they do not name, and the same
// keys in another account. Every case ends either in an error the user can
// act on (asserted by a part of its message, which must not quote an
// identifier) or in a job whose every row has the expected outcome; after
// every case exactly the profiles the case names are gone, and the Service
// still answers the next one.
//
// deletion/testdata/hostile holds the files (README.md there says what each
// one is and how it was made); the huge ones (50 MB + 1 byte, a zip bomb, a
// sheet of 1,048,576 rows, a million duplicate rows, 1 MB cells, 10,001
// parts) are generated here, streamed straight into the upload.

// hostileRegion is the default region of the phone cases.
const hostileRegion = "SE"

// hostileKey is a profile's account and Unique Identifier.
type hostileKey struct {
	account string
	typ     identifier.Type
	value   string
}

// hostileProfiles are seeded before every case (again, where a case deleted
// them). acme is the caller's account; other holds the same keys, which no
// file may touch.
func hostileProfiles() []hostileKey {
	var keys []hostileKey
	emails := []string{"ann@example.com", "bob@example.com", "carl@example.com", "dora@example.com",
		"eve@example.com", "zoe@example.com", "info@bücher.de"}
	var phones []string
	for i := range 11 {
		phones = append(phones, fmt.Sprintf("+467012345%02d", 60+i))
	}
	crm := []string{"CRM-001", "CRM-002", "CRM-003", "CRM-004", "CRM 005", "123456789012"}
	for _, account := range []string{"acme", "other"} {
		for _, v := range emails {
			keys = append(keys, hostileKey{account, identifier.Email, v})
		}
		for _, v := range phones {
			keys = append(keys, hostileKey{account, identifier.Phone, v})
		}
		for _, v := range crm {
			keys = append(keys, hostileKey{account, identifier.CRMID, v})
		}
	}
	// Decoys no file names: the punycode form of an address a file names in
	// Unicode, an address no file has, a profile keyed by CRM ID whose key
	// (and e-mail attribute) is an address files delete by e-mail, and a
	// number a phone file names only in the other account. Among the keys
	// above, +46701234570 is named only in Arabic-Indic digits, CRM 005 only
	// with a no-break space and CRM-002 only in lower case.
	keys = append(keys,
		hostileKey{"acme", identifier.Email, "info@xn--bcher-kva.de"},
		hostileKey{"acme", identifier.Email, "decoy@example.com"},
		hostileKey{"acme", identifier.CRMID, "ann@example.com"},
		hostileKey{"other", identifier.Phone, "+12025550143"},
	)
	return keys
}

func hostileSeed(t *testing.T, store *storage.Store, keys []hostileKey) {
	t.Helper()
	ps := make([]profile.Profile, 0, len(keys))
	for _, k := range keys {
		p := profile.Profile{AccountID: k.account, Key: profile.Key{Type: k.typ, Value: k.value},
			Sections: []profile.Section{{SectionID: "s1", Tags: []string{"t"}}}}
		if k.typ == identifier.CRMID && strings.Contains(k.value, "@") {
			p.Email = k.value
		}
		ps = append(ps, p)
	}
	if err := store.InsertProfiles(context.Background(), ps); err != nil {
		t.Fatal(err)
	}
}

// hostilePresent returns which of keys exist, in six queries.
func hostilePresent(t *testing.T, store *storage.Store, keys []hostileKey) map[hostileKey]bool {
	t.Helper()
	type query struct {
		account string
		typ     identifier.Type
	}
	byQuery := map[query][]string{}
	for _, k := range keys {
		q := query{k.account, k.typ}
		byQuery[q] = append(byQuery[q], k.value)
	}
	present := map[hostileKey]bool{}
	for q, values := range byQuery {
		ms, err := store.FindByKeys(context.Background(), q.account, q.typ, values, false)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			present[hostileKey{q.account, q.typ, m.Key.Value}] = true
		}
	}
	return present
}

// hostileCase is one file and what must become of it. A stage's error
// field, when set, is a part of the message that stage must fail with;
// rows, when the file gets that far, are the outcome of every row.
type hostileCase struct {
	name string
	// file is under testdata/hostile; gen streams a generated file instead.
	file     string
	gen      func(w io.Writer) error
	uploadAs string // the file name given at upload; default file
	src      deletion.FileSource
	spec     deletion.Spec

	uploadErr  string // Write or Close, an Invalid error unless tooLarge
	tooLarge   bool
	inspectErr string
	previewErr string
	startErr   string
	jobErr     string // the job ends FAILED with this error

	// rows: "N outcome [detail]" per row, where outcome is deleted,
	// not_found, invalid (detail: part of the reason) or duplicate
	// (detail: the row it repeats).
	rows []string
	// deletes are the caller's profiles the file deletes, as stored.
	deletes []string
	inspect func(t *testing.T, in *deletion.Inspection)
	// huge cases also assert a bound on heap growth and skip the row-by-row
	// comparison beyond the rows listed.
	huge bool
	// totalRows, for huge cases, is the row count and duplicates the
	// number of DUPLICATE rows.
	totalRows, duplicates int64
	// budget is about the longest a huge case took on a busy 2-core
	// machine: a case is skipped, not started, when the test binary's
	// -timeout leaves less than that.
	budget time.Duration
}

// fails sets the same error for every stage from inspect on: the file
// cannot even be opened.
func (c hostileCase) fails(msg string) hostileCase {
	c.inspectErr, c.previewErr, c.startErr = msg, msg, msg
	return c
}

// failsLater sets the error for the stages that read the whole file: the
// first row is fine, so StartFile queues a job, which fails before it
// deletes anything.
func (c hostileCase) failsLater(msg string, inspectToo bool) hostileCase {
	c.previewErr, c.jobErr = msg, msg
	if inspectToo {
		c.inspectErr = msg
	}
	return c
}

func hostileCases() []hostileCase {
	emailSpec := deletion.Spec{Type: identifier.Email}
	phoneSpec := deletion.Spec{Type: identifier.Phone, DefaultRegion: hostileRegion}
	crmSpec := deletion.Spec{Type: identifier.CRMID}
	byName := func(n string) deletion.FileSource { return deletion.FileSource{ColumnName: n} }
	byEmail := byName("Email")
	first := deletion.FileSource{ColumnNumber: 1}
	notTabular := "this is not a CSV or XLSX file"
	damaged := "the workbook is damaged and cannot be read"
	phones := []string{"2 deleted", "3 deleted", "4 deleted", "5 deleted", "6 deleted", "7 deleted",
		"8 invalid phone number has an extension", "9 invalid phone number contains letters",
		"10 deleted", "11 deleted", "12 deleted",
		"13 invalid shortened by a spreadsheet (scientific notation)",
		"14 invalid phone number contains ';'", "15 duplicate 12", "16 duplicate 2", "17 not_found",
		"18 invalid digits other than 0-9", "19 deleted"}
	allPhones := []string{"+46701234560", "+46701234561", "+46701234562", "+46701234563", "+46701234564",
		"+46701234565", "+46701234566", "+46701234567", "+46701234568", "+46701234569"}
	phonesXLSX := slices.Clone(phones)
	// Calc stored 4.67E+10 as the number 46700000000: the rounding cannot
	// be seen any more, the digits are a valid number nobody has.
	phonesXLSX[11] = "13 not_found"
	crmXLSX := []string{"2 deleted", "3 not_found", "4 not_found", "5 deleted", "6 not_found",
		"7 invalid thousands separators", "8 deleted", "9 deleted", "10 invalid other than an ordinary space"}
	encoding := func(want string) func(*testing.T, *deletion.Inspection) {
		return func(t *testing.T, in *deletion.Inspection) {
			if in.Encoding != want {
				t.Errorf("encoding %q, want %q", in.Encoding, want)
			}
		}
	}

	return []hostileCase{
		// Nothing in it.
		{name: "empty file", file: "empty.csv", src: byEmail, spec: emailSpec, uploadErr: "the file is empty"},
		hostileCase{name: "BOM only", file: "bom_only.csv", src: byEmail, spec: emailSpec}.fails("the file is empty"),
		hostileCase{name: "blank lines only", file: "blank_lines_only.csv", src: byEmail, spec: emailSpec}.fails("the sheet has no rows"),
		{name: "spaces only", file: "whitespace_only.csv", src: first, spec: emailSpec, rows: []string{"2 invalid empty value"}},
		{name: "header only", file: "header_only.csv", src: byEmail, spec: emailSpec, previewErr: "the file has a header row but no rows below it",
			startErr: "the file has a header row but no rows below it"},

		// Not a spreadsheet, whatever the name says.
		hostileCase{name: "binary named .csv", file: "binary.csv", src: byEmail, spec: emailSpec}.fails(notTabular),
		hostileCase{name: "PNG named .xlsx", file: "screenshot_png.xlsx", src: byEmail, spec: emailSpec}.fails(notTabular),
		hostileCase{name: "PDF named .csv", file: "export_pdf.csv", src: byEmail, spec: emailSpec}.fails(notTabular),
		hostileCase{name: "gzip named .csv", file: "gzip.csv", src: byEmail, spec: emailSpec}.fails(notTabular),
		hostileCase{name: "NUL-heavy text", file: "nul_heavy.csv", src: byEmail, spec: emailSpec}.fails(notTabular),
		hostileCase{name: "old .xls named .xlsx", file: "old_xls.xlsx", src: byEmail, spec: emailSpec}.fails("old Excel .xls"),
		hostileCase{name: "ODS named .xlsx", file: "opendocument.xlsx", src: byEmail, spec: emailSpec}.fails("OpenDocument spreadsheet (.ods)"),
		hostileCase{name: "Word document named .xlsx", file: "word.xlsx", src: byEmail, spec: emailSpec}.fails("this is a Word document"),
		hostileCase{name: "zipped CSV named .xlsx", file: "zip_of_csv.xlsx", src: byEmail, spec: emailSpec}.fails("this is a zip archive, not an Excel workbook"),
		hostileCase{name: "HTML named .csv", file: "webpage.csv", src: byEmail, spec: emailSpec}.fails("this is a web page (HTML)"),
		hostileCase{name: "Excel 2003 XML named .xlsx", file: "excel2003_xml.xlsx", src: byEmail, spec: emailSpec}.fails("this is an XML file"),

		// Damaged and malicious workbooks.
		hostileCase{name: "truncated XLSX", file: "truncated.xlsx", src: byEmail, spec: emailSpec}.fails(damaged),
		hostileCase{name: "XLSX with a flipped byte", file: "crc_flipped.xlsx", src: byEmail, spec: emailSpec}.fails(damaged),
		hostileCase{name: "XLSX lying about its size", file: "lying_size.xlsx", src: byEmail, spec: emailSpec}.fails(damaged),
		// The control character is in row 4; the message's "after row 4" is
		// tabular's wording for "from row 4 on" (see the report).
		hostileCase{name: "XLSX sheet with a control character", file: "control_char_xml.xlsx", src: byEmail, spec: emailSpec}.failsLater(`the sheet "Data" is damaged after row 4`, true),
		hostileCase{name: "XLSX row beyond 1,048,576", file: "rows_beyond_max.xlsx", src: byEmail, spec: emailSpec}.failsLater("rows beyond row 1,048,576", true),
		// A formula cell with no saved result (what openpyxl and other
		// libraries write; Excel computes it on opening) has no value to
		// read: row 2, which Excel shows as ann@example.com, is invalid
		// with what to do, not skipped as empty.
		{name: "XLSX formula without a saved value", file: "formulas_without_values.xlsx", src: byEmail, spec: emailSpec,
			rows: []string{"2 invalid formula whose result the file does not have", "3 deleted"}, deletes: []string{"bob@example.com"}},
		{name: "XLSX rows 2 and 1,048,576", file: "rows_to_1048576.xlsx", src: byEmail, spec: emailSpec,
			rows: []string{"2 deleted", "1048576 deleted"}, deletes: []string{"ann@example.com", "bob@example.com"}},
		{name: "XLSX hidden first sheet", file: "hidden_first_sheet.xlsx", src: byEmail, spec: emailSpec,
			rows: []string{"2 deleted"}, deletes: []string{"eve@example.com"},
			inspect: func(t *testing.T, in *deletion.Inspection) {
				if !slices.Equal(in.Sheets, []string{"To delete"}) || in.Sheet != "To delete" {
					t.Errorf("sheets %q, read %q; want only the visible one", in.Sheets, in.Sheet)
				}
			}},

		// Broken CSV syntax.
		hostileCase{name: "unbalanced quotes", file: "unbalanced_quotes.csv", src: byEmail, spec: emailSpec}.failsLater("line 3: a quoted field is not closed", true),
		// A quote inside an unquoted cell is text, as in Calc: Bob "the
		// boss", 5'11", 37°36'37.8"N. The quotes in the other columns
		// change nothing; zoe's address itself ends in one.
		{name: "bare quote", file: "bare_quote.csv", src: byEmail, spec: emailSpec,
			rows: []string{"2 deleted", "3 deleted"}, deletes: []string{"ann@example.com", "bob@example.com"}},
		{name: "quotes in heights and coordinates", file: "quotes_in_cells.csv", src: byEmail, spec: emailSpec,
			rows: []string{"2 deleted", "3 deleted", "4 deleted", "5 deleted", "6 not_found", "7 deleted",
				`8 invalid e-mail domain has a character that is not allowed ('"')`},
			deletes: []string{"ann@example.com", "bob@example.com", "carl@example.com", "dora@example.com", "eve@example.com"}},
		// sep=" cannot name the delimiter, so it is a cell of text, as in
		// Calc: the header row is sep=" and has no column Email.
		{name: `quote in "sep=" line`, file: "sep_quote.csv", src: byEmail, spec: emailSpec,
			previewErr: `column "Email" not found`, startErr: `column "Email" not found`},
		hostileCase{name: "1,001 cells in a row", file: "too_many_columns.csv", src: byEmail, spec: emailSpec}.failsLater("line 3 has more than 1,000 cells", true),
		{name: "column name on a headerless file", file: "header_is_identifier.csv", src: byEmail, spec: emailSpec,
			previewErr: `column "Email" not found; the file has: 1 (A), 2`, startErr: `column "Email" not found`,
			inspect: func(t *testing.T, in *deletion.Inspection) {
				if in.HasHeader {
					t.Error("a first row holding an address was taken as a header")
				}
			}},
		{name: "mixed line endings", file: "mixed_line_endings.csv", src: byEmail, spec: emailSpec,
			rows:    []string{"2 deleted", "3 deleted", "4 deleted", "5 deleted"},
			deletes: []string{"ann@example.com", "bob@example.com", "carl@example.com", "dora@example.com"}},
		{name: "ragged rows", file: "ragged.csv", src: byEmail, spec: emailSpec,
			rows: []string{"2 deleted", "3 invalid the row has no cell in Email", "4 invalid the row has no cell in Email",
				"5 deleted", "6 deleted"},
			deletes: []string{"ann@example.com", "dora@example.com", "eve@example.com"}},
		{name: "ragged rows (XLSX)", file: "ragged.xlsx", src: byEmail, spec: emailSpec,
			rows: []string{"2 deleted", "3 invalid the row has no cell in Email", "4 invalid the row has no cell in Email",
				"5 deleted", "6 deleted"},
			deletes: []string{"ann@example.com", "dora@example.com", "eve@example.com"}},

		// Bytes that are not text.
		{name: "NUL bytes", file: "nul_bytes.csv", src: byEmail, spec: emailSpec,
			rows: []string{"2 deleted", "3 invalid control character", "4 invalid control character",
				"5 invalid control character", "6 deleted"},
			deletes: []string{"ann@example.com", "eve@example.com"}},
		{name: "UTF-16 without BOM", file: "utf16le_nobom.csv", src: byEmail, spec: emailSpec,
			rows: []string{"2 deleted", "3 deleted"}, deletes: []string{"ann@example.com", "bob@example.com"},
			inspect: encoding("utf-16le")},
		{name: "UTF-16 cut inside a character", file: "utf16_odd_length.csv", src: byEmail, spec: emailSpec,
			rows: []string{"2 deleted", "3 invalid unreadable character"}, deletes: []string{"ann@example.com"}},
		{name: "invalid UTF-8 at the start", file: "invalid_utf8_head.csv", src: byEmail, spec: emailSpec,
			rows: []string{"2 deleted", "3 not_found", "4 deleted"}, deletes: []string{"ann@example.com", "bob@example.com"},
			inspect: encoding("windows-1252")},
		{name: "invalid UTF-8 after 64 KB", file: "invalid_utf8_tail.csv", src: byEmail, spec: emailSpec,
			rows: []string{"2 deleted", "3 invalid unreadable character", "4 deleted"}, deletes: []string{"ann@example.com", "bob@example.com"},
			inspect: encoding("utf-8")},
		{name: "Windows-1252 curly quotes", file: "cp1252_smart_quotes.csv", src: byEmail, spec: emailSpec,
			rows:    []string{"2 invalid not allowed before the @ ('“')", "3 deleted", "4 invalid not allowed before the @ ('‘')", "5 deleted"},
			deletes: []string{"bob@example.com", "dora@example.com"}, inspect: encoding("windows-1252")},

		// Formulas.
		{name: "formula injection text", file: "formula_injection.csv", src: byEmail, spec: emailSpec,
			rows: []string{"2 invalid not allowed before the @ ('(')", "3 invalid has no @", "4 invalid contains a space",
				"5 not_found", "6 invalid has no @", "7 deleted"},
			deletes: []string{"ann@example.com"}},
		{name: "formula cells (XLSX)", file: "formulas.xlsx", src: byEmail, spec: emailSpec,
			rows: []string{"2 deleted", "3 deleted", "4 invalid has no @", "5 deleted", "6 deleted",
				"7 invalid has no @", "8 invalid empty value"},
			deletes: []string{"ann@example.com", "bob@example.com", "carl@example.com", "dora@example.com"}},

		// Identifiers with hostile characters.
		{name: "control characters", file: "control_chars.csv", src: first, spec: emailSpec,
			rows: []string{"2 deleted", "3 invalid control character", "4 invalid control character",
				"5 invalid control character", "6 invalid control character", "7 deleted", "8 invalid empty value"},
			deletes: []string{"ann@example.com", "zoe@example.com"}},
		{name: "zero-width and bidi characters", file: "zero_width.csv", src: byEmail, spec: emailSpec,
			rows: []string{"2 deleted", "3 invalid invisible character (U+200B)", "4 deleted",
				"5 invalid invisible character (U+2060)", "6 deleted", "7 invalid invisible character (U+202E)"},
			deletes: []string{"ann@example.com", "carl@example.com", "eve@example.com"}},
		{name: "full-width and circled letters", file: "fullwidth.csv", src: byEmail, spec: emailSpec,
			// ⓒarl is not carl: a circled letter is decoration, not folded.
			rows:    []string{"2 deleted", "3 deleted", "4 invalid circled, superscript or styled letter", "5 invalid special number character", "6 duplicate 2"},
			deletes: []string{"ann@example.com", "bob@example.com"}},
		{name: "IDN and homoglyph domains", file: "idn.csv", src: byEmail, spec: emailSpec,
			rows:    []string{"2 deleted", "3 duplicate 2", "4 duplicate 2", "5 not_found", "6 not_found", "7 not_found"},
			deletes: []string{"info@bücher.de"}},
		{name: "address forms", file: "email_forms.csv", src: byEmail, spec: emailSpec,
			rows: []string{"2 deleted", "3 invalid name and address", "4 invalid more than one @", "5 deleted",
				"6 not_found", "7 duplicate 2"},
			deletes: []string{"ann@example.com", "eve@example.com"}},

		// Phone numbers as spreadsheets write them, with region SE.
		{name: "phone formats", file: "phones_se.csv", src: byName("Mobile"), spec: phoneSpec, rows: phones, deletes: allPhones},
		{name: "phone formats (XLSX)", file: "phones_se.xlsx", src: byName("Mobile"), spec: phoneSpec, rows: phonesXLSX, deletes: allPhones},

		// CRM IDs a spreadsheet damaged.
		{name: "CRM IDs", file: "crm_ids.csv", src: byName("CRM ID"), spec: crmSpec,
			rows: []string{"2 deleted", "3 not_found", "4 invalid scientific notation", "5 deleted", "6 invalid added decimals",
				"7 invalid thousands separators", "8 deleted", "9 deleted", "10 invalid other than an ordinary space"},
			deletes: []string{"CRM-001", "123456789012", "CRM-003", "CRM-004"}},
		{name: "CRM IDs (XLSX)", file: "crm_ids.xlsx", src: byName("CRM ID"), spec: crmSpec, rows: crmXLSX,
			deletes: []string{"CRM-001", "123456789012", "CRM-003", "CRM-004"}},

		// Generated, too large to commit.
		hostileCase{name: "zip bomb (1 GiB sheet)", uploadAs: "bomb.xlsx", gen: hostileGenZipBomb, src: byEmail, spec: emailSpec, huge: true}.
			fails("the workbook unpacks to more than 512 MB"),
		hostileCase{name: "10,001 parts", uploadAs: "parts.xlsx", gen: hostileGenManyParts, src: byEmail, spec: emailSpec}.
			fails("the workbook has more than 10,000 parts"),
		hostileCase{name: "1 MB cell (CSV)", uploadAs: "cell.csv", gen: hostileGenLongCellCSV, src: byEmail, spec: emailSpec}.
			failsLater("line 2 is longer than 1 MB", true),
		hostileCase{name: "1 MB cell (XLSX)", uploadAs: "cell.xlsx", gen: hostileGenLongCellXLSX, src: byEmail, spec: emailSpec}.
			failsLater(`row 2 of sheet "Data": a cell is longer than 64 KB`, true),
		{name: "XLSX of 1,048,576 rows", uploadAs: "rows.xlsx", gen: hostileGenMaxRowsXLSX, src: byEmail, spec: emailSpec,
			rows: []string{"2 deleted", "1048576 deleted"}, deletes: []string{"ann@example.com", "bob@example.com"}, huge: true,
			totalRows: 2, budget: time.Minute},
		// The embedded engine scans every stored chunk for each chunk
		// written, so storing 50 MB costs minutes there.
		{name: "50 MB + 1 byte", uploadAs: "big.csv", gen: hostileGenOverLimit, src: byEmail, spec: emailSpec,
			uploadErr: "larger than the 50 MB limit", tooLarge: true, huge: true, budget: 6 * time.Minute},
		// Last: once its million outcomes are stored, every later listing
		// of outcomes on the embedded engine scans them.
		{name: "1,000,000 duplicate rows", uploadAs: "dups.csv", gen: hostileGenDuplicates, src: byEmail, spec: emailSpec,
			rows: []string{"2 deleted"}, deletes: []string{"ann@example.com"}, huge: true,
			totalRows: 1_000_000, duplicates: 999_999, budget: 3*time.Minute + 30*time.Second},
	}
}

// hostileHeapLimit bounds the heap growth of a huge case: generous, since the
// embedded engine runs in the same process, but far below what holding a
// 50 MB file, a 1 GiB sheet or a million rows would take.
const hostileHeapLimit = 200 << 20

func TestHostileFiles(t *testing.T) {
	start := time.Now()
	svc, store := newService(t, deletion.Config{BatchSize: 5000})
	if got := svc.Config().MaxUploadBytes; got != 50<<20 {
		t.Fatalf("MaxUploadBytes %d, want the 50 MB default", got)
	}
	keys := hostileProfiles()
	hostileSeed(t, store, keys)
	for _, c := range hostileCases() {
		t.Run(c.name, func(t *testing.T) {
			if c.huge && (testing.Short() || os.Getenv("ERASURE_HUGE_FILES") == "") {
				// Together they take minutes on the embedded engine
				// (docs/fuzzing.md has the figures), so `make test`
				// leaves them to `make test-huge`.
				t.Skip("huge generated file: run `make test-huge` (ERASURE_HUGE_FILES=1)")
			}
			if d, ok := t.Deadline(); ok && c.budget > 0 && time.Until(d) < c.budget+30*time.Second {
				// Better a skip than a panic that ends every test of
				// the package without a result.
				t.Skipf("needs up to %v, but the -timeout leaves %v; run with -timeout 30m", c.budget, time.Until(d).Round(time.Second))
			}
			caseStart := time.Now()
			hostileSeed(t, store, keys) // put back what the previous case deleted
			if !c.huge {
				hostileRun(t, svc, store, c, keys)
			} else {
				peak, total := hostileMeasureHeap(func() { hostileRun(t, svc, store, c, keys) })
				t.Logf("heap growth peak %d MB, allocated %d MB", peak>>20, total>>20)
				if peak > hostileHeapLimit {
					t.Errorf("heap grew by %d MB, more than %d MB", peak>>20, hostileHeapLimit>>20)
				}
			}
			hostileCanary(t, svc, store)
			t.Logf("took %v", time.Since(caseStart).Round(time.Millisecond))
		})
	}
	t.Logf("the whole table took %v", time.Since(start).Round(time.Millisecond))
}

// hostileMeasureHeap runs f and returns the peak growth of HeapInuse over the heap
// before it (sampled every 5 ms) and the bytes f allocated.
func hostileMeasureHeap(f func()) (peak, total uint64) {
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var (
		mu         sync.Mutex
		peakGrowth uint64
		done       = make(chan struct{})
		wg         sync.WaitGroup
	)
	sample := func() {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		mu.Lock()
		if m.HeapInuse > before.HeapInuse && m.HeapInuse-before.HeapInuse > peakGrowth {
			peakGrowth = m.HeapInuse - before.HeapInuse
		}
		mu.Unlock()
	}
	wg.Go(func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				sample()
			}
		}
	})
	f()
	close(done)
	wg.Wait()
	sample()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	return peakGrowth, after.TotalAlloc - before.TotalAlloc
}

func hostileRun(t *testing.T, svc *deletion.Service, store *storage.Store, c hostileCase, keys []hostileKey) {
	ctx := context.Background()
	secrets := hostileSecrets(c.deletes)
	defer hostileCheckProfiles(t, store, keys, c)

	uploadID, err := hostileUpload(t, svc, c)
	if c.uploadErr != "" {
		kind := deletion.Invalid
		if c.tooLarge {
			kind = deletion.TooLarge
		}
		hostileAssertError(t, "upload", err, c.uploadErr, kind, secrets)
		return
	}
	if err != nil {
		t.Fatalf("upload: %v", err)
	}

	in, err := svc.Inspect(ctx, "acme", uploadID, c.src.Options)
	if c.inspectErr != "" {
		hostileAssertError(t, "inspect", err, c.inspectErr, deletion.Invalid, secrets)
	} else if err != nil {
		t.Fatalf("inspect: %v", err)
	} else if c.inspect != nil {
		c.inspect(t, in)
	}

	src := c.src
	src.UploadID = uploadID
	p, err := svc.Preview(ctx, deletion.Caller{AccountID: "acme"}, src, c.spec, deletion.Delete)
	want := hostileCounts(t, c)
	if c.previewErr != "" {
		hostileAssertError(t, "preview", err, c.previewErr, deletion.Invalid, secrets)
	} else if err != nil {
		t.Fatalf("preview: %v", err)
	} else {
		wantPreview := want
		wantPreview.Deleted = 0
		if p.Counts != wantPreview {
			t.Errorf("preview counts %+v, want %+v", p.Counts, wantPreview)
		}
		for _, o := range p.InvalidSamples {
			if o.Outcome != job.Invalid || o.Reason == "" {
				t.Errorf("invalid sample %+v has no reason", o)
			}
		}
	}

	j, err := svc.StartFile(ctx, deletion.Caller{AccountID: "acme"}, src, c.spec, deletion.Delete)
	if c.startErr != "" {
		hostileAssertError(t, "start", err, c.startErr, deletion.Invalid, secrets)
		jobs, _, err := svc.ListJobs(ctx, deletion.Caller{AccountID: "acme"}, 500, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range jobs {
			if v.Job.File.UploadID == uploadID {
				t.Errorf("a refused file got job %s", v.Job.ID)
			}
		}
		// The sweeper would delete it after UploadTTL; the embedded engine
		// scans every stored chunk on each upload, so keep the store lean.
		if err := store.DeleteUpload(ctx, "acme", uploadID); err != nil {
			t.Fatal(err)
		}
		return
	}
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	final := hostileWait(t, svc, j.ID)
	hostileUploadDeleted(t, store, uploadID)
	if c.jobErr != "" {
		if final.State != job.Failed {
			t.Fatalf("job ended %s with %+v, want failed with %q", final.State, final.Counts, c.jobErr)
		}
		hostileAssertMessage(t, "job", final.Error, c.jobErr, secrets)
		if final.Counts.Deleted != 0 || final.Counts.Rows != 0 {
			t.Errorf("failed job counts %+v: it went past the file check", final.Counts)
		}
		return
	}
	if final.State != job.Succeeded {
		t.Fatalf("job ended %s (%q) with %+v", final.State, final.Error, final.Counts)
	}
	if final.Counts != want {
		t.Errorf("job counts %+v, want %+v", final.Counts, want)
	}
	hostileCheckOutcomes(t, store, final, c)
}

// hostileUpload streams the case's file into an upload, as the server's
// UploadFile does, and returns the upload id or the error of Write or
// Close. A refused stream is aborted, as the server does.
func hostileUpload(t *testing.T, svc *deletion.Service, c hostileCase) (string, error) {
	t.Helper()
	name := c.uploadAs
	if name == "" {
		name = c.file
	}
	w, err := svc.NewUploadWriter(context.Background(), "acme", name)
	if err != nil {
		t.Fatal(err)
	}
	if c.gen != nil {
		if err := c.gen(w); err != nil {
			w.Abort()
			return "", err
		}
	} else {
		data, err := os.ReadFile(filepath.Join("testdata", "hostile", c.file))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			w.Abort()
			return "", err
		}
	}
	u, err := w.Close()
	if err != nil {
		return "", err
	}
	return u.ID, nil
}

func hostileWait(t *testing.T, svc *deletion.Service, jobID string) *job.Job {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var last *job.Job
	if err := svc.Watch(ctx, deletion.Caller{AccountID: "acme"}, jobID, func(v job.View) error { last = &v.Job; return nil }); err != nil {
		t.Fatalf("watch: %v", err)
	}
	if last == nil || !last.State.Terminal() {
		t.Fatalf("watch ended with %+v", last)
	}
	return last
}

// hostileUploadDeleted waits for the worker to delete an ended job's
// upload, which it does just after the job's final state is stored.
func hostileUploadDeleted(t *testing.T, store *storage.Store, uploadID string) {
	t.Helper()
	for range 100 {
		_, err := store.GetUpload(context.Background(), "acme", uploadID)
		if errors.Is(err, storage.ErrNotFound) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Error("the upload of an ended job is still stored")
}

// hostileSecrets are strings no message may contain: every identifier the
// corpus uses, and the parts of them that would give one away.
func hostileSecrets(deletes []string) []string {
	s := []string{"@", "example.com", "bücher", "701234", "70-123", "CRM-0", "123456789", "calc"}
	return append(s, deletes...)
}

// hostileAssertError checks that err is a *deletion.Error of the kind
// whose message contains want and no secret.
func hostileAssertError(t *testing.T, stage string, err error, want string, kind deletion.ErrorKind, secrets []string) {
	t.Helper()
	var e *deletion.Error
	if !errors.As(err, &e) {
		t.Fatalf("%s: error %v (%T), want a *deletion.Error saying %q", stage, err, err, want)
	}
	if e.Kind != kind {
		t.Errorf("%s: kind %d, want %d", stage, e.Kind, kind)
	}
	hostileAssertMessage(t, stage, e.Msg, want, secrets)
}

func hostileAssertMessage(t *testing.T, stage, msg, want string, secrets []string) {
	t.Helper()
	t.Logf("%s: %s", stage, msg)
	if !strings.Contains(msg, want) {
		t.Errorf("%s: message %q does not say %q", stage, msg, want)
	}
	for _, s := range secrets {
		if strings.Contains(msg, s) {
			t.Errorf("%s: message %q quotes %q from the file", stage, msg, s)
		}
	}
	for _, leak := range []string{"excelize", "zip:", "csv:", "xml:", "panic", "runtime", "EOF", ".go:"} {
		if strings.Contains(msg, leak) {
			t.Errorf("%s: message %q leaks %q", stage, msg, leak)
		}
	}
}

// hostileRowSpec is a parsed entry of hostileCase.rows.
type hostileRowSpec struct {
	row     int64
	outcome job.Outcome
	detail  string
}

func hostileParseRows(t *testing.T, specs []string) []hostileRowSpec {
	t.Helper()
	var out []hostileRowSpec
	for _, s := range specs {
		f := strings.SplitN(s, " ", 3)
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || len(f) < 2 {
			t.Fatalf("bad row spec %q", s)
		}
		outcome := map[string]job.Outcome{"deleted": job.Deleted, "not_found": job.NotFound, "invalid": job.Invalid, "duplicate": job.Duplicate}[f[1]]
		if outcome == 0 {
			t.Fatalf("bad outcome in row spec %q", s)
		}
		r := hostileRowSpec{row: n, outcome: outcome}
		if len(f) == 3 {
			r.detail = f[2]
		}
		out = append(out, r)
	}
	return out
}

// hostileCounts derives a job's counts from the case's rows.
func hostileCounts(t *testing.T, c hostileCase) job.Counts {
	var n job.Counts
	if c.totalRows > 0 {
		n.Rows = c.totalRows
		n.Duplicate = c.duplicates
		for _, r := range hostileParseRows(t, c.rows) {
			switch r.outcome {
			case job.Deleted:
				n.Matched++
			case job.NotFound:
				n.NotFound++
			case job.Invalid:
				n.Invalid++
			}
		}
	} else {
		for _, r := range hostileParseRows(t, c.rows) {
			n.Rows++
			switch r.outcome {
			case job.Deleted:
				n.Matched++
			case job.NotFound:
				n.NotFound++
			case job.Invalid:
				n.Invalid++
			case job.Duplicate:
				n.Duplicate++
			default:
				t.Fatalf("unknown outcome in %+v", r)
			}
		}
	}
	n.Valid = n.Matched + n.NotFound
	n.Deleted = n.Matched
	n.TotalRows = n.Rows
	return n
}

// hostileCheckOutcomes compares the job's stored outcomes with the case's rows
// (for a huge case, only its first rows).
func hostileCheckOutcomes(t *testing.T, store *storage.Store, j *job.Job, c hostileCase) {
	t.Helper()
	if j.Counts.Rows > 10_000 {
		// The embedded engine sorts a job's outcomes in memory, all of
		// them, even for a page of four: for a million rows that is gigabytes
		// of heap and minutes, a cost of the engine (MongoDB reads them from
		// the _id index), not of the service. The counts say what the rows
		// were.
		return
	}
	specs := hostileParseRows(t, c.rows)
	limit := len(specs) + 1
	got, err := store.ListOutcomes(context.Background(), "acme", j.ID, 0, 0, limit, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !c.huge && len(got) != len(specs) {
		t.Errorf("%d outcomes, want %d", len(got), len(specs))
	}
	deleted := map[string]bool{}
	for i, want := range specs {
		if i >= len(got) {
			break
		}
		o := got[i]
		bad := o.Row != want.row || o.Outcome != want.outcome
		switch want.outcome {
		case job.Invalid:
			bad = bad || !strings.Contains(o.Reason, want.detail)
		case job.Duplicate:
			bad = bad || strconv.FormatInt(o.DuplicateOfRow, 10) != want.detail
		case job.Deleted:
			deleted[o.Normalized] = true
		}
		if bad {
			t.Errorf("row %d: %s %q (of row %d), want %d %s %s", o.Row, o.Outcome, o.Reason, o.DuplicateOfRow, want.row, want.outcome, want.detail)
		}
	}
	if c.huge {
		return
	}
	for _, d := range c.deletes {
		if !deleted[d] {
			t.Errorf("no row deleted %q", d)
		}
	}
}

// hostileCheckProfiles asserts that the case deleted exactly its profiles of the
// caller's account, and nothing else in any account.
func hostileCheckProfiles(t *testing.T, store *storage.Store, keys []hostileKey, c hostileCase) {
	t.Helper()
	present := hostilePresent(t, store, keys)
	typ := c.spec.Type
	gone := map[string]bool{}
	for _, d := range c.deletes {
		gone[d] = true
	}
	for _, k := range keys {
		wantGone := k.account == "acme" && k.typ == typ && gone[k.value]
		switch {
		case wantGone && present[k]:
			t.Errorf("profile %v was not deleted", k)
		case !wantGone && !present[k]:
			t.Errorf("profile %v was deleted, but the file does not name it", k)
		}
	}
	for _, account := range []string{"acme", "other"} {
		n, err := store.CountProfiles(context.Background(), account)
		if err != nil {
			t.Fatal(err)
		}
		want := 0
		for _, k := range keys {
			if k.account == account && !(account == "acme" && k.typ == typ && gone[k.value]) {
				want++
			}
		}
		if n != int64(want) {
			t.Errorf("account %s has %d profiles, want %d", account, n, want)
		}
	}
}

// hostileCanary previews a small, sane file: the Service is unharmed.
func hostileCanary(t *testing.T, svc *deletion.Service, store *storage.Store) {
	t.Helper()
	id := upload(t, svc, "canary.csv", []byte("Email\nnobody@example.net\n"))
	p, err := svc.Preview(context.Background(), deletion.Caller{AccountID: "acme"}, deletion.FileSource{UploadID: id}, deletion.Spec{Type: identifier.Email}, deletion.Delete)
	if err != nil {
		t.Fatalf("the service no longer previews a sane file: %v", err)
	}
	if want := (job.Counts{TotalRows: 1, Rows: 1, Valid: 1, NotFound: 1}); p.Counts != want {
		t.Fatalf("canary counts %+v, want %+v", p.Counts, want)
	}
	if err := store.DeleteUpload(context.Background(), "acme", id); err != nil {
		t.Fatal(err)
	}
}

// --- Generated files -----------------------------------------------------

// hostileGenOverLimit streams 50 MB of rows in 64 KiB writes, then one more byte.
// The UploadWriter must refuse that byte as it arrives, and must have taken
// every byte before it.
func hostileGenOverLimit(w io.Writer) error {
	const limit = 50 << 20
	chunk := bytes.Repeat([]byte("someone@example.net\n"), 64<<10/20+1)[:64<<10]
	var sent int64
	for sent < limit {
		n, err := w.Write(chunk)
		if err != nil {
			return fmt.Errorf("write at %d bytes (before the limit): %w", sent, err)
		}
		sent += int64(n)
	}
	if sent != limit {
		return fmt.Errorf("sent %d bytes, want exactly %d", sent, limit)
	}
	_, err := w.Write([]byte("x"))
	if err == nil {
		return errors.New("the byte after 50 MB was accepted")
	}
	return err
}

// hostileGenZipBomb writes a workbook whose sheet unpacks to 1 GiB of spaces (its
// header says so: an honest bomb) from about a megabyte. The deflate stream
// is built by repeating a flushed block that encodes 1 MiB of spaces by
// reference to the spaces before it, so building it costs no 1 GiB of
// compression.
func hostileGenZipBomb(w io.Writer) error { return hostileWriteBomb(w, 1023) }

// TestHostileZipBombIsReal checks the construction of the zip bomb on a
// small one: 1 MiB plus 3 repeated blocks must unpack, checksum included,
// to exactly the 4 MiB of spaces its header declares.
func TestHostileZipBombIsReal(t *testing.T) {
	var buf bytes.Buffer
	if err := hostileWriteBomb(&buf, 3); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		if f.Name != "xl/worksheets/sheet1.xml" {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil || uint64(n) != f.UncompressedSize64 || n < 4<<20 {
			t.Fatalf("the sheet unpacks to %d bytes (%v), its header says %d", n, err, f.UncompressedSize64)
		}
		t.Logf("%d bytes unpack to %d", f.CompressedSize64, n)
		return
	}
	t.Fatal("no sheet in the bomb")
}

// hostileWriteBomb writes the zip bomb with 1 MiB + repeats MiB of spaces.
func hostileWriteBomb(w io.Writer, repeats int) error {
	head := testkit.SheetHead + testkit.InlineRow(1, "Email") + testkit.InlineRow(2, "ann@example.com") + "<!--"
	tail := "-->" + testkit.SheetTail
	const mib = 1 << 20
	spaces := bytes.Repeat([]byte{' '}, mib)
	var out bytes.Buffer
	fw, err := flate.NewWriter(&out, flate.BestCompression)
	if err != nil {
		return err
	}
	write := func(p []byte) []byte {
		start := out.Len()
		_, _ = fw.Write(p)
		_ = fw.Flush()
		return bytes.Clone(out.Bytes()[start:])
	}
	first := write(append([]byte(head), spaces...))
	repeat := write(spaces)
	start := out.Len()
	_, _ = io.WriteString(fw, tail)
	if err := fw.Close(); err != nil {
		return err
	}
	last := bytes.Clone(out.Bytes()[start:])
	crc := crc32.Update(0, crc32.IEEETable, []byte(head))
	for range repeats + 1 {
		crc = crc32.Update(crc, crc32.IEEETable, spaces)
	}
	crc = crc32.Update(crc, crc32.IEEETable, []byte(tail))

	zw := zip.NewWriter(w)
	if err := hostileWorkbookParts(zw); err != nil {
		return err
	}
	part, err := zw.CreateRaw(&zip.FileHeader{
		Name:               "xl/worksheets/sheet1.xml",
		Method:             zip.Deflate,
		CRC32:              crc,
		CompressedSize64:   uint64(len(first) + repeats*len(repeat) + len(last)),
		UncompressedSize64: uint64(len(head) + (repeats+1)*mib + len(tail)),
	})
	if err != nil {
		return err
	}
	if _, err := part.Write(first); err != nil {
		return err
	}
	for range repeats {
		if _, err := part.Write(repeat); err != nil {
			return err
		}
	}
	if _, err := part.Write(last); err != nil {
		return err
	}
	return zw.Close()
}

// hostileGenManyParts writes a valid workbook plus 10,000 empty parts.
func hostileGenManyParts(w io.Writer) error {
	zw := zip.NewWriter(w)
	if err := hostileWorkbookParts(zw); err != nil {
		return err
	}
	if err := testkit.WritePart(zw, testkit.Part{Name: "xl/worksheets/sheet1.xml", Body: testkit.SheetHead + testkit.InlineRow(1, "Email") + testkit.InlineRow(2, "ann@example.com") + testkit.SheetTail}); err != nil {
		return err
	}
	for i := range 10_000 {
		if err := testkit.WritePart(zw, testkit.Part{Name: fmt.Sprintf("xl/media/image%d.png", i)}); err != nil {
			return err
		}
	}
	return zw.Close()
}

// hostileGenLongCellCSV writes a row whose second cell is 1 MiB long.
func hostileGenLongCellCSV(w io.Writer) error {
	bw := bufio.NewWriter(w)
	_, _ = bw.WriteString("Email,Note\nann@example.com,")
	_, _ = bw.Write(bytes.Repeat([]byte("x"), 1<<20))
	_, _ = bw.WriteString("\nbob@example.com,short\n")
	return bw.Flush()
}

// hostileGenLongCellXLSX writes a workbook whose second row holds a 1 MiB string.
func hostileGenLongCellXLSX(w io.Writer) error {
	zw := zip.NewWriter(w)
	if err := hostileWorkbookParts(zw); err != nil {
		return err
	}
	sheet := testkit.SheetHead + testkit.InlineRow(1, "Email") + testkit.InlineRow(2, strings.Repeat("x", 1<<20)) + testkit.InlineRow(3, "bob@example.com") + testkit.SheetTail
	if err := testkit.WritePart(zw, testkit.Part{Name: "xl/worksheets/sheet1.xml", Body: sheet}); err != nil {
		return err
	}
	return zw.Close()
}

// hostileGenMaxRowsXLSX writes a sheet with a row element for every one of the
// 1,048,576 rows a spreadsheet has: a header, an address in row 2 and the
// last row, and empty rows between them (what a sheet formatted to its
// bottom looks like).
func hostileGenMaxRowsXLSX(w io.Writer) error {
	zw := zip.NewWriter(w)
	if err := hostileWorkbookParts(zw); err != nil {
		return err
	}
	part, err := zw.Create("xl/worksheets/sheet1.xml")
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(part, 64<<10)
	_, _ = bw.WriteString(testkit.SheetHead + testkit.InlineRow(1, "Email") + testkit.InlineRow(2, "ann@example.com"))
	for r := 3; r < 1_048_576; r++ {
		fmt.Fprintf(bw, `<row r="%d"/>`, r)
	}
	_, _ = bw.WriteString(testkit.InlineRow(1_048_576, "bob@example.com") + testkit.SheetTail)
	if err := bw.Flush(); err != nil {
		return err
	}
	return zw.Close()
}

// hostileGenDuplicates writes one address a million times under a header.
func hostileGenDuplicates(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	_, _ = bw.WriteString("Email\n")
	for range 1_000_000 {
		_, _ = bw.WriteString("ann@example.com\n")
	}
	return bw.Flush()
}

// hostileWorkbookParts writes every part of a one-sheet workbook but the
// sheet.
func hostileWorkbookParts(zw *zip.Writer) error {
	for _, p := range testkit.WorkbookParts {
		if err := testkit.WritePart(zw, p); err != nil {
			return err
		}
	}
	return nil
}
