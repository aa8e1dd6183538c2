package tabular

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// Regression: a lone CR in a file that otherwise ends its lines in LF or
// CRLF (rows appended by another program) is a line break in Excel and
// LibreOffice. encoding/csv alone kept it inside a cell, gluing two rows
// together: the second row's identifier ended up in a cell of the first
// and was neither deleted nor reported. Found by the deletion package's
// hostile-file corpus (deletion/testdata/hostile/mixed_line_endings.csv).
func TestLoneCRAmongLFIsALineBreak(t *testing.T) {
	for _, tc := range []struct {
		name string
		data string
		want []Row
	}{
		{
			"identifier first",
			"Email,Name\r\nann@example.com,Ann\nbob@example.com,Bob\rcarl@example.com,Carl\r\ndora@example.com,Dora\n",
			[]Row{row(1, "Email", "Name"), row(2, "ann@example.com", "Ann"), row(3, "bob@example.com", "Bob"), row(4, "carl@example.com", "Carl"), row(5, "dora@example.com", "Dora")},
		},
		{
			"identifier last",
			"Name,Email\nAnn,ann@example.com\rBob,bob@example.com\n",
			[]Row{row(1, "Name", "Email"), row(2, "Ann", "ann@example.com"), row(3, "Bob", "bob@example.com")},
		},
		{
			"CR CR LF is two breaks",
			"Email\nann@example.com\r\r\nbob@example.com\n",
			[]Row{row(1, "Email"), row(2, "ann@example.com"), row(4, "bob@example.com")},
		},
		{
			// The break stays in the cell and, like any line break in a
			// quoted cell, counts as a line for the row numbers.
			"inside quotes it stays in the cell",
			"Email,Note\nann@example.com,\"one\rtwo\"\nbob@example.com,x\n",
			[]Row{row(1, "Email", "Note"), row(2, "ann@example.com", "one\ntwo"), row(4, "bob@example.com", "x")},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readSheet(t, []byte(tc.data), "list.csv", "", Limits{})
			if err != nil {
				t.Fatal(err)
			}
			assertRows(t, got, tc.want)
		})
	}
}

// crReader must give the same text whatever the reads it gets cut into,
// in particular a CRLF split between two reads.
func TestCRReaderAcrossReads(t *testing.T) {
	in := "a\r\nb\rc\n\r\r\nd\r"
	want := "a\nb\nc\n\n\nd\n"
	for name, r := range map[string]io.Reader{
		"whole":    strings.NewReader(in),
		"one byte": iotest.OneByteReader(strings.NewReader(in)),
		"halves":   iotest.HalfReader(strings.NewReader(in)),
	} {
		got, err := io.ReadAll(&crReader{r: r})
		if err != nil || string(got) != want {
			t.Errorf("%s: %q, %v; want %q", name, got, err, want)
		}
	}
}

// Regression (FuzzCSV, testdata/fuzz/FuzzCSV/a9257fa3302a8aa0): a UTF-8
// file with stray bytes of another encoding past the sniffed sample has
// each stray byte marked with U+FFFD, three bytes long, so a cell within
// MaxCellBytes could come out up to three times longer than the limit
// promises.
func TestMarkedCellStaysWithinLimit(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("Email,Note\n")
	for b.Len() < sampleSize+1000 {
		b.WriteString("ann@example.com,plain ASCII padding\n")
	}
	b.WriteString("bob@example.com,")
	b.WriteString(strings.Repeat("a\xff", 20_000)) // 40,000 bytes, 80,000 once marked
	b.WriteString("\n")
	rows, err := readSheet(t, b.Bytes(), "list.csv", "", Limits{})
	assertFileError(t, err, int64(len(rows)+1), "once its unreadable characters are marked")

	short := "Email\n" + strings.Repeat("ann@example.com\n", sampleSize/16+100) + "bob@exa\xffmple.com\n"
	rows, err = readSheet(t, []byte(short), "list.csv", "", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if last := rows[len(rows)-1].Cells[0]; last != "bob@exa\uFFFDmple.com" {
		t.Fatalf("last cell %q, want the stray byte marked with U+FFFD", last)
	}
}

// Regression: a one-column file in which one cell holds two addresses
// separated by ";" was read as ";"-delimited, so the second address went
// to a column without a header and was silently ignored, while the first
// was taken. A delimiter in a minority of the records and not in the first
// is now text: the cell stays whole (and is refused by the identifier
// layer, visibly). Found by deletion/testdata/hostile/email_forms.csv.
func TestDelimiterInAMinorityOfRecordsIsText(t *testing.T) {
	data := "Email\nmailto:ann@example.com\nBob <bob@example.com>\ncarl@example.com; dora@example.com\n\" eve@example.com \"\n'zoe@example.com\nANN@EXAMPLE.COM\n"
	f, err := openBytes(t, []byte(data), "list.csv", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if d := f.Delimiter(); d != ',' {
		t.Errorf("delimiter %q, want ','", d)
	}
	got, err := readSheet(t, []byte(data), "list.csv", "", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if c := got[3].Cells; len(c) != 1 || c[0] != "carl@example.com; dora@example.com" {
		t.Errorf("row 4 cells %q, want the two addresses in one cell", c)
	}
	// Still ";": in the header, or in most records of a ragged file.
	for _, data := range []string{
		"Email;Name\nann@example.com\nbob@example.com\ncarl@example.com;Carl\n",
		"ann@example.com\nbob@example.com;Bob\ncarl@example.com;Carl\n",
	} {
		f, err := openBytes(t, []byte(data), "list.csv", Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if d := f.Delimiter(); d != ';' {
			t.Errorf("%q: delimiter %q, want ';'", data, d)
		}
		f.Close()
	}
}

// Regression: excelize reports a row beyond 1,048,576 from Columns of the
// row before it, which was reported as that (healthy) row being damaged.
func TestRowBeyondMaxAfterOtherRows(t *testing.T) {
	got, err := readSheet(t, minimalXLSX(t,
		`<row r="1"><c r="A1" t="inlineStr"><is><t>Email</t></is></c></row>`+
			`<row r="2"><c r="A2" t="inlineStr"><is><t>ann@example.com</t></is></c></row>`+
			`<row r="1048577"><c r="A1048577" t="inlineStr"><is><t>bob@example.com</t></is></c></row>`), "x.xlsx", "", Limits{})
	assertFileError(t, err, 0, "rows beyond row 1,048,576")
	assertRows(t, got, []Row{row(1, "Email")})
}
