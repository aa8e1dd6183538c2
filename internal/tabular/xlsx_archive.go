// The checks an XLSX archive passes before excelize reads it: size limits
// against zip bombs, every part's checksum, and the last row each sheet
// announces.

package tabular

import (
	"archive/zip"
	"bufio"
	"bytes"
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
// no memory. On the way it records, for each worksheet, the last row its XML
// announces (see scanLastRow).
func verifyArchive(zr *zip.Reader) (map[string]int64, error) {
	lastRow := map[string]int64{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			return nil, errDamagedWorkbook()
		}
		name := strings.ReplaceAll(f.Name, `\`, "/")
		lower := strings.ToLower(name)
		if strings.HasPrefix(lower, "xl/worksheets/") && strings.HasSuffix(lower, ".xml") {
			lastRow[name], err = scanLastRow(rc)
		} else {
			_, err = io.Copy(io.Discard, rc)
		}
		_ = rc.Close()
		if err != nil {
			return nil, errDamagedWorkbook()
		}
	}
	return lastRow, nil
}

// scanLastRow finds <row ...> and <prefix:row ...> start tags without an XML
// parser: it jumps from '<' to '<' with bufio's fast byte search and only
// looks inside tags named row, which keeps the check a small fraction of the
// cost of excelize's own parse. It returns the highest row number, counting
// rows the way excelize does (the r attribute, else one more than the
// previous row), and any read error, which for a zip entry includes a wrong
// checksum or a lying size.
func scanLastRow(src io.Reader) (int64, error) {
	br := bufio.NewReaderSize(src, 64<<10)
	var cur, last int64
	for {
		if _, err := br.ReadSlice('<'); err != nil {
			if err == bufio.ErrBufferFull {
				continue
			}
			if err == io.EOF {
				return last, nil
			}
			return last, err
		}
		name, _ := br.Peek(32)
		end := 0
		for end < len(name) && !isTagEnd(name[end]) {
			end++
		}
		if end == len(name) {
			continue // longer than any row tag name, or cut by the end
		}
		local := name[:end]
		if i := bytes.LastIndexByte(local, ':'); i >= 0 {
			local = local[i+1:]
		}
		if string(local) != "row" {
			continue
		}
		tag, err := br.ReadSlice('>')
		if err != nil && err != bufio.ErrBufferFull {
			if err == io.EOF {
				return last, nil
			}
			return last, err
		}
		if r := rowAttr(tag[end:]); r > 0 {
			cur = r
		} else {
			cur++
		}
		last = max(last, cur)
	}
}

func isTagEnd(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '>' || c == '/'
}

// rowAttr returns the value of the r attribute in a row start tag, 0 if it
// has none or it is not a positive number (excelize then counts on).
func rowAttr(tag []byte) int64 {
	for i := 0; i+1 < len(tag); i++ {
		if tag[i] != 'r' || !isTagEnd(prevByte(tag, i)) {
			continue
		}
		j := i + 1
		for j < len(tag) && (tag[j] == ' ' || tag[j] == '\t' || tag[j] == '\n' || tag[j] == '\r') {
			j++
		}
		if j >= len(tag) || tag[j] != '=' {
			continue
		}
		j++
		for j < len(tag) && (tag[j] == ' ' || tag[j] == '\t' || tag[j] == '\n' || tag[j] == '\r') {
			j++
		}
		if j >= len(tag) || (tag[j] != '"' && tag[j] != '\'') {
			return 0
		}
		var n int64
		for j++; j < len(tag) && tag[j] >= '0' && tag[j] <= '9'; j++ {
			n = n*10 + int64(tag[j]-'0')
			if n > 1<<40 {
				return 0
			}
		}
		return n
	}
	return 0
}

func prevByte(b []byte, i int) byte {
	if i == 0 {
		return ' '
	}
	return b[i-1]
}
