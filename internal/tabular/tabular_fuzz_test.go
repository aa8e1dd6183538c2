package tabular

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// fuzzLimits are small so that the fuzzer reaches the limit checks.
var fuzzLimits = Limits{MaxCellBytes: 256, MaxColumns: 64, MaxUnzippedBytes: 64 << 20, MaxSheetXMLBytes: 32 << 20}

// drain reads every sheet of data and checks the invariants that hold for
// any input: errors are *FileError with a plain message, row numbers
// strictly increase, cells are valid UTF-8 within the limits.
func drain(t *testing.T, data []byte, name string) {
	f, err := Open(bytes.NewReader(data), int64(len(data)), Options{Filename: name, Limits: fuzzLimits})
	if err != nil {
		checkFuzzError(t, err)
		return
	}
	defer func() {
		if err := f.Close(); err != nil {
			checkFuzzError(t, err)
		}
	}()
	sheets := append([]string{""}, f.Sheets()...)
	for _, sheet := range sheets {
		rows, err := f.Rows(sheet)
		if err != nil {
			checkFuzzError(t, err)
			continue
		}
		var last int64
		for {
			r, err := rows.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				checkFuzzError(t, err)
				break
			}
			if r.Number <= last {
				t.Fatalf("row number %d after %d", r.Number, last)
			}
			last = r.Number
			if len(r.Cells) > fuzzLimits.MaxColumns {
				t.Fatalf("row %d has %d cells", r.Number, len(r.Cells))
			}
			for _, c := range r.Cells {
				if len(c) > fuzzLimits.MaxCellBytes {
					t.Fatalf("row %d has a cell of %d bytes", r.Number, len(c))
				}
				if f.Format() == CSV && !utf8.ValidString(c) {
					t.Fatalf("row %d has invalid UTF-8 %q", r.Number, c)
				}
			}
		}
		if err := rows.Close(); err != nil {
			checkFuzzError(t, err)
		}
	}
}

func checkFuzzError(t *testing.T, err error) {
	t.Helper()
	var fe *FileError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v (%T) is not a *FileError", err, err)
	}
	assertPlainMessage(t, fe.Message)
}

func FuzzCSV(f *testing.F) {
	entries, _ := filepath.Glob(filepath.Join("testdata", "*.csv"))
	more, _ := filepath.Glob(filepath.Join("testdata", "*.t[sx][vt]"))
	for _, p := range append(entries, more...) {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{
		"", "\xef\xbb\xbf", "\xff\xfe", "\xfe\xff\x00", "sep=", "sep=;\n", "sep=\"\n",
		"a,\"b\nc", "\"\"\"", "a\rb\r\"c\rd\"", "a;b\n1,5;2\n", "\x00\x00\x00a",
		"a\tb\r\n\"x\ty\"\tz\r\n", "\x93smart\x94,quotes\n",
		"h;n\r\nAnn;5'11\";37°36'37.8\"N\r\n\"Bo\"\"b\";\"x\"\r\n", "a,\"b\"c\n", "a, \"b\"\n", "a|\"b\nc\"d|e\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		drain(t, data, "fuzz.csv")
	})
}

// FuzzXLSX reads either a whole file (input starting with "PK", seeded with
// the fixtures) or, far more productively since random bytes in a zip mostly
// just break its checksums, a worksheet's XML that the target wraps into a
// valid workbook with shared strings and styles.
func FuzzXLSX(f *testing.F) {
	entries, _ := filepath.Glob(filepath.Join("testdata", "*.xlsx"))
	for _, p := range entries {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		f.Add(b)
		if zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b))); err == nil {
			for _, zf := range zr.File {
				if strings.HasPrefix(zf.Name, "xl/worksheets/sheet") {
					rc, _ := zf.Open()
					sheet, _ := io.ReadAll(rc)
					rc.Close()
					f.Add(sheet)
				}
			}
		}
	}
	f.Add([]byte(sheetHead + `<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" s="1"><v>1234</v></c><c r="C1" s="2"><v>447911123456</v></c></row>` + sheetTail))
	f.Add([]byte(sheetHead + `<row><c t="inlineStr"><is><t>x</t></is></c></row><row r="9"><c r="XFD9"><f>1</f></c></row>` + sheetTail))
	f.Fuzz(func(t *testing.T, data []byte) {
		if !bytes.HasPrefix(data, []byte("PK")) {
			data = wrapSheet(t, data)
		}
		drain(t, data, "fuzz.xlsx")
	})
}

// wrapSheet puts sheet XML into a workbook with two shared strings and a
// style sheet whose cell styles use "000000" and "General".
func wrapSheet(t testing.TB, sheet []byte) []byte {
	return buildZip(t,
		zipPart{"[Content_Types].xml", ctXML},
		zipPart{"_rels/.rels", rootRels},
		zipPart{"xl/workbook.xml", workbookXML},
		zipPart{"xl/_rels/workbook.xml.rels", workbookRels},
		zipPart{"xl/sharedStrings.xml", `<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="2" uniqueCount="2"><si><t>anna@example.com</t></si><si><r><t>B</t></r><r><t>o</t></r></si></sst>`},
		zipPart{"xl/styles.xml", `<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><numFmts count="2"><numFmt numFmtId="164" formatCode="000000"/><numFmt numFmtId="165" formatCode="General"/></numFmts><cellXfs count="3"><xf numFmtId="0"/><xf numFmtId="164"/><xf numFmtId="165"/></cellXfs></styleSheet>`},
		zipPart{"xl/worksheets/sheet1.xml", string(sheet)},
	)
}

// FuzzRecordsMatchEncodingCSV holds recordReader to encoding/csv on every
// input that encoding/csv reads: the two may differ only where encoding/csv
// refuses a quote inside an unquoted cell (ErrBareQuote), which recordReader
// reads as text. Where encoding/csv finds a malformed quoted field
// (ErrQuote), recordReader must refuse the same record. Both read the text
// after crReader, and recordReader through a tiny buffer, so that lines
// longer than the buffer are exercised too.
func FuzzRecordsMatchEncodingCSV(f *testing.F) {
	for _, s := range []string{
		"a,b\n\"c,d\",e\n", "\"a\"\"b\",c\r\n\r\n\"x\ny\",z", "a,\"b\n", "\"a\"b,c\n", "a,b\"c\n",
		" \"a\",b\n", "\"\"\n\"\"\"\"\n,\n", "\"a\nb\"c\n", strings.Repeat("abcdefgh,", 10) + "\"" + strings.Repeat("x\n", 20) + "\"\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		text, err := io.ReadAll(&crReader{r: bytes.NewReader(data)})
		if err != nil {
			t.Fatal(err)
		}
		want := csv.NewReader(bytes.NewReader(text))
		want.FieldsPerRecord = -1
		got := newRecordReader(bufio.NewReaderSize(bytes.NewReader(text), 16), ',')
		for n := 1; ; n++ {
			wantRec, wantErr := want.Read()
			gotRec, line, gotErr := got.read()
			var pe *csv.ParseError
			switch {
			case errors.As(wantErr, &pe) && errors.Is(pe.Err, csv.ErrBareQuote):
				return // recordReader reads on; nothing to compare with
			case errors.As(wantErr, &pe) && errors.Is(pe.Err, csv.ErrQuote):
				var qe *quoteError
				if !errors.As(gotErr, &qe) || qe.kind == quoteAfterSpaces {
					t.Fatalf("record %d: encoding/csv %v, recordReader %q, %v", n, wantErr, gotRec, gotErr)
				}
				return
			case wantErr == io.EOF:
				if gotErr != io.EOF {
					t.Fatalf("after record %d: recordReader %q, %v; want the end", n-1, gotRec, gotErr)
				}
				return
			case wantErr != nil:
				t.Fatalf("encoding/csv: %v", wantErr)
			}
			if gotErr != nil {
				t.Fatalf("record %d: recordReader %v; encoding/csv read %q", n, gotErr, wantRec)
			}
			if !slices.Equal(gotRec, wantRec) {
				t.Fatalf("record %d: recordReader %q, encoding/csv %q", n, gotRec, wantRec)
			}
			if wantLine, _ := want.FieldPos(0); int64(wantLine) != line {
				t.Fatalf("record %d starts on line %d, encoding/csv says %d", n, line, wantLine)
			}
			if got.offset != want.InputOffset() {
				t.Fatalf("after record %d: offset %d, encoding/csv %d", n, got.offset, want.InputOffset())
			}
		}
	})
}
