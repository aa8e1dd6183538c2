package tabular

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestCSVFixtures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file  string
		enc   string
		delim rune
		want  []Row
	}{
		{"utf8.csv", "utf-8", ',', []Row{
			row(1, "email", "name", "phone"),
			row(2, "anna@example.com", "Anna Åberg", "46701234567"),
			row(3, "zoe@example.com", "Zoë 日本", "+46 70 123 45 67"),
		}},
		{"utf8_bom.csv", "utf-8-bom", ',', []Row{
			row(1, "email", "name"),
			row(2, "anna@example.com", "Anna Åberg"),
			row(3, "bo@example.com", "Bö"),
		}},
		{"utf16le_tab.txt", "utf-16le", '\t', []Row{
			row(1, "email", "name"),
			row(2, "anna@example.com", "Anna Åberg"),
			row(3, "bo@example.com", `Bo, "the" boss`),
		}},
		{"utf16be.csv", "utf-16be", ',', []Row{
			row(1, "email", "name"),
			row(2, "anna@example.com", "Ånna"),
		}},
		{"cp1252.csv", "windows-1252", ',', []Row{
			row(1, "email", "name", "note"),
			row(2, "rene@example.com", "René Müller", "costs 5 €"),
			row(3, "obrien@example.com", "Seán O’Brien", "ok"),
		}},
		{"semicolon.csv", "utf-8", ';', []Row{
			row(1, "email", "name", "amount"),
			row(2, "anna@example.com", "Anna", "1,5"),
			row(3, "bo@example.com", "Bo", "2,25"),
			row(4, "carl@example.com", "Carl; Jr.", "3"),
		}},
		{"pipe.csv", "utf-8", '|', []Row{
			row(1, "email", "name"),
			row(2, "anna@example.com", "Anna"),
			row(3, "bo@example.com", "Bo, Jr."),
		}},
		{"tab.tsv", "utf-8", '\t', []Row{
			row(1, "email", "name"),
			row(2, "anna@example.com", "Åberg, Anna"),
			row(3, "bo@example.com", "Bo"),
		}},
		{"quoted.csv", "utf-8", ',', []Row{
			row(1, "email", "comment"),
			row(2, "anna@example.com", `said "hi", then left`),
			row(3, "bo@example.com", "line one\nline two"),
			row(5, "carl@example.com", ""),
		}},
		{"cr_only.csv", "utf-8", ',', []Row{
			row(1, "email", "name"),
			row(2, "anna@example.com", "Anna"),
			row(3, "bo@example.com", "Bo"),
		}},
		{"blank_lines.csv", "utf-8", ',', []Row{
			row(2, "email", "name"),
			row(4, "anna@example.com", "Anna"),
			row(7, "bo@example.com", "Bo"),
		}},
		{"ragged.csv", "utf-8", ',', []Row{
			row(1, "email", "name", "phone"),
			row(2, "anna@example.com"),
			row(3, "bo@example.com", "Bo", "070", "extra"),
			row(5, "carl@example.com", "Carl"),
		}},
		{"sep_directive.csv", "utf-8", ';', []Row{
			row(2, "email", "name"),
			row(3, "anna@example.com", "Anna, A."),
		}},
		{"bare_quote.csv", "utf-8", ',', []Row{
			row(1, "email", "name"),
			row(2, "anna@example.com", "Anna"),
			row(3, "bo@example.com", `Bo "the boss"`),
		}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			data := readFixture(t, tc.file)
			f, err := openBytes(t, data, tc.file, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if f.Format() != CSV || f.Format().String() != "csv" {
				t.Errorf("format = %v", f.Format())
			}
			if f.Encoding() != tc.enc {
				t.Errorf("encoding = %q, want %q", f.Encoding(), tc.enc)
			}
			if f.Delimiter() != tc.delim {
				t.Errorf("delimiter = %q, want %q", f.Delimiter(), tc.delim)
			}
			if f.Sheets() != nil {
				t.Errorf("sheets = %q, want nil", f.Sheets())
			}
			// Rows twice: each iterator starts at the top.
			for range 2 {
				rows, err := f.Rows("")
				if err != nil {
					t.Fatal(err)
				}
				got, err := readAll(rows)
				if err != nil {
					t.Fatal(err)
				}
				assertRows(t, got, tc.want)
				if _, err := rows.Next(); err != io.EOF {
					t.Errorf("Next after EOF = %v", err)
				}
				rows.Close()
			}
		})
	}
}

func TestCSVErrors(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 70<<10)
	wide := strings.Repeat("a,", 1000) + "a"
	tests := []struct {
		name    string
		data    []byte
		lim     Limits
		goodRow int // rows returned before the error
		row     int64
		msg     string
	}{
		{"unclosed quote", readFixture(t, "unclosed_quote.csv"), Limits{}, 2, 3,
			"line 3: a quoted field is not closed; check the quotes on that line"},
		{"unclosed quote on last line", []byte("a,b\nc,\"d\n"), Limits{}, 1, 2,
			"line 2: a quoted field is not closed"},
		{"text after closing quote", []byte("a,b\n\"c\"d,e\nf,g\n"), Limits{}, 1, 2,
			"line 2: a quoted field has text after its closing quote"},
		{"long cell", []byte("email\nanna@example.com\n" + long + "\n"), Limits{}, 2, 3,
			"line 3: a cell is longer than 64 KB"},
		{"long quoted multi-line cell", []byte("a\n\"" + strings.Repeat("x\n", 40) + "\"\n"), Limits{MaxCellBytes: 50}, 1, 2,
			"line 2: a cell is longer than 50 bytes"},
		{"too many columns", []byte("a\n" + wide + "\n"), Limits{}, 1, 2,
			"line 2 has more than 1,000 cells"},
		{"few columns allowed", []byte("a,b\na,b,c\n"), Limits{MaxColumns: 2}, 1, 2,
			"line 2 has more than 2 cells"},
		{"line without end", []byte("a\n" + strings.Repeat("y", 2<<20)), Limits{}, 1, 2,
			"line 2 is longer than 1 MB"},
		{"runaway quote", []byte("a\nb,\"" + strings.Repeat("z\n", 5<<20)), Limits{}, 1, 2,
			"line 2: a quoted field is not closed (the row runs on for more than 1 MB); check the quotes on that line"},
		{"runaway quote in first field", []byte("a\n\n\"" + strings.Repeat("z\n", 5<<20)), Limits{}, 1, 3,
			"line 3: a quoted field is not closed (the row runs on for more than 1 MB)"},
		{"long record of short lines is fine below the limit", []byte("a\n\"" + strings.Repeat("z\n", 400<<10) + "\"\nb\n"), Limits{MaxCellBytes: 1 << 20}, 3, 0, ""},
		{"line numbers after sep line", []byte("sep=,\na,b\n\"c\n"), Limits{}, 1, 3,
			"line 3: a quoted field is not closed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, err := openBytes(t, tc.data, "list.csv", tc.lim)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			rows, err := f.Rows("")
			if err != nil {
				t.Fatal(err)
			}
			got, err := readAll(rows)
			if len(got) != tc.goodRow {
				t.Errorf("got %d rows before the error, want %d", len(got), tc.goodRow)
			}
			if tc.msg == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			assertFileError(t, err, tc.row, tc.msg)
			if _, again := rows.Next(); again != err {
				t.Errorf("error is not sticky: %v then %v", err, again)
			}
		})
	}
}

// TestCSVQuotes holds the quoting rule of recordReader, with each delimiter
// the sniffer detects. In the data, ',' stands for the delimiter. Each case
// notes what LibreOffice Calc 7.4.7.2 made of the file, the same with each
// delimiter (soffice --headless --infilter="CSV:44,34,76,1" --convert-to
// fods, with 59, 9 and 124 for ';', tab and '|'; UTF-8, first line 1):
// where Calc reads it as a cell's text, so does this package.
func TestCSVQuotes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		data string
		want []Row
		// When msg is set, want are the rows before the error.
		row int64
		msg string
	}{
		{
			// Calc: the cells as written, quotes and all.
			name: "height and coordinate in unquoted cells",
			data: "Name,Height,Location,Email\nAnn,5'11\",37°36'37.8\"N 122°25'08.1\"W,ann@example.com\nBob,6',59°N,bob@example.com\n",
			want: []Row{
				row(1, "Name", "Height", "Location", "Email"),
				row(2, "Ann", `5'11"`, `37°36'37.8"N 122°25'08.1"W`, "ann@example.com"),
				row(3, "Bob", "6'", "59°N", "bob@example.com"),
			},
		},
		{
			// Calc: the same values.
			name: "the same in quoted cells with doubled quotes",
			data: "Name,Height,Location,Email\n\"Ann\",\"5'11\"\"\",\"37°36'37.8\"\"N\",\"ann@example.com\"\n",
			want: []Row{
				row(1, "Name", "Height", "Location", "Email"),
				row(2, "Ann", `5'11"`, `37°36'37.8"N`, "ann@example.com"),
			},
		},
		{
			// Calc: the same values: a"b and c"d in two cells, as the
			// quotes never open a quoted part.
			name: "quotes in the middle of another column",
			data: "Email,Note,Size\nann@example.com,said \"hi\" twice,a\"b\nbob@example.com,a\"b,c\"d\ncarl@example.com,5'9\",\"6'1\"\"\"\n",
			want: []Row{
				row(1, "Email", "Note", "Size"),
				row(2, "ann@example.com", `said "hi" twice`, `a"b`),
				row(3, "bob@example.com", `a"b`, `c"d`),
				row(4, "carl@example.com", `5'9"`, `6'1"`),
			},
		},
		{
			// Calc: the same values; "the boss" becomes the boss.
			name: "a quote at the start of a cell, closed properly",
			data: "Name,Email\n\"the boss\",bob@example.com\n\"Ann, \"\"5'11\"\"\"\"\",ann@example.com\n\"two\nlines\",carl@example.com\n",
			want: []Row{
				row(1, "Name", "Email"),
				row(2, "the boss", "bob@example.com"),
				row(3, `Ann, "5'11""`, "ann@example.com"),
				row(4, "two\nlines", "carl@example.com"),
			},
		},
		{
			// Calc: the same values.
			name: "a quote ends the file",
			data: "Email,Height\nann@example.com,5'11\"",
			want: []Row{row(1, "Email", "Height"), row(2, "ann@example.com", `5'11"`)},
		},
		{
			// Calc: "Bob" Lee as written, quotes and all.
			name: "text after a closing quote",
			data: "Name,Email\nAnn,ann@example.com\n\"Bob\" Lee,bob@example.com\n",
			want: []Row{row(1, "Name", "Email"), row(2, "Ann", "ann@example.com")},
			row:  3, msg: "line 3: a quoted field has text after its closing quote",
		},
		{
			// Calc: "Ann " (the space kept).
			name: "a space after a closing quote",
			data: "Name,Email\n\"Ann\" ,ann@example.com\n",
			want: []Row{row(1, "Name", "Email")},
			row:  2, msg: "line 2: a quoted field has text after its closing quote",
		},
		{
			// Calc: "Bob as text, then bob and carl's rows as if the
			// quote were not there; other readers run to the end.
			name: "a quoted cell never closed",
			data: "Name,Email\nAnn,ann@example.com\n\"Bob,bob@example.com\ncarl@example.com,Carl\n",
			want: []Row{row(1, "Name", "Email"), row(2, "Ann", "ann@example.com")},
			row:  3, msg: "line 3: a quoted field is not closed; check the quotes on that line",
		},
		{
			// Calc: "multi alone on line 2, line"tail and carl on
			// line 3: the row splits where the quote was meant to hold
			// a line break.
			name: "text after the closing quote of a cell spanning lines",
			data: "Name,Email\n\"multi\nline\"tail,carl@example.com\n",
			want: []Row{row(1, "Name", "Email")},
			row:  2, msg: "line 2: a quoted field is not closed",
		},
		{
			// Calc: the spaces skipped, one cell Smith, John; a reader
			// that only looks at the first character finds two.
			name: "spaces before an opening quote",
			data: "Name,Email\nAnn,ann@example.com\n \"Smith, John\",bob@example.com\n",
			want: []Row{row(1, "Name", "Email"), row(2, "Ann", "ann@example.com")},
			row:  3, msg: `line 3: a cell has spaces before its opening double quote (")`,
		},
	}
	for _, d := range []string{",", ";", "\t", "|"} {
		for _, tc := range tests {
			t.Run(fmt.Sprintf("%s %q", tc.name, d), func(t *testing.T) {
				t.Parallel()
				data := []byte(strings.ReplaceAll(tc.data, ",", d))
				f, err := openBytes(t, data, "list.csv", Limits{})
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				if got := string(f.Delimiter()); got != d {
					t.Errorf("delimiter %q, want %q", got, d)
				}
				rows, err := f.Rows("")
				if err != nil {
					t.Fatal(err)
				}
				got, err := readAll(rows)
				var want []Row
				for _, r := range tc.want {
					cells := make([]string, len(r.Cells))
					for i, c := range r.Cells {
						cells[i] = strings.ReplaceAll(c, ",", d)
					}
					want = append(want, Row{Number: r.Number, Cells: cells})
				}
				assertRows(t, got, want)
				if tc.msg == "" {
					if err != nil {
						t.Fatal(err)
					}
					return
				}
				assertFileError(t, err, tc.row, tc.msg)
			})
		}
	}
}

func TestCSVEncodingEdgeCases(t *testing.T) {
	t.Parallel()
	t.Run("multibyte char cut by the sample", func(t *testing.T) {
		t.Parallel()
		// "é" occupies bytes 65535-65536: the sample ends inside it.
		head := "email\n" + strings.Repeat("a", sampleSize-1-len("email\n")) + "é\n"
		data := []byte(head + "b@example.com\n")
		f, err := openBytes(t, data, "x.csv", Limits{MaxCellBytes: sampleSize * 2})
		if err != nil {
			t.Fatal(err)
		}
		if f.Encoding() != "utf-8" {
			t.Errorf("encoding = %q, want utf-8", f.Encoding())
		}
	})
	t.Run("invalid UTF-8 after the sample becomes U+FFFD", func(t *testing.T) {
		t.Parallel()
		var b strings.Builder
		b.WriteString("email,name\n")
		for b.Len() < sampleSize+100 {
			b.WriteString("anna@example.com,Anna\n")
		}
		b.WriteString("rene@example.com,Ren\xe9\n")
		rs, err := readSheet(t, []byte(b.String()), "x.csv", "", Limits{})
		if err != nil {
			t.Fatal(err)
		}
		last := rs[len(rs)-1]
		if last.Cells[1] != "Ren\uFFFD" {
			t.Errorf("last row = %q", last.Cells)
		}
	})
	t.Run("occasional NUL passes through", func(t *testing.T) {
		t.Parallel()
		data := []byte("email,name\n" + strings.Repeat("anna@example.com,Anna\n", 20) + "bo@example.com,B\x00o\n")
		rs, err := readSheet(t, data, "x.csv", "", Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if got := rs[len(rs)-1].Cells[1]; got != "B\x00o" {
			t.Errorf("cell = %q", got)
		}
	})
	t.Run("UTF-16LE without BOM", func(t *testing.T) {
		t.Parallel()
		var data []byte
		for _, c := range "email\tname\r\nanna@example.com\tAnna\r\n" {
			data = append(data, byte(c), 0)
		}
		f, err := openBytes(t, data, "x.txt", Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if f.Encoding() != "utf-16le" || f.Delimiter() != '\t' {
			t.Errorf("encoding %q delimiter %q", f.Encoding(), f.Delimiter())
		}
	})
	t.Run("BOM only is empty", func(t *testing.T) {
		t.Parallel()
		_, err := openBytes(t, []byte{0xEF, 0xBB, 0xBF}, "x.csv", Limits{})
		assertFileError(t, err, 0, "the file is empty")
	})
	t.Run("blank lines only", func(t *testing.T) {
		t.Parallel()
		rs, err := readSheet(t, []byte("\n\r\n,,\n"), "x.csv", "", Limits{})
		if err != nil || len(rs) != 0 {
			t.Errorf("rows %v err %v", rs, err)
		}
	})
	t.Run("no trailing newline", func(t *testing.T) {
		t.Parallel()
		rs, err := readSheet(t, []byte("a,b\r\nc,d"), "x.csv", "", Limits{})
		if err != nil {
			t.Fatal(err)
		}
		assertRows(t, rs, []Row{row(1, "a", "b"), row(2, "c", "d")})
	})
	t.Run("CRLF inside quotes stays", func(t *testing.T) {
		t.Parallel()
		rs, err := readSheet(t, []byte("a,\"b\r\nc\"\r\nd,e\r\n"), "x.csv", "", Limits{})
		if err != nil {
			t.Fatal(err)
		}
		assertRows(t, rs, []Row{row(1, "a", "b\nc"), row(3, "d", "e")})
	})
	t.Run("CR-only with quoted line break", func(t *testing.T) {
		t.Parallel()
		rs, err := readSheet(t, []byte("a,\"b\rc\"\rd,e\r"), "x.csv", "", Limits{})
		if err != nil {
			t.Fatal(err)
		}
		assertRows(t, rs, []Row{row(1, "a", "b\nc"), row(3, "d", "e")})
	})
}

func TestSniffDelimiter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text string
		tsv        bool
		want       rune
	}{
		{"one column", "email\na@b.com\nc@d.com\n", false, ','},
		{"comma", "a,b,c\n1,2,3\n", false, ','},
		{"semicolon with decimal commas", "id;price\n1;2,5\n2;3,5\n", false, ';'},
		{"semicolon header without commas beats more commas", "a;b;c\n1,5;2,5;3,5\n1,5;2,5;3,5\n", false, ';'},
		{"tab with commas in text", "name\tnote\nA\thello, world\nB\tok\n", false, '\t'},
		{"pipe", "a|b\n1|2\n", false, '|'},
		{"ragged semicolon", "a;b;c\n1;2\n3;4;5;6\n", false, ';'},
		{"quoted commas do not count", "a;b\n\"x,y,z\";1\n\"p,q\";2\n", false, ';'},
		{"quoted newline keeps one record", "a;b\n\"x\ny,z\";1\n", false, ';'},
		{"tie goes to comma", "a,b;c\n1,2;3\n", false, ','},
		{"tie goes to tab for tsv", "a,b\tc\n1,2\t3\n", true, '\t'},
		{"blank lines ignored", "\n\na;b\n\n1;2\n", false, ';'},
		// Had the quote after 37.8 opened a quoted cell, the quotes would
		// pair up wrongly, join lines 2 to 5 into one record and hide its
		// tabs, leaving its commas to count (as the sniffer once did).
		{"a quote inside an unquoted cell is text", "Location\tName\n37°36'37.8\"N\t\"Lee, Bob\"\n\"Oslo, Norway\"\t\"Berg, Ann\"\nBergen\t5'11\"\n", false, '\t'},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := sniffLayout([]byte(tc.text), true, tc.tsv).delim; got != tc.want {
				t.Errorf("delimiter = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCSVNamedLikeXLSX(t *testing.T) {
	t.Parallel()
	rs, err := readSheet(t, readFixture(t, "semicolon.csv"), "Export.xlsx", "", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 4 {
		t.Errorf("got %d rows", len(rs))
	}
	f, _ := openBytes(t, readFixture(t, "utf8.csv"), "a.csv", Limits{})
	_, err = f.Rows("Sheet1")
	assertFileError(t, err, 0, `a CSV file has no sheet named "Sheet1"`)
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	rnd := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 4096)
	for i := range random {
		random[i] = byte(rnd.UintN(256))
	}
	png := append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), random[:200]...)
	ole := append([]byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}, random[:504]...)
	tests := []struct {
		name, file string
		data       []byte
		msg        string
	}{
		{"empty", "list.csv", nil, "the file is empty"},
		{"PNG named xlsx", "list.xlsx", png, "this is not a CSV or XLSX file"},
		{"JPEG", "list.csv", append([]byte{0xFF, 0xD8, 0xFF, 0xE0}, random[:100]...), "this is not a CSV or XLSX file"},
		{"PDF", "list.csv", []byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj"), "this is not a CSV or XLSX file"},
		{"random binary named csv", "list.csv", random, "this is not a CSV or XLSX file"},
		{"many NULs", "list.csv", bytes.Repeat([]byte("ab\x00\x00\x00c,"), 100), "this is not a CSV or XLSX file"},
		{"OLE2 (xls or encrypted xlsx)", "list.xlsx", ole, "this looks like an old Excel .xls or a password-protected workbook; save it as .xlsx or CSV"},
		{"HTML named xls", "list.xls", []byte("<!DOCTYPE html><html><table><tr><td>a</td></tr></table>"), "this is a web page (HTML)"},
		{"XML spreadsheet", "list.xls", []byte("<?xml version=\"1.0\"?>\n<Workbook xmlns=\"urn:schemas-microsoft-com:office:spreadsheet\">"), "this is an XML file"},
		{"ODS", "list.ods", readFixture(t, "sheets.ods"), "this is an OpenDocument spreadsheet (.ods)"},
		{"XLSB", "list.xlsb", buildZip(t, zipPart{"[Content_Types].xml", ctXML}, zipPart{"xl/workbook.bin", "\x83\x01"}), "this is an Excel binary workbook (.xlsb)"},
		{"zip of something else", "list.xlsx", buildZip(t, zipPart{"readme.txt", "hello"}), "this is a zip archive, not an Excel workbook"},
		{"truncated xlsx", "list.xlsx", readFixture(t, "list.xlsx")[:3000], "the workbook is damaged"},
		{"damaged zip entry", "list.xlsx", corrupt(readFixture(t, "numbers.xlsx")), "the workbook is damaged"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, err := openBytes(t, tc.data, tc.file, Limits{})
			if err == nil {
				f.Close()
			}
			assertFileError(t, err, 0, tc.msg)
		})
	}
}

// corrupt flips bytes in the middle of a zip's compressed data, leaving the
// directory intact, as a bad download would.
func corrupt(b []byte) []byte {
	b = append([]byte(nil), b...)
	for i := len(b) / 3; i < len(b)/3+40; i++ {
		b[i] ^= 0x55
	}
	return b
}

// TestGuardUTF8 feeds the stream validator chunks of every size, so that
// runes are cut at every possible place.
func TestGuardUTF8(t *testing.T) {
	t.Parallel()
	tests := []struct {
		text    string
		invalid bool
	}{
		{"plain ascii, nothing else\n", false},
		{"Åberg,Zoë,日本,😀,\uFFFD\n" + strings.Repeat("é", 20), false},
		{"Ren\xe9 M\xfcller\n", true},
		{"cut at the end \xe6\x97", true},
		{"bad continuation \xe6\x41\x41", true},
		{"overlong \xc0\xaf", true},
		{"surrogate \xed\xa0\x80", true},
	}
	for _, tc := range tests {
		for _, chunk := range []int{1, 2, 3, 5, 7, 64} {
			g := &lineGuard{r: &chunkReader{data: []byte(tc.text), n: chunk}, max: 1 << 20, checkUTF8: true}
			if _, err := io.ReadAll(g); err != nil {
				t.Fatal(err)
			}
			if g.invalid != tc.invalid {
				t.Errorf("%q in chunks of %d: invalid = %v", tc.text, chunk, g.invalid)
			}
		}
	}
}

// chunkReader returns at most n bytes per Read.
type chunkReader struct {
	data []byte
	n    int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	k := min(len(p), c.n, len(c.data))
	copy(p, c.data[:k])
	c.data = c.data[k:]
	return k, nil
}
