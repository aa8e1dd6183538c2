package testkit

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
)

// Minimal SpreadsheetML parts of a one-sheet workbook (sheet "Data", part
// xl/worksheets/sheet1.xml), written by hand rather than by a library, to
// make workbooks real writers produce but a spreadsheet program does not:
// inline strings, rows without r attributes, namespace prefixes, damaged
// XML, archives that lie about their sizes.
const (
	ContentTypes = `<?xml version="1.0" encoding="UTF-8"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>`
	RootRels = `<?xml version="1.0" encoding="UTF-8"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>`
	WorkbookXML = `<?xml version="1.0" encoding="UTF-8"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Data" sheetId="1" r:id="rId1"/></sheets></workbook>`
	WorkbookRels = `<?xml version="1.0" encoding="UTF-8"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>`
	// SheetHead and SheetTail go around a sheet's rows.
	SheetHead = `<?xml version="1.0" encoding="UTF-8"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>`
	SheetTail = `</sheetData></worksheet>`
	// SheetPart is the archive path of the sheet.
	SheetPart = "xl/worksheets/sheet1.xml"
)

// Part is one file of an archive.
type Part struct {
	Name string
	Body string
}

// WorkbookParts are every part of the one-sheet workbook but its sheet.
var WorkbookParts = []Part{
	{"[Content_Types].xml", ContentTypes},
	{"_rels/.rels", RootRels},
	{"xl/workbook.xml", WorkbookXML},
	{"xl/_rels/workbook.xml.rels", WorkbookRels},
}

// InlineRow is row n holding value in column A as an inline string.
func InlineRow(n int, value string) string {
	return fmt.Sprintf(`<row r="%d"><c r="A%d" t="inlineStr"><is><t>%s</t></is></c></row>`, n, n, value)
}

// WritePart adds a deflated part to an archive.
func WritePart(zw *zip.Writer, p Part) error {
	w, err := zw.Create(p.Name)
	if err != nil {
		return err
	}
	_, err = io.WriteString(w, p.Body)
	return err
}

// Zip returns an archive of parts.
func Zip(parts ...Part) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, p := range parts {
		if err := WritePart(zw, p); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// XLSX returns the one-sheet workbook whose sheetData holds sheetData.
func XLSX(sheetData string) ([]byte, error) {
	return Zip(append(WorkbookParts, Part{SheetPart, SheetHead + sheetData + SheetTail})...)
}

// StreamXLSX writes to w the one-sheet workbook whose sheetData fill writes,
// streaming, so that tests can make sheets of hundreds of megabytes.
func StreamXLSX(w io.Writer, fill func(sheetData io.Writer) error) error {
	zw := zip.NewWriter(w)
	for _, p := range WorkbookParts {
		if err := WritePart(zw, p); err != nil {
			return err
		}
	}
	sheet, err := zw.Create(SheetPart)
	if err != nil {
		return err
	}
	if _, err := io.WriteString(sheet, SheetHead); err != nil {
		return err
	}
	if err := fill(sheet); err != nil {
		return err
	}
	if _, err := io.WriteString(sheet, SheetTail); err != nil {
		return err
	}
	return zw.Close()
}
