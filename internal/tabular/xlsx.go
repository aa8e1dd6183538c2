package tabular

import (
	"archive/zip"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path"
	"strings"

	"github.com/xuri/excelize/v2"
)

// Limits of the XLSX reader that are not worth a Limits field.
const (
	// inMemorySheetBytes is excelize's UnzipXMLSizeLimit: a sheet or shared
	// string table larger than this is unpacked to a temporary file and
	// streamed from there instead of being held in memory.
	inMemorySheetBytes int64 = 16 << 20
	// maxOtherPartBytes bounds every other part (styles, workbook, theme,
	// images...), which excelize always holds in memory and partly parses
	// into structs; real ones are a few megabytes at most.
	maxOtherPartBytes int64 = 64 << 20
	// maxParts bounds the entries of the archive; a workbook has dozens,
	// a few thousand with many images.
	maxParts = 10000
	// noNumFmt is a number-format id that no workbook keeps after
	// normalizeNumberFormats; excelize leaves the value of a cell with an
	// unknown format as it is.
	noNumFmt = -1
)

func errDamagedWorkbook() *FileError {
	return &FileError{Message: "the workbook is damaged and cannot be read; open it in Excel or LibreOffice, save it again and upload the new file"}
}

func errNoTempSpace() *FileError {
	return &FileError{Message: "the workbook could not be unpacked right now; try again in a few minutes"}
}

// xlsxFile is an opened workbook.
type xlsxFile struct {
	ef      *excelize.File
	tmpDir  string
	scans   map[string]*sheetScan // sheet part → what its XML announces
	lim     Limits
	sheets  []xlsxSheet // every sheet, in workbook order
	visible []string
}

type xlsxSheet struct {
	name    string
	part    string // path of the sheet's XML in the archive, "" if unknown
	visible bool
}

// openXLSX opens a workbook. path, when not empty, names the file r reads:
// excelize then reads the archive from it, instead of copying all of it
// into memory as it does for a reader.
func openXLSX(r io.ReaderAt, size int64, lim Limits, tempDir, path string) (x *xlsxFile, err error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, errDamagedWorkbook()
	}
	if err := checkArchive(zr, lim); err != nil {
		return nil, err
	}
	scans, err := verifyArchive(zr)
	if err != nil {
		return nil, err
	}
	// A private directory for excelize's temporary files: removing it on
	// Close (or on a failed Open, where excelize's own File is lost) cleans
	// up whatever excelize left, whatever its bookkeeping.
	tmpDir, err := os.MkdirTemp(tempDir, "tabular-xlsx-")
	if err != nil {
		return nil, errNoTempSpace()
	}
	x = &xlsxFile{tmpDir: tmpDir, lim: lim, scans: scans}
	defer func() {
		// excelize is not written for hostile input; a panic in it is a
		// damaged file, not a crash of the service.
		if p := recover(); p != nil {
			err = errDamagedWorkbook()
		}
		if err != nil {
			_ = x.close()
			x = nil
		}
	}()
	eo := excelize.Options{
		UnzipSizeLimit:    lim.MaxUnzippedBytes,
		UnzipXMLSizeLimit: min(inMemorySheetBytes, lim.MaxUnzippedBytes),
		TmpDir:            tmpDir,
	}
	if path != "" {
		x.ef, err = excelize.OpenFile(path, eo)
	} else {
		x.ef, err = excelize.OpenReader(io.NewSectionReader(r, 0, size), eo)
	}
	if err != nil {
		return x, errDamagedWorkbook()
	}
	normalizeNumberFormats(x.ef)
	x.sheets = listSheets(x.ef, zr)
	for _, s := range x.sheets {
		if s.visible {
			x.visible = append(x.visible, s.name)
		}
	}
	return x, nil
}

// normalizeNumberFormats makes excelize return numbers as typed.
//
// excelize formats numbers by the cell's number format, and its "General"
// gives up to 10 significant digits once a number has more than 11 digits:
// a phone 447911123456 in a bold (styled) cell comes out as
// "4.479111235E+11". Thousands separators ("46,701,234,567") and decimals
// ("46701234567.00") would also corrupt identifiers. RawCellValue avoids that
// but loses the leading zeros of a "000000" format, which are part of what
// the user typed. So every cell style keeps its format only when the format
// is a run of zeros; all others point to a format id that does not exist,
// and excelize then returns the number as plain digits (rounded to the 15
// significant digits a spreadsheet keeps, so 0.1+0.2 is "0.3"). Text cells
// are never changed by this. The style sheet is excelize's parsed copy owned
// by this File; nothing is written back.
func normalizeNumberFormats(ef *excelize.File) {
	st := ef.Styles
	if st == nil || st.CellXfs == nil {
		return
	}
	keep := map[int]bool{}
	if st.NumFmts != nil {
		kept := st.NumFmts.NumFmt[:0]
		for _, nf := range st.NumFmts.NumFmt {
			if nf == nil {
				continue
			}
			code := nf.FormatCode
			if nf.FormatCode16 != "" {
				code = nf.FormatCode16
			}
			if nf.NumFmtID != noNumFmt && isZeroPadding(code) {
				keep[nf.NumFmtID] = true
				kept = append(kept, nf)
			}
		}
		st.NumFmts.NumFmt = kept
	}
	raw := noNumFmt
	for i := range st.CellXfs.Xf {
		xf := &st.CellXfs.Xf[i]
		if xf.NumFmtID != nil && keep[*xf.NumFmtID] {
			continue
		}
		xf.NumFmtID = &raw
	}
}

// isZeroPadding reports whether a number format (its positive section) is
// only zeros, like "000000" for postcodes or "0000000000" for phone numbers.
func isZeroPadding(code string) bool {
	code, _, _ = strings.Cut(code, ";")
	code = strings.TrimSpace(code)
	return len(code) >= 2 && len(code) <= 64 && strings.Trim(code, "0") == ""
}

// listSheets returns the workbook's sheets with their visibility and the
// archive path of their XML (resolved the way excelize resolves it, from the
// workbook's relationships). Chart and dialog sheets are not listed as
// visible: they hold no rows.
func listSheets(ef *excelize.File, zr *zip.Reader) []xlsxSheet {
	names := ef.GetSheetList()
	state := map[string]string{}
	ids := map[string]string{}
	if wb := ef.WorkBook; wb != nil {
		for _, s := range wb.Sheets.Sheet {
			state[s.Name] = s.State
			ids[s.Name] = s.ID
		}
	}
	files := map[string]*zip.File{}
	for _, f := range zr.File {
		files[strings.ReplaceAll(f.Name, `\`, "/")] = f
	}
	wbPath := "xl/workbook.xml"
	for _, rel := range readRels(files["_rels/.rels"]) {
		if strings.HasSuffix(rel.Type, "/officeDocument") {
			wbPath = strings.TrimPrefix(rel.Target, "/")
		}
	}
	targets := map[string]string{}
	for _, rel := range readRels(files[path.Join(path.Dir(wbPath), "_rels", path.Base(wbPath)+".rels")]) {
		t := rel.Target
		if strings.HasPrefix(t, "/") {
			t = path.Clean(strings.TrimPrefix(t, "/"))
		} else {
			t = path.Join(path.Dir(wbPath), t)
		}
		targets[rel.ID] = t
	}
	out := make([]xlsxSheet, 0, len(names))
	for _, n := range names {
		part := targets[ids[n]]
		st := state[n]
		visible := (st == "" || st == "visible") && !strings.Contains(part, "chartsheets/") && !strings.Contains(part, "dialogsheets/")
		out = append(out, xlsxSheet{name: n, part: part, visible: visible})
	}
	return out
}

type relationship struct {
	ID     string `xml:"Id,attr"`
	Type   string `xml:"Type,attr"`
	Target string `xml:"Target,attr"`
}

// readRels parses a relationships part; a missing or broken one yields none
// (excelize will then report the workbook as damaged where it matters).
func readRels(f *zip.File) []relationship {
	if f == nil || f.UncompressedSize64 > 16<<20 {
		return nil
	}
	rc, err := f.Open()
	if err != nil {
		return nil
	}
	defer rc.Close()
	var rels struct {
		Rels []relationship `xml:"Relationship"`
	}
	_ = xml.NewDecoder(io.LimitReader(rc, 16<<20)).Decode(&rels)
	return rels.Rels
}

// rows opens a sheet by name ("" = first visible sheet).
// sheetNamed returns the sheet called name ("" the first visible one).
func (x *xlsxFile) sheetNamed(name string) (*xlsxSheet, error) {
	var sh *xlsxSheet
	switch {
	case name == "":
		for i := range x.sheets {
			if x.sheets[i].visible {
				sh = &x.sheets[i]
				break
			}
		}
		if sh == nil && len(x.sheets) > 0 {
			sh = &x.sheets[0]
		}
		if sh == nil {
			return nil, fileErrorf(0, "the workbook has no sheets; open it in Excel or LibreOffice, check that the list is there, save it again and upload the new file")
		}
	default:
		for i := range x.sheets {
			if x.sheets[i].name == name {
				sh = &x.sheets[i]
				break
			}
		}
		if sh == nil {
			// Excel itself treats sheet names case-insensitively.
			for i := range x.sheets {
				if strings.EqualFold(x.sheets[i].name, name) {
					sh = &x.sheets[i]
					break
				}
			}
		}
		if sh == nil {
			return nil, fileErrorf(0, "the workbook has no sheet named %q; its sheets are: %s", name, quotedList(x.visible))
		}
	}
	return sh, nil
}

// rowsAtMost returns the highest row number the sheet's XML announces.
func (x *xlsxFile) rowsAtMost(name string) int64 {
	sh, err := x.sheetNamed(name)
	if err != nil {
		return 0
	}
	if scan, ok := x.scans[sh.part]; ok {
		return scan.lastRow
	}
	return 0
}

func (x *xlsxFile) rows(name string) (rows Rows, err error) {
	sh, err := x.sheetNamed(name)
	if err != nil {
		return nil, err
	}
	defer func() {
		if p := recover(); p != nil {
			rows, err = nil, errDamagedWorkbook()
		}
	}()
	er, err := x.ef.Rows(sh.name)
	if err != nil {
		if er != nil {
			_ = er.Close()
		}
		return nil, fileErrorf(0, "the sheet %q is damaged and cannot be read; open the workbook in Excel or LibreOffice, save it again and upload the new file", sh.name)
	}
	return &xlsxRows{x: x, sheet: sh, rows: er}, nil
}

func quotedList(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = `"` + n + `"`
	}
	return strings.Join(q, ", ")
}

func (x *xlsxFile) close() error {
	var err error
	if x.ef != nil {
		err = x.ef.Close()
		x.ef = nil
	}
	if x.tmpDir != "" {
		if rerr := os.RemoveAll(x.tmpDir); err == nil {
			err = rerr
		}
		x.tmpDir = ""
	}
	if err != nil {
		// Only temporary files are involved; the caller cannot fix that.
		return &FileError{Message: "temporary files of the workbook could not be removed"}
	}
	return nil
}

// xlsxRows is the Rows of one sheet, on excelize's streaming iterator.
type xlsxRows struct {
	x     *xlsxFile
	sheet *xlsxSheet
	rows  *excelize.Rows
	n     int64 // the row number of excelize's current iteration
	err   error // sticky: io.EOF or a *FileError
	// uncomputed is the next of the sheet's formula cells without a saved
	// result (sheetScan.uncomputed) not yet reached.
	uncomputed int
}

// Next relies on excelize calling Next once per row number, empty rows and
// gaps between <row> elements included, so counting iterations gives the
// number the spreadsheet shows.
func (it *xlsxRows) Next() (row Row, err error) {
	if it.err != nil {
		return Row{}, it.err
	}
	defer func() {
		if p := recover(); p != nil {
			it.err = it.damaged()
			row, err = Row{}, it.err
		}
	}()
	lim := it.x.lim
	for it.rows.Next() {
		it.n++
		cells, cerr := it.rows.Columns()
		if errors.Is(cerr, excelize.ErrMaxRows) {
			// Columns reads on to the next row element, so a row beyond
			// the limit surfaces here, while row it.n itself is fine.
			it.err = errRowsBeyondMax(it.sheet.name)
			return Row{}, it.err
		}
		if cerr != nil {
			it.err = fileErrorf(it.n, "row %d of sheet %q is damaged; open the workbook in Excel or LibreOffice, save it again and upload the new file", it.n, it.sheet.name)
			return Row{}, it.err
		}
		if len(cells) > lim.MaxColumns {
			it.err = fileErrorf(it.n, "row %d of sheet %q has more than %s cells; remove the extra columns", it.n, it.sheet.name, groupDigits(int64(lim.MaxColumns)))
			return Row{}, it.err
		}
		empty := true
		for _, c := range cells {
			if len(c) == 0 {
				continue
			}
			empty = false
			if len(c) > lim.MaxCellBytes {
				it.err = fileErrorf(it.n, "row %d of sheet %q: a cell is longer than %s; shorten it", it.n, it.sheet.name, humanBytes(int64(lim.MaxCellBytes)))
				return Row{}, it.err
			}
		}
		uncomputed := it.uncomputedCells()
		if empty && len(uncomputed) == 0 {
			continue // a formula with an empty result, or only empty strings
		}
		return Row{Number: it.n, Cells: cells, Uncomputed: uncomputed}, nil
	}
	if rerr := it.rows.Error(); rerr != nil {
		if errors.Is(rerr, excelize.ErrMaxRows) {
			it.err = errRowsBeyondMax(it.sheet.name)
		} else {
			it.err = it.damaged()
		}
		return Row{}, it.err
	}
	// excelize ends the iteration silently on malformed XML (a control
	// character from a careless exporter, say). Compare with the last row
	// the raw XML announces, so that such a file is an error rather than a
	// list that quietly lost its tail.
	if scan, ok := it.x.scans[it.sheet.part]; ok && scan.lastRow > it.n {
		it.err = it.damaged()
		return Row{}, it.err
	}
	it.err = io.EOF
	return Row{}, io.EOF
}

// uncomputedCells returns the columns of row it.n whose formula has no
// saved result.
func (it *xlsxRows) uncomputedCells() []int {
	scan := it.x.scans[it.sheet.part]
	if scan == nil {
		return nil
	}
	var cols []int
	for ; it.uncomputed < len(scan.uncomputed); it.uncomputed++ {
		c := scan.uncomputed[it.uncomputed]
		if c.row > it.n {
			break
		}
		if c.row == it.n {
			cols = append(cols, c.col)
		}
	}
	return cols
}

func errRowsBeyondMax(sheet string) *FileError {
	return fileErrorf(0, "the sheet %q has rows beyond row 1,048,576, which no spreadsheet program can write; the file is damaged. Open it in Excel or LibreOffice, save it again and upload the new file", sheet)
}

func (it *xlsxRows) damaged() *FileError {
	if it.n == 0 {
		return fileErrorf(0, "the sheet %q is damaged and cannot be read; open the workbook in Excel or LibreOffice, save it again and upload the new file", it.sheet.name)
	}
	return fileErrorf(it.n, "the sheet %q is damaged after row %d and cannot be read further; open the workbook in Excel or LibreOffice, save it again and upload the new file", it.sheet.name, it.n)
}

// Close releases the iterator's temporary file handle.
func (it *xlsxRows) Close() error {
	if it.err == nil {
		it.err = io.EOF
	}
	if it.rows != nil {
		_ = it.rows.Close() // its error is excelize's iteration error, reported by Next
		it.rows = nil
	}
	return nil
}
