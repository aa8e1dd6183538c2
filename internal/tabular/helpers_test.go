package tabular

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/erasure-dev/erasure/internal/testkit"
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

// The hand-built archives and workbooks of testkit, under short names.
type zipPart = testkit.Part

const (
	ctXML        = testkit.ContentTypes
	rootRels     = testkit.RootRels
	workbookXML  = testkit.WorkbookXML
	workbookRels = testkit.WorkbookRels
	sheetHead    = testkit.SheetHead
	sheetTail    = testkit.SheetTail
)

var zipBytes = testkit.Zip

// buildZip writes parts into a zip archive (deflated).
func buildZip(t testing.TB, parts ...zipPart) []byte {
	t.Helper()
	b, err := testkit.Zip(parts...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// minimalXLSX wraps sheetData content into a one-sheet workbook.
func minimalXLSX(t testing.TB, sheetData string) []byte {
	t.Helper()
	b, err := testkit.XLSX(sheetData)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// streamXLSX writes a one-sheet workbook whose sheetData is produced by fill,
// streaming so that tests can build sheets of hundreds of megabytes.
func streamXLSX(t testing.TB, fill func(w io.Writer) error) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := testkit.StreamXLSX(&buf, fill); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
