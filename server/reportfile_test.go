package server_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	erasurev1 "github.com/erasure-dev/erasure/gen/erasure/v1"
	"github.com/erasure-dev/erasure/internal/deletion"
)

// download reads a DownloadReport stream over gRPC and returns the first
// message's name and type, the file, and each message's data size. It
// also decodes the file as grpcurl users do: the base64 of every message
// joined.
func download(t *testing.T, e *env, jobID string) (name, contentType string, file []byte, sizes []int) {
	t.Helper()
	stream, err := e.grpc.DownloadReport(context.Background(), &erasurev1.DownloadReportRequest{JobId: jobID})
	if err != nil {
		t.Fatal(err)
	}
	var joined strings.Builder
	for i := 0; ; i++ {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			name, contentType = m.GetFilename(), m.GetContentType()
		} else if m.GetFilename() != "" || m.GetContentType() != "" {
			t.Fatalf("message %d names the file again", i)
		}
		file = append(file, m.GetData()...)
		sizes = append(sizes, len(m.GetData()))
		joined.WriteString(base64.StdEncoding.EncodeToString(m.GetData()))
	}
	if decoded, err := base64.StdEncoding.DecodeString(joined.String()); err != nil || !bytes.Equal(decoded, file) {
		t.Fatalf("the messages' base64 joined does not decode to the file: %v", err)
	}
	return name, contentType, file, sizes
}

// readReport checks a report file's encoding (BOM, CRLF) and returns its
// records.
func readReport(t *testing.T, file []byte) [][]string {
	t.Helper()
	body, ok := bytes.CutPrefix(file, []byte("\xef\xbb\xbf"))
	if !ok {
		t.Fatalf("the file does not start with the UTF-8 BOM: %q", file[:min(len(file), 10)])
	}
	if n, crlf := bytes.Count(body, []byte("\n")), bytes.Count(body, []byte("\r\n")); n == 0 || n != crlf {
		t.Fatalf("%d line ends, %d of them CRLF", n, crlf)
	}
	r := csv.NewReader(bytes.NewReader(body))
	records, err := r.ReadAll()
	if err != nil {
		t.Fatalf("the file is not CSV: %v", err)
	}
	return records
}

// A report bigger than one message: every message but the last carries
// the same multiple of 3, the file holds every row of several pages.
func TestDownloadReportInChunks(t *testing.T) {
	t.Parallel()
	e := newEnv(t, deletion.Config{BatchSize: 1000})
	var values []string
	for i := range 2500 {
		values = append(values, fmt.Sprintf("row %04d is not an address %s", i, strings.Repeat("x", 100)))
	}
	j := deleteList(t, e.connect, values...)
	_, _, file, sizes := download(t, e, j.GetJobId())
	if len(sizes) < 2 {
		t.Fatalf("%d bytes in %d message: want several", len(file), len(sizes))
	}
	for _, n := range sizes[:len(sizes)-1] {
		if n != sizes[0] || n%3 != 0 {
			t.Fatalf("message sizes %v: want equal multiples of 3 but the last", sizes)
		}
	}
	records := readReport(t, file)
	if len(records) != 2501 || records[2500][1] != values[2499] {
		t.Fatalf("%d records, last %q", len(records), records[len(records)-1])
	}
}

// sheetCell is a cell as LibreOffice saved it in an XLSX sheet.
type sheetCell struct {
	Ref     string `xml:"r,attr"`
	Type    string `xml:"t,attr"`
	Formula string `xml:"f"`
	Value   string `xml:"v"`
}

type sheetXML struct {
	Rows []struct {
		Cells []sheetCell `xml:"c"`
	} `xml:"sheetData>row"`
}

type sharedStringsXML struct {
	Items []struct {
		Text string `xml:"t"`
	} `xml:"si"`
}

// libreOffice converts CSV files to XLSX with LibreOffice headless, read as
// UTF-8 comma-separated text (what its import dialog picks for a file that
// starts with a UTF-8 BOM) with its default of evaluating formulas, and
// returns each file's first sheet. It skips the test when soffice is not
// installed (make test installs it on Debian), unless
// ERASURE_REQUIRE_SOFFICE is set, as in CI.
func libreOffice(t *testing.T, files map[string][]byte) map[string][][]sheetCell {
	t.Helper()
	soffice, err := exec.LookPath("soffice")
	if err != nil {
		if os.Getenv("ERASURE_REQUIRE_SOFFICE") != "" {
			t.Fatal("soffice not found and ERASURE_REQUIRE_SOFFICE is set: install libreoffice-calc-nogui")
		}
		t.Skip("soffice not found: install libreoffice-calc-nogui (make test does on Debian as root)")
	}
	dir := t.TempDir()
	args := []string{
		// A profile of its own, so parallel runs do not share a lock.
		"-env:UserInstallation=file://" + filepath.Join(dir, "profile"),
		"--headless", "--infilter=CSV:44,34,76,1", "--convert-to", "xlsx", "--outdir", filepath.Join(dir, "out"),
	}
	for name, data := range files {
		path := filepath.Join(dir, name+".csv")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, path)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, soffice, args...)
	cmd.Env = append(os.Environ(), "HOME="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("soffice: %v\n%s", err, out)
	}
	sheets := map[string][][]sheetCell{}
	for name := range files {
		sheets[name] = readSheet(t, filepath.Join(dir, "out", name+".xlsx"))
	}
	return sheets
}

// readSheet returns the first sheet's cells, shared strings resolved into
// Value.
func readSheet(t *testing.T, path string) [][]sheetCell {
	t.Helper()
	z, err := zip.OpenReader(path)
	if err != nil {
		t.Fatalf("LibreOffice wrote no workbook: %v", err)
	}
	defer z.Close()
	read := func(name string, v any) {
		f, err := z.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		data, err := io.ReadAll(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := xml.Unmarshal(data, v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	var sheet sheetXML
	var shared sharedStringsXML
	read("xl/worksheets/sheet1.xml", &sheet)
	read("xl/sharedStrings.xml", &shared)
	var rows [][]sheetCell
	for _, r := range sheet.Rows {
		for i, c := range r.Cells {
			if c.Type == "s" {
				n, err := strconv.Atoi(c.Value)
				if err != nil || n >= len(shared.Items) {
					t.Fatalf("cell %s: shared string %q", c.Ref, c.Value)
				}
				r.Cells[i].Value = shared.Items[n].Text
			}
		}
		rows = append(rows, r.Cells)
	}
	return rows
}

// openInLibreOffice opens a report download in LibreOffice Calc and checks
// that every cell is read as it was written, as text and never as a
// formula, and that no row is lost. The same values written without
// neutralising, opened the same way, show that LibreOffice would have run
// them.
func openInLibreOffice(t *testing.T, report []byte, rows int) {
	body := bytes.TrimPrefix(report, []byte("\xef\xbb\xbf"))
	want, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	// The control: the report's cells with the apostrophes taken off.
	var raw bytes.Buffer
	w := csv.NewWriter(&raw)
	for _, rec := range want {
		plain := make([]string, len(rec))
		for i, cell := range rec {
			plain[i] = strings.TrimPrefix(cell, "'")
		}
		_ = w.Write(plain)
	}
	w.Flush()
	sheets := libreOffice(t, map[string][]byte{"report": report, "control": raw.Bytes()})

	got := sheets["report"]
	if len(got) != rows+1 {
		t.Fatalf("LibreOffice read %d rows, want a header and %d", len(got), rows)
	}
	for r, cells := range got {
		written := 0
		for _, cell := range cells {
			c := column(t, cell.Ref)
			// A line break inside a cell is LF in a spreadsheet.
			wantText := strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(want[r][c])
			written++
			if cell.Formula != "" {
				t.Errorf("cell %s became the formula %q", cell.Ref, cell.Formula)
			}
			// Row numbers are numbers; every other cell is text, as written.
			if _, err := strconv.Atoi(wantText); err == nil && (c == 0 || c == 5) {
				if cell.Value != wantText {
					t.Errorf("cell %s = %q, want %s", cell.Ref, cell.Value, wantText)
				}
				continue
			}
			if cell.Type != "s" || cell.Value != wantText {
				t.Errorf("cell %s = %q (type %q), want the text %q", cell.Ref, cell.Value, cell.Type, wantText)
			}
		}
		// LibreOffice leaves empty cells out.
		nonEmpty := 0
		for _, v := range want[r] {
			if v != "" {
				nonEmpty++
			}
		}
		if written != nonEmpty {
			t.Errorf("row %d: %d cells read, %d written", r+1, written, nonEmpty)
		}
	}
	if got[0][0].Value != "row" {
		t.Errorf("the first cell reads %q: the byte order mark was not taken as one", got[0][0].Value)
	}
	t.Logf("LibreOffice read %d rows; value cells as text, e.g. %q, %q, %q", len(got), got[2][1].Value, got[5][1].Value, got[14][1].Value)

	formulas, numbers := 0, 0
	for _, cells := range sheets["control"] {
		for _, cell := range cells {
			if column(t, cell.Ref) != 1 {
				continue // the values
			}
			if cell.Formula != "" {
				formulas++
			} else if cell.Type == "n" {
				numbers++
			}
		}
	}
	if formulas == 0 || numbers == 0 {
		t.Fatalf("the control file gave %d formulas and %d numbers: this LibreOffice would not have run the cells, and the test proves nothing", formulas, numbers)
	}
	t.Logf("without the apostrophes LibreOffice reads %d formulas and %d numbers", formulas, numbers)
}

// column returns the 0-based column of a cell reference such as "B3".
func column(t *testing.T, ref string) int {
	t.Helper()
	n := 0
	for _, r := range ref {
		if r < 'A' || r > 'Z' {
			break
		}
		n = n*26 + int(r-'A'+1)
	}
	if n == 0 {
		t.Fatalf("cell reference %q", ref)
	}
	return n - 1
}
