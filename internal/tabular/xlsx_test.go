package tabular

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/erasure-dev/erasure/internal/testkit"
)

func TestXLSXFixtures(t *testing.T) {
	t.Parallel()
	numbers := []Row{
		row(1, "kind", "value"),
		row(2, "phone general", "46701234567"),
		row(3, "phone 12 digits bold", "447911123456"), // excelize alone: "4.479111235E+11"
		row(4, "phone 15 digits", "123456789012345"),
		row(5, "six digits", "001234"), // format "000000"
		row(6, "thousands", "46701234567"),
		row(7, "two decimals", "46701234567"),
		row(8, "fraction", "0.3"),
		row(9, "negative", "-42"),
		row(10, "percent", "0.25"),
		row(11, "date", "45352"),
		row(12, "text digits", "0701234567"),
		row(13, "hyperlink formula", "anna@example.com"),
		row(14, "concat formula", "bo@example.com"),
		row(15, "numeric formula", "46701234567"),
		row(16, "boolean", "TRUE"),
		row(17, "big", "1E+20"),
	}
	customers := []Row{
		row(1, "email", "name"),
		row(2, "anna@example.com", "Anna Åberg"), // rich text
		row(6, "", "only second column"),
		row(7, "  bo@example.com  ", "two\nlines"),
		row(1008, "last@example.com", "", "", "", "far right"),
	}
	tests := []struct {
		file, sheet string
		want        []Row
	}{
		{"numbers.xlsx", "", numbers},
		{"numbers.xlsx", "Numbers", numbers},
		{"sheets.xlsx", "", customers},
		{"sheets.xlsx", "customers", customers}, // names are case-insensitive, as in Excel
		{"sheets.xlsx", "Secret", []Row{row(1, "hidden@example.com")}},
		{"sheets.xlsx", "Third sheet", []Row{row(2, "phone"), row(3, "46701234567")}},
		{"list.xlsx", "", []Row{
			row(1, "email", "first name", "phone"),
			row(2, "anna@example.com", "Anna", "+46 70 123 45 67"),
			row(3, "bo@example.com", "Bo", "701234567"), // Calc turned 0701234567 into a number on import
			row(4, "carl@example.com", "Carl, Jr."),
			row(5, "zoë@example.com", "Zoë", "46701234567"),
		}},
	}
	for _, tc := range tests {
		t.Run(tc.file+"/"+tc.sheet, func(t *testing.T) {
			t.Parallel()
			// Named .csv on purpose: the content decides.
			f, err := openBytes(t, readFixture(t, tc.file), "upload.csv", Limits{})
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if f.Format() != XLSX || f.Format().String() != "xlsx" || f.Encoding() != "" || f.Delimiter() != 0 {
				t.Errorf("format %v encoding %q delimiter %q", f.Format(), f.Encoding(), f.Delimiter())
			}
			for range 2 {
				rows, err := f.Rows(tc.sheet)
				if err != nil {
					t.Fatal(err)
				}
				got, err := readAll(rows)
				if err != nil {
					t.Fatal(err)
				}
				assertRows(t, got, tc.want)
				rows.Close()
			}
		})
	}
}

func TestXLSXSheets(t *testing.T) {
	t.Parallel()
	f, err := openBytes(t, readFixture(t, "sheets.xlsx"), "sheets.xlsx", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := strings.Join(f.Sheets(), "|"); got != "Customers|Third sheet" {
		t.Errorf("sheets = %q", f.Sheets())
	}
	_, err = f.Rows("Kunder")
	assertFileError(t, err, 0, `the workbook has no sheet named "Kunder"; its sheets are: "Customers", "Third sheet"`)
}

func TestXLSXHandWritten(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, sheetData string
		want            []Row
		errRow          int64
		errMsg          string
	}{
		{
			name: "inline strings and rich inline text",
			sheetData: `<row r="1"><c r="A1" t="inlineStr"><is><t>anna@example.com</t></is></c>` +
				`<c r="B1" t="inlineStr"><is><r><t>An</t></r><r><rPr><b/></rPr><t>na</t></r></is></c></row>`,
			want: []Row{row(1, "anna@example.com", "Anna")},
		},
		{
			name:      "rows and cells without references",
			sheetData: `<row><c t="inlineStr"><is><t>a</t></is></c><c><v>1</v></c></row><row/><row><c t="inlineStr"><is><t>b</t></is></c></row>`,
			want:      []Row{row(1, "a", "1"), row(3, "b")},
		},
		{
			name:      "formula with cached string, no formula text",
			sheetData: `<row r="2"><c r="A2" t="str"><f>HYPERLINK("mailto:a@b.com","a@b.com")</f><v>a@b.com</v></c><c r="B2"><f>1+1</f></c></row>`,
			want:      []Row{row(2, "a@b.com", "")},
		},
		{
			name:      "number in exponent notation",
			sheetData: `<row r="1"><c r="A1"><v>4.6701234567E10</v></c><c r="B1"><v>1.0000000000000002</v></c></row>`,
			want:      []Row{row(1, "46701234567", "1")},
		},
		{
			name:      "error cell and boolean",
			sheetData: `<row r="1"><c r="A1" t="e"><v>#N/A</v></c><c r="B1" t="b"><v>0</v></c></row>`,
			want:      []Row{row(1, "#N/A", "FALSE")},
		},
		{
			// excelize merges a row that goes backwards into the one
			// before; no writer produces one, and numbers stay increasing.
			name:      "out of order rows do not crash",
			sheetData: `<row r="5"><c r="A5" t="inlineStr"><is><t>x</t></is></c></row><row r="3"><c r="B3" t="inlineStr"><is><t>y</t></is></c></row>`,
			want:      []Row{row(5, "x", "y")},
		},
		{
			name:      "bad cell reference",
			sheetData: `<row r="1"><c r="A1" t="inlineStr"><is><t>ok</t></is></c></row><row r="2"><c r="1A" t="inlineStr"><is><t>x</t></is></c></row>`,
			want:      []Row{row(1, "ok")},
			errRow:    2, errMsg: `row 2 of sheet "Data" is damaged`,
		},
		{
			// excelize drops such a cell without an error; no writer
			// produces one, and it must at least not crash.
			name:      "shared string index without a table",
			sheetData: `<row r="1"><c r="A1" t="s"><v>7</v></c><c r="B1" t="inlineStr"><is><t>b</t></is></c></row>`,
			want:      []Row{row(1, "", "b")},
		},
		{
			name: "control character stops excelize: reported, not silently dropped",
			sheetData: `<row r="1"><c r="A1" t="inlineStr"><is><t>a</t></is></c></row>` +
				`<row r="2"><c r="A2" t="inlineStr"><is><t>b` + "\x01" + `</t></is></c></row>` +
				`<row r="3"><c r="A3" t="inlineStr"><is><t>c</t></is></c></row>`,
			want:   []Row{row(1, "a")},
			errRow: 2, errMsg: `the sheet "Data" is damaged after row 2`,
		},
		{
			name:      "row beyond the sheet limit",
			sheetData: `<row r="1048577"><c r="A1048577" t="inlineStr"><is><t>a</t></is></c></row>`,
			errMsg:    "rows beyond row 1,048,576",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := readSheet(t, minimalXLSX(t, tc.sheetData), "x.xlsx", "", Limits{})
			if tc.errMsg != "" {
				assertFileError(t, err, tc.errRow, tc.errMsg)
			} else if err != nil {
				t.Fatal(err)
			}
			assertRows(t, got, tc.want)
		})
	}
}

func TestXLSXNamespacePrefixes(t *testing.T) {
	t.Parallel()
	// The Open XML SDK writes prefixed elements; rows must still be counted.
	data := buildZip(t,
		zipPart{"[Content_Types].xml", ctXML},
		zipPart{"_rels/.rels", rootRels},
		zipPart{"xl/workbook.xml", `<x:workbook xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><x:sheets><x:sheet name="P" sheetId="1" r:id="rId1"/></x:sheets></x:workbook>`},
		zipPart{"xl/_rels/workbook.xml.rels", workbookRels},
		zipPart{"xl/worksheets/sheet1.xml", `<x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><x:sheetData><x:row r="2"><x:c r="A2" t="inlineStr"><x:is><x:t>p@example.com</x:t></x:is></x:c></x:row></x:sheetData></x:worksheet>`},
	)
	got, err := readSheet(t, data, "x.xlsx", "", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	assertRows(t, got, []Row{row(2, "p@example.com")})
}

func TestXLSXLimits(t *testing.T) {
	t.Parallel()
	cells := func(n int) string {
		var b strings.Builder
		b.WriteString(`<row r="1">`)
		for i := range n {
			fmt.Fprintf(&b, `<c r="%s1"><v>%d</v></c>`, colName(i), i)
		}
		b.WriteString(`</row>`)
		return b.String()
	}
	longCell := `<row r="3"><c r="A3" t="inlineStr"><is><t>` + strings.Repeat("x", 100) + `</t></is></c></row>`
	tests := []struct {
		name string
		data []byte
		lim  Limits
		open bool // the error comes from Open
		row  int64
		msg  string
	}{
		{"too many columns", minimalXLSX(t, cells(1001)), Limits{}, false, 1, `row 1 of sheet "Data" has more than 1,000 cells`},
		{"long cell", minimalXLSX(t, longCell), Limits{MaxCellBytes: 99}, false, 3, `row 3 of sheet "Data": a cell is longer than 99 bytes`},
		{"sheet too large", minimalXLSX(t, strings.Repeat(`<row/>`, 1000)), Limits{MaxSheetXMLBytes: 5000}, true, 0, "a sheet of the workbook unpacks to more than 4 KB"},
		{"unzipped too large", minimalXLSX(t, strings.Repeat(`<row/>`, 300000)), Limits{MaxUnzippedBytes: 1 << 20}, true, 0, "the workbook unpacks to more than 1 MB; it may be damaged or malicious"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, err := openBytes(t, tc.data, "x.xlsx", tc.lim)
			if tc.open {
				assertFileError(t, err, tc.row, tc.msg)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			rows, err := f.Rows("")
			if err != nil {
				t.Fatal(err)
			}
			_, err = readAll(rows)
			assertFileError(t, err, tc.row, tc.msg)
		})
	}
}

func colName(i int) string {
	s := ""
	for i++; i > 0; i = (i - 1) / 26 {
		s = string(rune('A'+(i-1)%26)) + s
	}
	return s
}

// TestZipBomb builds a real bomb: a 600 MiB sheet of repeated bytes that
// deflates to well under a megabyte.
func TestZipBomb(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds a 600 MiB stream")
	}
	chunk := bytes.Repeat([]byte(`<row/>`), 1<<14)
	data := streamXLSX(t, func(w io.Writer) error {
		for written := 0; written < 600<<20; written += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return err
			}
		}
		return nil
	})
	if len(data) > 2<<20 {
		t.Fatalf("bomb is %d bytes, expected a small file", len(data))
	}
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := openBytes(t, data, "bomb.xlsx", Limits{})
	assertFileError(t, err, 0, "the workbook unpacks to more than 512 MB; it may be damaged or malicious")
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if grown := after.TotalAlloc - before.TotalAlloc; grown > 64<<20 {
		t.Errorf("refusing the bomb allocated %d MB", grown>>20)
	}
}

// TestZipBombLyingHeader declares a tiny uncompressed size for a sheet that
// really inflates to 64 MiB; archive/zip stops at the declared size.
func TestZipBombLyingHeader(t *testing.T) {
	t.Parallel()
	body := []byte(sheetHead + strings.Repeat(`<row/>`, (64<<20)/6) + sheetTail)
	var comp bytes.Buffer
	fw, _ := flate.NewWriter(&comp, flate.BestSpeed)
	_, _ = fw.Write(body)
	_ = fw.Close()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, p := range testkit.WorkbookParts {
		_ = testkit.WritePart(zw, p)
	}
	w, err := zw.CreateRaw(&zip.FileHeader{
		Name:               "xl/worksheets/sheet1.xml",
		Method:             zip.Deflate,
		CRC32:              crc32.ChecksumIEEE(body),
		CompressedSize64:   uint64(comp.Len()),
		UncompressedSize64: 1000,
	})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = w.Write(comp.Bytes())
	_ = zw.Close()
	_, err = readSheet(t, buf.Bytes(), "x.xlsx", "", Limits{})
	assertFileError(t, err, 0, "the workbook is damaged and cannot be read")
}

// TestXLSXCorruptSheet flips bytes in a stored (uncompressed) sheet, which
// excelize would read without noticing; the CRC check must catch it.
func TestXLSXCorruptSheet(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, p := range testkit.WorkbookParts {
		_ = testkit.WritePart(zw, p)
	}
	w, _ := zw.CreateHeader(&zip.FileHeader{Name: "xl/worksheets/sheet1.xml", Method: zip.Store})
	_, _ = io.WriteString(w, sheetHead+`<row r="1"><c r="A1" t="inlineStr"><is><t>anna@example.com</t></is></c></row>`+sheetTail)
	_ = zw.Close()
	data := buf.Bytes()
	i := bytes.Index(data, []byte("anna@"))
	data[i] = 'e' // "enna@example.com": still valid XML, wrong address
	_, err := readSheet(t, data, "x.xlsx", "", Limits{})
	assertFileError(t, err, 0, "the workbook is damaged and cannot be read")
}

// TestXLSXLargeSheet reads a sheet larger than excelize's in-memory limit,
// which excelize unpacks to a temporary file, and checks that the file is
// gone after Close. Not parallel: it points TMPDIR at its own directory.
func TestXLSXLargeSheet(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	data := largeSheet(t)
	f, err := openBytes(t, data, "big.xlsx", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	checkLargeSheet(t, f, tmp)
}

// TestXLSXLargeSheetOpenFile: through OpenFile, with a TempDir, the sheet
// is unpacked there, not in the system's temporary directory.
func TestXLSXLargeSheetOpenFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "big.xlsx")
	if err := os.WriteFile(path, largeSheet(t), 0o600); err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	f, err := OpenFile(path, Options{Filename: "big.xlsx", TempDir: tmp})
	if err != nil {
		t.Fatal(err)
	}
	checkLargeSheet(t, f, tmp)
}

const largeSheetRows = 200000

// largeSheet is a workbook whose sheet unpacks to more than excelize keeps
// in memory.
func largeSheet(t *testing.T) []byte {
	return streamXLSX(t, func(w io.Writer) error {
		for i := 1; i <= largeSheetRows; i++ {
			if _, err := fmt.Fprintf(w, `<row r="%d"><c r="A%d" t="inlineStr"><is><t>user%d@example.com</t></is></c><c r="B%d"><v>4670%07d</v></c></row>`, i, i, i, i, i); err != nil {
				return err
			}
		}
		return nil
	})
}

// checkLargeSheet reads largeSheet from f, which must have unpacked it
// under tmp, closes f and checks that tmp is empty again.
func checkLargeSheet(t *testing.T, f *File, tmp string) {
	t.Helper()
	if entries, _ := os.ReadDir(tmp); len(entries) == 0 {
		t.Error("expected excelize to spill the sheet to a temporary file")
	}
	rows, err := f.Rows("")
	if err != nil {
		t.Fatal(err)
	}
	var count int64
	for {
		r, err := rows.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		count++
		if r.Number != count || r.Cells[0] != fmt.Sprintf("user%d@example.com", count) || r.Cells[1] != fmt.Sprintf("4670%07d", count) {
			t.Fatalf("row %d = %d %q", count, r.Number, r.Cells)
		}
	}
	if count != largeSheetRows {
		t.Errorf("read %d rows, want %d", count, largeSheetRows)
	}
	rows.Close()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
		t.Errorf("temporary files left after Close: %v", entries)
	}
}

// TestXLSXMillionEmptyRows: a sheet of 1,048,575 empty rows then one with
// data must yield one row numbered 1048576 without holding the sheet.
func TestXLSXMillionEmptyRows(t *testing.T) {
	t.Parallel()
	data := streamXLSX(t, func(w io.Writer) error {
		for i := 1; i < 1048576; i++ {
			if _, err := fmt.Fprintf(w, `<row r="%d" spans="1:1"/>`, i); err != nil {
				return err
			}
		}
		_, err := io.WriteString(w, `<row r="1048576"><c r="A1048576" t="inlineStr"><is><t>last@example.com</t></is></c></row>`)
		return err
	})
	f, err := openBytes(t, data, "empty.xlsx", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := f.Rows("")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got, err := readAll(rows)
	if err != nil {
		t.Fatal(err)
	}
	assertRows(t, got, []Row{row(1048576, "last@example.com")})
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if ms.HeapInuse > 256<<20 {
		t.Errorf("heap in use %d MB", ms.HeapInuse>>20)
	}
}

// TestXLSXGap: one row, a gap of a million rows, one row.
func TestXLSXGap(t *testing.T) {
	t.Parallel()
	got, err := readSheet(t, minimalXLSX(t,
		`<row r="1"><c r="A1" t="inlineStr"><is><t>a</t></is></c></row>`+
			`<row r="1048576"><c r="A1048576" t="inlineStr"><is><t>z</t></is></c></row>`), "x.xlsx", "", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	assertRows(t, got, []Row{row(1, "a"), row(1048576, "z")})
}

func TestScanSheet(t *testing.T) {
	t.Parallel()
	tests := []struct {
		xml        string
		last       int64
		uncomputed []cellRef
	}{
		{`<sheetData><row r="3"><c r="A3"/></row><row r="10" spans="1:2"/></sheetData>`, 10, nil},
		{`<sheetData><row><c/></row><row/><rows/><rowBreaks/></sheetData>`, 2, nil},
		{`<x:sheetData><x:row r = '7' x14ac:dyDescent="0.25"></x:row></x:sheetData>`, 7, nil},
		{`<row spans="1:3" r="4"/>`, 4, nil},
		{`<row r="5"/><row r="2"/>`, 5, nil},
		{``, 0, nil},
		// Formulas: without <v> uncomputed, with <v> (even empty) computed.
		{`<row r="2"><c r="A2"><f>B2&amp;"@x.com"</f></c><c r="B2" t="str"><f>1+1</f><v>2</v></c></row>`, 2, []cellRef{{2, 0}}},
		{`<row r="3"><c r="AB3"><f t="shared" si="0"/></c><c r="AC3" t="str"><f>""</f><v></v></c></row>`, 3, []cellRef{{3, 27}}},
		{`<row><c><f>1</f></c><c><f>2</f><v>2</v></c><c><x:f>3</x:f></c></row>`, 1, []cellRef{{1, 0}, {1, 2}}},
		{`<row r="4"><c r="A4" t="inlineStr"><f>A1</f><is><t>a</t></is></c><c r="B4"><v>1</v></c><c r="C4"/></row>`, 4, nil},
		// A <v> or <f> outside a cell counts for nothing.
		{`<row r="1"><c r="A1"><f>1</f></c><v>1</v></row>`, 1, []cellRef{{1, 0}}},
	}
	for _, tc := range tests {
		got, err := scanSheet(strings.NewReader(tc.xml))
		if err != nil || got.lastRow != tc.last || !slices.Equal(got.uncomputed, tc.uncomputed) {
			t.Errorf("scanSheet(%q) = %d %v, %v; want %d %v", tc.xml, got.lastRow, got.uncomputed, err, tc.last, tc.uncomputed)
		}
	}
}

// TestXLSXNumberFormatsByStyle uses a hand-written style sheet: "000000"
// pads numbers but not text (as in Excel), a custom "General" in a styled
// cell keeps all digits, an unstyled number is plain.
func TestXLSXNumberFormatsByStyle(t *testing.T) {
	t.Parallel()
	data := wrapSheet(t, []byte(sheetHead+
		`<row r="1"><c r="A1" s="1"><v>1234</v></c><c r="B1" s="1" t="inlineStr"><is><t>123</t></is></c><c r="C1" s="2"><v>447911123456</v></c><c r="D1"><v>46701234567</v></c><c r="E1" s="1"><v>46701234567</v></c></row>`+
		`<row r="2"><c r="A2" t="s"><v>0</v></c><c r="B2" t="s"><v>1</v></c><c r="C2" s="9"><v>5</v></c></row>`+
		sheetTail))
	got, err := readSheet(t, data, "x.xlsx", "", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	assertRows(t, got, []Row{
		row(1, "001234", "123", "447911123456", "46701234567", "46701234567"),
		row(2, "anna@example.com", "Bo", "5"),
	})
}
