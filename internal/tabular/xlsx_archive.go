// The checks an XLSX archive passes before excelize reads it: size limits
// against zip bombs, every part's checksum, and the last row each sheet
// announces.

package tabular

import (
	"archive/zip"
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
)

// checkArchive refuses zip bombs and non-workbooks before excelize unpacks
// anything. Sizes come from the central directory; archive/zip fails a read
// that produces more than the declared size, so a lying header cannot get
// around the check.
func checkArchive(zr *zip.Reader, lim Limits) error {
	if len(zr.File) > maxParts {
		return fileErrorf(0, "the workbook has more than %s parts; it may be damaged or malicious. Save it again as .xlsx or CSV and upload that", groupDigits(maxParts))
	}
	bomb := fileErrorf(0, "the workbook unpacks to more than %s; it may be damaged or malicious. If it is a real list, save it as CSV or split it into smaller files", humanBytes(lim.MaxUnzippedBytes))
	var total uint64
	var workbook, xlsb, ods, numbers, word bool
	for _, f := range zr.File {
		size := f.UncompressedSize64
		total += size
		if size > uint64(lim.MaxUnzippedBytes) || total > uint64(lim.MaxUnzippedBytes) {
			return bomb
		}
		name := strings.ToLower(strings.ReplaceAll(f.Name, `\`, "/"))
		switch {
		case strings.HasPrefix(name, "xl/worksheets/sheet"), name == "xl/sharedstrings.xml":
			// excelize streams these from a temporary file when large.
			if size > uint64(lim.MaxSheetXMLBytes) {
				return fileErrorf(0, "a sheet of the workbook unpacks to more than %s; save the list as CSV or split it into smaller files", humanBytes(lim.MaxSheetXMLBytes))
			}
		case size > uint64(min(maxOtherPartBytes, lim.MaxUnzippedBytes)):
			return bomb
		}
		switch {
		case name == "xl/workbook.xml", strings.HasSuffix(name, "/workbook.xml"):
			workbook = true
		case name == "xl/workbook.bin":
			xlsb = true
		case name == "mimetype", name == "content.xml":
			ods = true
		case name == "index/document.iwa":
			numbers = true
		case name == "word/document.xml":
			word = true
		}
	}
	switch {
	case workbook:
		return nil
	case xlsb:
		return fileErrorf(0, "this is an Excel binary workbook (.xlsb); save it as Excel workbook (.xlsx) or CSV and upload that")
	case ods:
		return fileErrorf(0, "this is an OpenDocument spreadsheet (.ods); save it as Excel workbook (.xlsx) or CSV and upload that")
	case numbers:
		return fileErrorf(0, "this is an Apple Numbers file; export it as Excel (.xlsx) or CSV and upload that")
	case word:
		return fileErrorf(0, "this is a Word document, not a spreadsheet; put the list in a spreadsheet and save it as .xlsx or CSV")
	}
	return fileErrorf(0, "this is a zip archive, not an Excel workbook; upload the .xlsx or CSV file itself")
}

// verifyArchive reads every part once through archive/zip, which checks
// each part's CRC-32 and refuses to produce more than its declared size.
// excelize ignores both errors when it unpacks a part (it keeps whatever
// came out), so without this a damaged download could yield a shortened
// list or wrong addresses without any error. The sizes were bounded by
// checkArchive, so this costs at most MaxUnzippedBytes of decompression and
// no memory. On the way it scans each worksheet (see scanSheet).
func verifyArchive(zr *zip.Reader) (map[string]*sheetScan, error) {
	scans := map[string]*sheetScan{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			return nil, errDamagedWorkbook()
		}
		name := strings.ReplaceAll(f.Name, `\`, "/")
		lower := strings.ToLower(name)
		if strings.HasPrefix(lower, "xl/worksheets/") && strings.HasSuffix(lower, ".xml") {
			scans[name], err = scanSheet(rc)
		} else {
			_, err = io.Copy(io.Discard, rc)
		}
		_ = rc.Close()
		var fe *FileError
		if errors.As(err, &fe) {
			return nil, fe
		}
		if err != nil {
			return nil, errDamagedWorkbook()
		}
	}
	return scans, nil
}

// sheetScan is what scanSheet learns about a worksheet's XML.
type sheetScan struct {
	// lastRow is the highest row number the XML announces.
	lastRow int64
	// uncomputed are the formula cells that have no saved result (no <v>),
	// in sheet order: what libraries such as openpyxl write, leaving the
	// computing to Excel when it opens the file. Read, they are empty.
	uncomputed []cellRef
}

// cellRef is a cell: its row number and 0-based column.
type cellRef struct {
	row int64
	col int
}

// maxUncomputed bounds the formula cells without a saved result a sheet
// may have (and the memory that remembering them takes).
const maxUncomputed = 100_000

// scanSheet finds the row and cell tags of a worksheet without an XML
// parser: it jumps from '<' to '<' with bufio's fast byte search and only
// looks inside tags named row, c, f, v and is (any namespace prefix), which
// keeps the scan a small fraction of the cost of excelize's own parse. It
// counts rows and cells the way excelize does (the r attribute, else one
// more than the previous one), and returns any read error, which for a zip
// entry includes a wrong checksum or a lying size.
func scanSheet(src io.Reader) (*sheetScan, error) {
	br := bufio.NewReaderSize(src, 64<<10)
	scan := &sheetScan{}
	var row int64
	col := -1
	inCell, hasFormula, hasValue := false, false, false
	endCell := func() error {
		if inCell && hasFormula && !hasValue {
			if len(scan.uncomputed) == maxUncomputed {
				return fileErrorf(0, "the workbook has more than %s formula cells whose results were not saved (it was written by a program that leaves the computing to Excel); open it in Excel or LibreOffice, save it, and upload the saved file", groupDigits(maxUncomputed))
			}
			scan.uncomputed = append(scan.uncomputed, cellRef{row: row, col: col})
		}
		inCell = false
		return nil
	}
	for {
		if _, err := br.ReadSlice('<'); err != nil {
			if err == bufio.ErrBufferFull {
				continue
			}
			if err == io.EOF {
				return scan, nil
			}
			return scan, err
		}
		name, _ := br.Peek(32)
		closing := len(name) > 0 && name[0] == '/'
		if closing {
			name = name[1:]
		}
		end := 0
		for end < len(name) && !isTagEnd(name[end]) {
			end++
		}
		if end == len(name) {
			continue // longer than any tag name looked at, or cut by the end
		}
		local := name[:end]
		if i := bytes.LastIndexByte(local, ':'); i >= 0 {
			local = local[i+1:]
		}
		switch string(local) {
		case "row", "c":
		case "f":
			hasFormula = hasFormula || inCell && !closing
			continue
		case "v", "is":
			hasValue = hasValue || inCell && !closing
			continue
		default:
			continue
		}
		if closing {
			if string(local) == "c" {
				if err := endCell(); err != nil {
					return scan, err
				}
			}
			continue
		}
		tag, err := br.ReadSlice('>')
		if err != nil && err != bufio.ErrBufferFull {
			if err == io.EOF {
				return scan, nil
			}
			return scan, err
		}
		attrs := tag[end:]
		if string(local) == "row" {
			if r := rowAttr(attrs); r > 0 {
				row = r
			} else {
				row++
			}
			col = -1
			scan.lastRow = max(scan.lastRow, row)
			continue
		}
		if c := cellColumn(attrs); c >= 0 {
			col = c
		} else {
			col++
		}
		inCell, hasFormula, hasValue = true, false, false
		if bytes.HasSuffix(tag, []byte("/>")) {
			inCell = false // an empty cell: no formula
		}
	}
}

// cellColumn returns the 0-based column of a cell start tag's r attribute
// ("B2" is 1), or -1 if it has none (excelize then counts on).
func cellColumn(tag []byte) int {
	v := attr(tag, 'r')
	col := 0
	n := 0
	for _, b := range v {
		if b >= 'a' && b <= 'z' {
			b -= 'a' - 'A'
		}
		if b < 'A' || b > 'Z' {
			break
		}
		col = col*26 + int(b-'A'+1)
		if n++; n > 3 {
			return -1
		}
	}
	if n == 0 {
		return -1
	}
	return col - 1
}

// attr returns the value of a one-letter attribute in a start tag, or nil.
func attr(tag []byte, name byte) []byte {
	for i := 0; i+1 < len(tag); i++ {
		if tag[i] != name || !isTagEnd(prevByte(tag, i)) {
			continue
		}
		j := i + 1
		for j < len(tag) && isSpace(tag[j]) {
			j++
		}
		if j >= len(tag) || tag[j] != '=' {
			continue
		}
		j++
		for j < len(tag) && isSpace(tag[j]) {
			j++
		}
		if j >= len(tag) || (tag[j] != '"' && tag[j] != '\'') {
			return nil
		}
		q := tag[j]
		k := bytes.IndexByte(tag[j+1:], q)
		if k < 0 {
			return nil
		}
		return tag[j+1 : j+1+k]
	}
	return nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isTagEnd(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '>' || c == '/'
}

// rowAttr returns the value of the r attribute in a row start tag, 0 if it
// has none or it is not a positive number (excelize then counts on).
func rowAttr(tag []byte) int64 {
	v := attr(tag, 'r')
	var n int64
	for _, b := range v {
		if b < '0' || b > '9' {
			break
		}
		n = n*10 + int64(b-'0')
		if n > 1<<40 {
			return 0
		}
	}
	return n
}

func prevByte(b []byte, i int) byte {
	if i == 0 {
		return ' '
	}
	return b[i-1]
}
