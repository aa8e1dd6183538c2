package tabular

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/charmap"
)

const benchRows = 100000

// benchCSV is a 100k-row list shaped like a real CRM export (about 9 MB).
var benchCSV = sync.OnceValue(func() []byte {
	var b bytes.Buffer
	b.WriteString("email,first name,last name,phone,city,consent\r\n")
	for i := range benchRows {
		fmt.Fprintf(&b, "user%d@example.com,Anna-%d,\"Åberg, %d\",+46 70 %07d,Göteborg,yes\r\n", i, i, i, i)
	}
	return b.Bytes()
})

func reportRows(b *testing.B, rows int) {
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkBareEncodingCSV is the baseline: encoding/csv alone with the same
// settings, no sniffing, no checks.
func BenchmarkBareEncodingCSV(b *testing.B) {
	data := benchCSV()
	b.SetBytes(int64(len(data)))
	var n int
	for b.Loop() {
		r := csv.NewReader(bytes.NewReader(data))
		r.FieldsPerRecord = -1
		r.ReuseRecord = true
		n = 0
		for {
			_, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
	}
	reportRows(b, n)
}

func BenchmarkCSV(b *testing.B) {
	benchTabular(b, benchCSV(), "list.csv")
}

// BenchmarkCSVWindows1252 measures the decoding path.
func BenchmarkCSVWindows1252(b *testing.B) {
	data, err := charmap.Windows1252.NewEncoder().Bytes(benchCSV())
	if err != nil {
		b.Fatal(err)
	}
	benchTabular(b, data, "list.csv")
}

func benchTabular(b *testing.B, data []byte, name string) {
	b.SetBytes(int64(len(data)))
	var n int
	for b.Loop() {
		f, err := Open(bytes.NewReader(data), int64(len(data)), Options{Filename: name})
		if err != nil {
			b.Fatal(err)
		}
		rows, err := f.Rows("")
		if err != nil {
			b.Fatal(err)
		}
		n = 0
		for {
			_, err := rows.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		rows.Close()
		f.Close()
	}
	reportRows(b, n)
}

const benchXLSXRows = 20000

// benchXLSX is a 20k-row workbook laid out as LibreOffice and Excel write
// one: shared strings for text, numbers inline, styled cells.
var benchXLSX = sync.OnceValue(func() []byte {
	var sheet, sst strings.Builder
	fmt.Fprintf(&sst, `<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="%d" uniqueCount="%d">`, 2*benchXLSXRows, 2*benchXLSXRows)
	sheet.WriteString(sheetHead)
	for i := range benchXLSXRows {
		r := i + 1
		fmt.Fprintf(&sst, `<si><t>user%d@example.com</t></si><si><t>Anna Åberg %d</t></si>`, i, i)
		fmt.Fprintf(&sheet, `<row r="%d" spans="1:3"><c r="A%d" s="0" t="s"><v>%d</v></c><c r="B%d" s="0" t="s"><v>%d</v></c><c r="C%d" s="1" t="n"><v>4670%07d</v></c></row>`, r, r, 2*i, r, 2*i+1, r, i)
	}
	sst.WriteString(`</sst>`)
	sheet.WriteString(sheetTail)
	data, err := zipBytes(
		zipPart{"[Content_Types].xml", ctXML},
		zipPart{"_rels/.rels", rootRels},
		zipPart{"xl/workbook.xml", workbookXML},
		zipPart{"xl/_rels/workbook.xml.rels", workbookRels},
		zipPart{"xl/sharedStrings.xml", sst.String()},
		zipPart{"xl/styles.xml", `<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><numFmts count="1"><numFmt numFmtId="164" formatCode="General"/></numFmts><cellXfs count="2"><xf numFmtId="164"/><xf numFmtId="164"><font><b/></font></xf></cellXfs></styleSheet>`},
		zipPart{"xl/worksheets/sheet1.xml", sheet.String()},
	)
	if err != nil {
		panic(err)
	}
	return data
})

// BenchmarkBareExcelizeRows is the baseline: excelize's streaming iterator
// alone, including opening the workbook.
func BenchmarkBareExcelizeRows(b *testing.B) {
	data := benchXLSX()
	b.SetBytes(int64(len(data)))
	var n int
	for b.Loop() {
		f, err := excelize.OpenReader(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		rows, err := f.Rows("Data")
		if err != nil {
			b.Fatal(err)
		}
		n = 0
		for rows.Next() {
			if _, err := rows.Columns(); err != nil {
				b.Fatal(err)
			}
			n++
		}
		rows.Close()
		f.Close()
	}
	reportRows(b, n)
}

func BenchmarkXLSX(b *testing.B) {
	benchTabular(b, benchXLSX(), "list.xlsx")
}
