package tabular

import (
	"bytes"
	"unicode/utf8"
)

// magic is what the first bytes of a file say it is.
type magic int8

const (
	magicText   magic = iota // no known signature: try CSV
	magicZip                 // a zip archive: try XLSX
	magicOLE                 // OLE2 compound file: .xls or encrypted .xlsx
	magicBinary              // a known non-spreadsheet binary format
)

// oleSignature starts every OLE2 compound file. Excel wraps both the old
// .xls format and password-protected .xlsx files in one, so the two cannot be
// told apart without decrypting and get one message.
var oleSignature = []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}

// binarySignatures are formats people upload by mistake (a screenshot of the
// list, a PDF export, a compressed file). The generic control-byte check in
// sniffEncoding catches the rest; these are listed so that even a tiny file
// of one of them is refused.
var binarySignatures = [][]byte{
	{0x89, 'P', 'N', 'G'},
	{0xFF, 0xD8, 0xFF},
	[]byte("%PDF-"),
	[]byte("GIF87a"),
	[]byte("GIF89a"),
	{0x1F, 0x8B},
	[]byte("Rar!"),
	{'7', 'z', 0xBC, 0xAF},
	{0x7F, 'E', 'L', 'F'},
	{'I', 'I', '*', 0},
	{'M', 'M', 0, '*'},
	{0x00, 0x00, 0x01, 0x00}, // .ico
}

func sniffMagic(head []byte) magic {
	switch {
	case bytes.HasPrefix(head, []byte("PK\x03\x04")),
		bytes.HasPrefix(head, []byte("PK\x05\x06")), // empty archive
		bytes.HasPrefix(head, []byte("PK\x07\x08")): // spanned archive
		return magicZip
	case bytes.HasPrefix(head, oleSignature):
		return magicOLE
	}
	for _, sig := range binarySignatures {
		if bytes.HasPrefix(head, sig) {
			return magicBinary
		}
	}
	return magicText
}

// textEncoding is a CSV encoding this package decodes.
type textEncoding struct {
	name      string // as reported by File.Encoding
	bomLen    int    // bytes to skip before the text
	utf16     bool
	big       bool // UTF-16 byte order
	cp1252    bool
	checkUTF8 bool // UTF-8 that must be checked for invalid bytes per cell
}

var (
	encUTF8    = textEncoding{name: "utf-8", checkUTF8: true}
	encUTF8BOM = textEncoding{name: "utf-8-bom", bomLen: 3, checkUTF8: true}
	encUTF16LE = textEncoding{name: "utf-16le", utf16: true}
	encUTF16BE = textEncoding{name: "utf-16be", utf16: true, big: true}
	enc1252    = textEncoding{name: "windows-1252", cp1252: true}
)

// sniffEncoding picks the encoding from the BOM, then from the content of
// sample (the file's first bytes; whole is true when sample is the entire
// file). It returns errNotTabular() for binary content.
func sniffEncoding(sample []byte, whole bool) (textEncoding, error) {
	switch {
	case bytes.HasPrefix(sample, []byte{0xEF, 0xBB, 0xBF}):
		return encUTF8BOM, nil
	case bytes.HasPrefix(sample, []byte{0xFF, 0xFE}):
		return withBOM(encUTF16LE), nil
	case bytes.HasPrefix(sample, []byte{0xFE, 0xFF}):
		return withBOM(encUTF16BE), nil
	}
	if enc, ok := sniffUTF16NoBOM(sample); ok {
		return enc, nil
	}
	if looksBinary(sample) {
		return textEncoding{}, errNotTabular()
	}
	if !whole {
		sample = trimPartialRune(sample)
	}
	if utf8.Valid(sample) {
		return encUTF8, nil
	}
	return enc1252, nil
}

func withBOM(e textEncoding) textEncoding {
	e.bomLen = 2
	return e
}

// sniffUTF16NoBOM recognises UTF-16 written without a byte-order mark (some
// database and PowerShell exports do this): mostly-ASCII text then has a NUL
// in every other byte, on one side only.
func sniffUTF16NoBOM(sample []byte) (textEncoding, bool) {
	n := min(len(sample), 4096) &^ 1
	if n < 4 {
		return textEncoding{}, false
	}
	var even, odd int
	for i := 0; i < n; i += 2 {
		if sample[i] == 0 {
			even++
		}
		if sample[i+1] == 0 {
			odd++
		}
	}
	pairs := n / 2
	switch {
	case odd*10 >= pairs*7 && even*50 <= pairs:
		return encUTF16LE, true
	case even*10 >= pairs*7 && odd*50 <= pairs:
		return encUTF16BE, true
	}
	return textEncoding{}, false
}

// looksBinary reports whether more than 1% of the sample are control bytes
// that no text file contains. The threshold lets a stray NUL or form feed in
// a real export through (the identifier layer rejects such cells) while
// images, archives and executables, about 10% control bytes, are refused.
func looksBinary(sample []byte) bool {
	var bad int
	for _, b := range sample {
		if b < 0x20 && b != '\t' && b != '\n' && b != '\r' && b != '\f' && b != '\v' && b != 0x1A {
			bad++
		}
	}
	return bad*100 > len(sample)
}

// trimPartialRune drops a UTF-8 sequence cut off by the end of the sample so
// that a file whose 65,536th byte falls inside "é" is still seen as UTF-8.
func trimPartialRune(b []byte) []byte {
	for i := 1; i <= utf8.UTFMax-1 && i <= len(b); i++ {
		c := b[len(b)-i]
		if c < utf8.RuneSelf {
			return b // ASCII: nothing is cut
		}
		if utf8.RuneStart(c) {
			if !utf8.FullRune(b[len(b)-i:]) {
				return b[:len(b)-i]
			}
			return b
		}
	}
	return b
}

// delimiters are the candidates, in the order that breaks ties.
var delimiters = [...]byte{',', ';', '\t', '|'}

// textLayout is what sniffLayout finds in the decoded sample.
type textLayout struct {
	delim    rune
	sepLine  int  // bytes of a leading Excel "sep=X" line, 0 if none
	preferTb bool // the file name says TSV
}

// sniffLayout finds the delimiter and an Excel "sep=" directive in text
// (UTF-8, or any ASCII-compatible encoding).
// complete says whether text is the whole file, so that a record cut by the
// end of the sample is not counted.
func sniffLayout(text []byte, complete, preferTab bool) textLayout {
	var lay textLayout
	lay.preferTb = preferTab
	if d, n, ok := sepDirective(text); ok {
		lay.delim, lay.sepLine = d, n
		text = text[n:]
	}
	if lay.delim == 0 {
		var counts [len(delimiters)][]int
		for k, d := range delimiters {
			counts[k] = delimiterCounts(text, d, complete)
		}
		lay.delim = pickDelimiter(counts, preferTab)
	}
	return lay
}

// sniffRecords is how many records of the sample decide the delimiter.
const sniffRecords = 20

// delimiterCounts reads text as recordReader would with delimiter d, and
// returns how many times d separates cells in each of the first
// sniffRecords non-blank records. Each candidate gets a reading of its own
// because where a quoted cell starts depends on the delimiter: in
// Ann,5'11",ann@example.com the quote is text, in a;"b,c" it opens a cell
// only if ';' is the delimiter. complete says whether text is the whole
// file, so that a record cut by the end of the sample is not counted.
func delimiterCounts(text []byte, d byte, complete bool) []int {
	var (
		counts    []int
		cur       int
		cellStart = true
		inQuotes  bool
		nonBlank  bool
	)
	endRecord := func() {
		if nonBlank {
			counts = append(counts, cur)
		}
		cur, cellStart, nonBlank = 0, true, false
	}
	for i := 0; i < len(text) && len(counts) < sniffRecords; i++ {
		c := text[i]
		if inQuotes {
			if c == '"' {
				if i+1 < len(text) && text[i+1] == '"' {
					i++ // a doubled quote is text
					continue
				}
				inQuotes = false
			}
			continue
		}
		switch {
		case c == '"' && cellStart:
			inQuotes, cellStart, nonBlank = true, false, true
		case c == '\n':
			endRecord()
		case c == '\r':
			if i+1 < len(text) && text[i+1] == '\n' {
				continue // the LF ends the record
			}
			if i+1 == len(text) && !complete {
				continue // an LF may follow beyond the sample
			}
			endRecord()
		case c == d:
			cur++
			cellStart, nonBlank = true, true
		default:
			cellStart, nonBlank = false, true
		}
	}
	if complete && !inQuotes && len(counts) < sniffRecords {
		endRecord() // the last record has no line ending
	}
	return counts
}

// pickDelimiter prefers a candidate that occurs the same non-zero number of
// times in every record, the higher count winning; failing that (ragged
// rows), the one present in most records, if it is in the first record or in
// more than half of them. Ties go to the order , ; tab | (tab first for a
// .tsv file). No such candidate means a one-column file, read with ','.
func pickDelimiter(counts [len(delimiters)][]int, preferTab bool) rune {
	type score struct {
		full    bool
		mode    int
		present int
		agree   int
	}
	better := func(a, b score) bool { // is a strictly better than b
		if a.full != b.full {
			return a.full
		}
		if a.full {
			return a.mode > b.mode
		}
		if a.present != b.present {
			return a.present > b.present
		}
		if a.agree != b.agree {
			return a.agree > b.agree
		}
		return a.mode > b.mode
	}
	order := []int{0, 1, 2, 3}
	if preferTab {
		order = []int{2, 0, 1, 3}
	}
	best, bestScore := -1, score{}
	for _, k := range order {
		var s score
		freq := map[int]int{}
		for _, n := range counts[k] {
			if n > 0 {
				s.present++
				freq[n]++
			}
		}
		if s.present == 0 {
			continue
		}
		for n, f := range freq {
			if f > s.agree || (f == s.agree && n > s.mode) {
				s.mode, s.agree = n, f
			}
		}
		s.full = s.agree == len(counts[k])
		if best < 0 || better(s, bestScore) {
			best, bestScore = k, s
		}
	}
	if best < 0 {
		return ','
	}
	// A candidate that is in only a minority of the records, and not in
	// the first (the header, usually), is more likely text inside the cells
	// of a one-column file ("a@example.com; b@example.com") than its
	// delimiter. Splitting there would move the rest of such a cell into a
	// column nobody maps, where it would be ignored without a word; read
	// as one column, the cell stays whole and is reported as it is.
	if !bestScore.full && counts[best][0] == 0 && 2*bestScore.present <= len(counts[best]) {
		return ','
	}
	return rune(delimiters[best])
}

// sepDirective recognises the "sep=;" first line that Excel writes and
// honours to fix the delimiter. It returns the delimiter and the length of
// the line including its line ending.
func sepDirective(text []byte) (rune, int, bool) {
	if len(text) < 5 || !bytes.EqualFold(text[:4], []byte("sep=")) {
		return 0, 0, false
	}
	d, size := utf8.DecodeRune(text[4:])
	if !validDelimiter(d) {
		return 0, 0, false
	}
	rest := text[4+size:]
	switch {
	case bytes.HasPrefix(rest, []byte("\r\n")):
		return d, 4 + size + 2, true
	case bytes.HasPrefix(rest, []byte("\n")), bytes.HasPrefix(rest, []byte("\r")):
		return d, 4 + size + 1, true
	case len(rest) == 0:
		return d, 4 + size, true
	}
	return 0, 0, false
}

// validDelimiter mirrors what encoding/csv accepts as Comma: no character
// that a CSV reader gives another meaning.
func validDelimiter(r rune) bool {
	return r != 0 && r != '"' && r != '\r' && r != '\n' && utf8.ValidRune(r) && r != utf8.RuneError
}

// sniffMarkup recognises files that spreadsheet programs or web apps save
// with a spreadsheet name but that are HTML or XML (Excel 2003 XML, "Excel"
// downloads from web apps). Reading them as CSV would yield markup as data.
func sniffMarkup(text []byte) (*FileError, bool) {
	t := bytes.TrimLeft(text, " \t\r\n")
	if len(t) > 64 {
		t = t[:64]
	}
	lower := bytes.ToLower(t)
	switch {
	case bytes.HasPrefix(lower, []byte("<!doctype html")), bytes.HasPrefix(lower, []byte("<html")):
		return &FileError{Message: "this is a web page (HTML) saved with a spreadsheet name; open it in your spreadsheet program and save it as CSV or Excel workbook (.xlsx)"}, true
	case bytes.HasPrefix(lower, []byte("<?xml")):
		return &FileError{Message: "this is an XML file, not a CSV or XLSX file; open it in your spreadsheet program and save it as CSV or Excel workbook (.xlsx)"}, true
	}
	return nil, false
}
