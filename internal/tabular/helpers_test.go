package tabular

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// row is a compact literal for expected rows.
func row(n int64, cells ...string) Row { return Row{Number: n, Cells: cells} }

// openBytes opens data as an upload named name.
func openBytes(t testing.TB, data []byte, name string, lim Limits) (*File, error) {
	t.Helper()
	return Open(bytes.NewReader(data), int64(len(data)), Options{Filename: name, Limits: lim})
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readAll drains rows, copying cells (the iterator may reuse the slice).
func readAll(rows Rows) ([]Row, error) {
	var out []Row
	for {
		r, err := rows.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, Row{Number: r.Number, Cells: append([]string(nil), r.Cells...)})
	}
}

// readSheet opens the file and reads one sheet to the end.
func readSheet(t testing.TB, data []byte, name, sheet string, lim Limits) ([]Row, error) {
	t.Helper()
	f, err := openBytes(t, data, name, lim)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rows, err := f.Rows(sheet)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return readAll(rows)
}

func assertRows(t testing.TB, got, want []Row) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rows differ\n got: %s\nwant: %s", fmtRows(got), fmtRows(want))
	}
}

func fmtRows(rs []Row) string {
	var b strings.Builder
	for _, r := range rs {
		fmt.Fprintf(&b, "\n  %d %q", r.Number, r.Cells)
	}
	return b.String()
}

// assertFileError checks that err is a *FileError whose message contains
// want and that names row (0 = not row-specific), and that it leaks nothing
// of Go or the libraries.
func assertFileError(t testing.TB, err error, row int64, want string) {
	t.Helper()
	var fe *FileError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v (%T) is not a *FileError", err, err)
	}
	if !strings.Contains(fe.Message, want) {
		t.Errorf("message %q does not contain %q", fe.Message, want)
	}
	if fe.Row != row {
		t.Errorf("row = %d, want %d (message %q)", fe.Row, row, fe.Message)
	}
	assertPlainMessage(t, fe.Message)
}

// assertPlainMessage rejects messages that expose internals.
func assertPlainMessage(t testing.TB, msg string) {
	t.Helper()
	lower := strings.ToLower(msg)
	for _, leak := range []string{"excelize", "zip:", "csv:", "xml:", "panic", "runtime", "nil", "parse error", "invalid argument", ".go"} {
		if strings.Contains(lower, leak) {
			t.Errorf("message %q leaks %q", msg, leak)
		}
	}
	if strings.Contains(msg, "EOF") {
		t.Errorf("message %q leaks EOF", msg)
	}
	if msg == "" {
		t.Error("empty message")
	}
}

// zipPart is one file of a hand-built archive.
type zipPart struct {
	name string
	body string
}

// buildZip writes parts into a zip archive (deflated).
func buildZip(t testing.TB, parts ...zipPart) []byte {
	t.Helper()
	b, err := zipBytes(parts...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func zipBytes(parts ...zipPart) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, p := range parts {
		w, err := zw.Create(p.name)
		if err != nil {
			return nil, err
		}
		if _, err := io.WriteString(w, p.body); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Minimal SpreadsheetML parts, written by hand (not by excelize) to produce
// workbooks real writers produce but LibreOffice does not: inline strings,
// rows without r attributes, namespace prefixes, damaged XML.
const (
	ctXML = `<?xml version="1.0" encoding="UTF-8"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>`
	rootRels = `<?xml version="1.0" encoding="UTF-8"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>`
	workbookXML = `<?xml version="1.0" encoding="UTF-8"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Data" sheetId="1" r:id="rId1"/></sheets></workbook>`
	workbookRels = `<?xml version="1.0" encoding="UTF-8"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>`
	sheetHead = `<?xml version="1.0" encoding="UTF-8"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>`
	sheetTail = `</sheetData></worksheet>`
)

// minimalXLSX wraps sheetData content into a one-sheet workbook.
func minimalXLSX(t testing.TB, sheetData string) []byte {
	t.Helper()
	return buildZip(t,
		zipPart{"[Content_Types].xml", ctXML},
		zipPart{"_rels/.rels", rootRels},
		zipPart{"xl/workbook.xml", workbookXML},
		zipPart{"xl/_rels/workbook.xml.rels", workbookRels},
		zipPart{"xl/worksheets/sheet1.xml", sheetHead + sheetData + sheetTail},
	)
}

// streamXLSX writes a one-sheet workbook whose sheetData is produced by fill,
// streaming so that tests can build sheets of hundreds of megabytes.
func streamXLSX(t testing.TB, fill func(w io.Writer) error) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, p := range []zipPart{
		{"[Content_Types].xml", ctXML},
		{"_rels/.rels", rootRels},
		{"xl/workbook.xml", workbookXML},
		{"xl/_rels/workbook.xml.rels", workbookRels},
	} {
		w, err := zw.Create(p.name)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(w, p.body)
	}
	w, err := zw.Create("xl/worksheets/sheet1.xml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(w, sheetHead); err != nil {
		t.Fatal(err)
	}
	if err := fill(w); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(w, sheetTail); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
