// Command gen writes the hostile fixtures of deletion/testdata/hostile that
// no spreadsheet program writes: binary files with a spreadsheet's name and
// hand-built, damaged or malicious workbooks. The output is the same on
// every run. From the repository root:
//
//	go run ./deletion/testdata/hostile/src/gen deletion/testdata/hostile
//
// (src/make-fixtures.sh runs it along with the rest.) Files too large to
// commit (the 1 GiB zip bomb, a sheet of 1,048,576 row elements) are built
// by deletion/hostile_test.go itself.
package main

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"io"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/erasure-dev/erasure/internal/testkit"
)

// modified is the timestamp of every archive entry, so output is stable.
var modified = time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)

func main() {
	if len(os.Args) != 2 {
		log.Fatal("usage: gen OUTPUT-DIR")
	}
	dir := os.Args[1]
	files := map[string][]byte{
		"binary.csv":                   binary(),
		"screenshot_png.xlsx":          screenshot(),
		"word.xlsx":                    word(),
		"zip_of_csv.xlsx":              zipOfCSV(),
		"crc_flipped.xlsx":             crcFlipped(),
		"lying_size.xlsx":              lyingSize(),
		"rows_beyond_max.xlsx":         workbook(row(1, "Email") + row(2, "ann@example.com") + row(1_048_577, "bob@example.com")),
		"rows_to_1048576.xlsx":         workbook(row(1, "Email") + row(2, "ann@example.com") + row(1_048_576, "bob@example.com")),
		"control_char_xml.xlsx":        workbook(row(1, "Email") + row(2, "ann@example.com") + row(3, "bob@example.com") + row(4, "carl\x01@example.com") + row(5, "dora@example.com")),
		"hidden_first_sheet.xlsx":      hiddenFirstSheet(),
		"formulas_without_values.xlsx": workbook(row(1, "Email") + `<row r="2"><c r="A2"><f>LOWER("ANN@EXAMPLE.COM")</f></c></row>` + row(3, "bob@example.com")),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			log.Fatal(err)
		}
	}
}

// binary is 4 KiB of pseudo-random bytes: what a damaged download or a
// mistaken file looks like.
func binary() []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, 4096)
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	b[0] = 'x' // no known signature: only the content check can refuse it
	return b
}

// screenshot is a PNG, as if the user uploaded a screenshot of the list.
func screenshot() []byte {
	img := image.NewRGBA(image.Rect(0, 0, 160, 48))
	for y := range 48 {
		for x := range 160 {
			c := color.RGBA{255, 255, 255, 255}
			if y%16 < 12 && x%8 < 6 && (x*7+y*3)%5 != 0 {
				c = color.RGBA{30, 30, 30, 255}
			}
			img.Set(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		log.Fatal(err)
	}
	return buf.Bytes()
}

type part struct {
	name, body string
	method     uint16
}

func archive(parts ...part) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, p := range parts {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: p.name, Method: p.method, Modified: modified})
		if err != nil {
			log.Fatal(err)
		}
		if _, err := io.WriteString(w, p.body); err != nil {
			log.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		log.Fatal(err)
	}
	return buf.Bytes()
}

// word is a minimal Word document that names an address.
func word() []byte {
	return archive(
		part{"[Content_Types].xml", `<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>`, zip.Deflate},
		part{"word/document.xml", `<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>ann@example.com</w:t></w:r></w:p></w:body></w:document>`, zip.Deflate},
	)
}

// zipOfCSV is the list zipped, then renamed to .xlsx.
func zipOfCSV() []byte {
	return archive(part{"list.csv", "Name,Email\nAnn,ann@example.com\nBob,bob@example.com\n", zip.Deflate})
}

// The parts of a minimal one-sheet workbook, shared with the tests.
const (
	contentTypes = testkit.ContentTypes
	rootRels     = testkit.RootRels
	workbookXML  = testkit.WorkbookXML
	workbookRels = testkit.WorkbookRels
	sheetHead    = testkit.SheetHead
	sheetTail    = testkit.SheetTail
)

// row is a one-cell row holding an inline string.
var row = testkit.InlineRow

func workbookParts(sheet string, method uint16) []part {
	return []part{
		{"[Content_Types].xml", contentTypes, zip.Deflate},
		{"_rels/.rels", rootRels, zip.Deflate},
		{"xl/workbook.xml", workbookXML, zip.Deflate},
		{"xl/_rels/workbook.xml.rels", workbookRels, zip.Deflate},
		{"xl/worksheets/sheet1.xml", sheetHead + sheet + sheetTail, method},
	}
}

// workbook is a one-sheet workbook around the given sheetData content.
func workbook(sheetData string) []byte {
	return archive(workbookParts(sheetData, zip.Deflate)...)
}

// crcFlipped stores its sheet uncompressed and then changes one letter of
// an address in it, as a damaged download or disk would: the archive is
// still well formed, only the sheet's CRC-32 no longer matches. Read without
// the check, the row would name another person.
func crcFlipped() []byte {
	b := archive(workbookParts(row(1, "Email")+row(2, "ann@example.com")+row(3, "bob@example.com"), zip.Store)...)
	i := bytes.Index(b, []byte("bob@example.com"))
	if i < 0 {
		log.Fatal("address not found in the stored sheet")
	}
	b[i] = 'r' // "rob@example.com"
	return b
}

// lyingSize declares its sheet to unpack to 1,000 bytes while it really
// unpacks to 20 MiB: a zip bomb that a reader trusting the header would
// let through its size check.
func lyingSize() []byte {
	sheet := sheetHead + row(1, "Email") + row(2, "ann@example.com") + "<!--" + strings.Repeat(" ", 20<<20) + "-->" + sheetTail
	var deflated bytes.Buffer
	fw, err := flate.NewWriter(&deflated, flate.BestCompression)
	if err != nil {
		log.Fatal(err)
	}
	_, _ = io.WriteString(fw, sheet)
	if err := fw.Close(); err != nil {
		log.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, p := range workbookParts("", zip.Deflate)[:4] {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: p.name, Method: p.method, Modified: modified})
		if err != nil {
			log.Fatal(err)
		}
		_, _ = io.WriteString(w, p.body)
	}
	w, err := zw.CreateRaw(&zip.FileHeader{
		Name:               "xl/worksheets/sheet1.xml",
		Method:             zip.Deflate,
		Modified:           modified,
		CRC32:              crc32.ChecksumIEEE([]byte(sheet)),
		CompressedSize64:   uint64(deflated.Len()),
		UncompressedSize64: 1000,
	})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := w.Write(deflated.Bytes()); err != nil {
		log.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		log.Fatal(err)
	}
	return buf.Bytes()
}

// hiddenFirstSheet has a hidden first sheet listing everybody and a visible
// second sheet with the one address to delete; Excel lets a user hide the
// first sheet (LibreOffice shows it again when saving).
func hiddenFirstSheet() []byte {
	wb := `<?xml version="1.0" encoding="UTF-8"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><bookViews><workbookView activeTab="1"/></bookViews><sheets><sheet name="Everyone" sheetId="1" state="hidden" r:id="rId1"/><sheet name="To delete" sheetId="2" r:id="rId2"/></sheets></workbook>`
	rels := `<?xml version="1.0" encoding="UTF-8"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet2.xml"/></Relationships>`
	ct := strings.Replace(contentTypes, "</Types>", `<Override PartName="/xl/worksheets/sheet2.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>`, 1)
	return archive(
		part{"[Content_Types].xml", ct, zip.Deflate},
		part{"_rels/.rels", rootRels, zip.Deflate},
		part{"xl/workbook.xml", wb, zip.Deflate},
		part{"xl/_rels/workbook.xml.rels", rels, zip.Deflate},
		part{"xl/worksheets/sheet1.xml", sheetHead + row(1, "Email") + row(2, "dora@example.com") + row(3, "zoe@example.com") + sheetTail, zip.Deflate},
		part{"xl/worksheets/sheet2.xml", sheetHead + row(1, "Email") + row(2, "eve@example.com") + sheetTail, zip.Deflate},
	)
}
