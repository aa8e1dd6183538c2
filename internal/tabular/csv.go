package tabular

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/bits"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

// sampleSize is how much of a CSV is examined to choose its encoding and
// delimiter: enough for the first 20 records of any sane file, small enough
// to read on every Open.
const sampleSize = 64 << 10

// csvFile is an opened CSV: where its text starts and how to decode it.
type csvFile struct {
	r          io.ReaderAt
	size       int64
	start      int64 // first byte after the BOM and any "sep=" line
	lineOffset int64 // lines before start (the "sep=" line)
	encoding   textEncoding
	delim      rune
	lim        Limits
}

func openCSV(r io.ReaderAt, size int64, lim Limits, lowerName string) (*csvFile, error) {
	sample := make([]byte, min(size, sampleSize))
	if n, err := r.ReadAt(sample, 0); n < len(sample) {
		if err == nil || err == io.EOF {
			sample = sample[:n] // the ReaderAt holds less than size claimed
		} else {
			return nil, errUnreadable()
		}
	}
	whole := int64(len(sample)) >= size
	enc, err := sniffEncoding(sample, whole)
	if err != nil {
		return nil, err
	}
	body := sample[enc.bomLen:]
	text := body
	if enc.utf16 {
		if !whole {
			body = body[:len(body)&^1]
		}
		text, err = newDecoder(enc).Bytes(body)
		if err != nil || looksBinary(text) {
			return nil, errNotTabular()
		}
	}
	if len(text) == 0 && whole {
		return nil, fileErrorf(0, "the file is empty; choose the file with your list and upload it again")
	}
	if fe, ok := sniffMarkup(text); ok {
		return nil, fe
	}
	lay := sniffLayout(text, whole, strings.HasSuffix(lowerName, ".tsv"))
	c := &csvFile{
		r:        r,
		size:     size,
		start:    int64(enc.bomLen),
		encoding: enc,
		delim:    lay.delim,
		lim:      lim,
	}
	if lay.sepLine > 0 {
		raw := lay.sepLine
		if enc.utf16 {
			raw = 2 * len(utf16.Encode([]rune(string(text[:lay.sepLine]))))
		}
		c.start += int64(raw)
		c.lineOffset = 1
	}
	return c, nil
}

// newDecoder returns the decoder for a non-UTF-8 encoding. The BOM has been
// skipped already, hence IgnoreBOM.
func newDecoder(enc textEncoding) *encoding.Decoder {
	switch {
	case enc.utf16 && enc.big:
		return unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM).NewDecoder()
	case enc.utf16:
		return unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM).NewDecoder()
	case enc.cp1252:
		return charmap.Windows1252.NewDecoder()
	}
	return encoding.Nop.NewDecoder()
}

// rows builds the reader chain: section → decoder (only when not UTF-8) →
// CR translation → line-length guard → bufio → recordReader.
// linesAtMost returns an upper bound on the CSV's records: one more than
// its line feeds or its carriage returns, whichever are more (a record ends
// with either, or both). A break inside a quoted cell, or a byte 0x0A or
// 0x0D inside a UTF-16 character, only makes it higher. 0 if the file
// cannot be read.
func (c *csvFile) linesAtMost() int64 {
	buf := make([]byte, 1<<20)
	var lf, cr int64
	for off := c.start; off < c.size; {
		n, err := c.r.ReadAt(buf[:min(int64(len(buf)), c.size-off)], off)
		lf += int64(bytes.Count(buf[:n], []byte{'\n'}))
		cr += int64(bytes.Count(buf[:n], []byte{'\r'}))
		off += int64(n)
		if n == 0 || (err != nil && err != io.EOF) {
			return 0
		}
	}
	return max(lf, cr) + 1
}

func (c *csvFile) rows() *csvRows {
	var src io.Reader = io.NewSectionReader(c.r, c.start, c.size-c.start)
	if c.encoding.utf16 || c.encoding.cp1252 {
		src = transform.NewReader(src, newDecoder(c.encoding))
	}
	// Always, not only for old Mac files: a file with a lone CR among LF
	// line endings (rows appended by another program) shows that CR as a
	// line break in every spreadsheet program, and a reader that only
	// knows LF and CRLF would glue the two rows into one, hiding the
	// second row's identifier in a cell of the first.
	src = &crReader{r: src}
	guard := &lineGuard{r: src, max: max(16*c.lim.MaxCellBytes, 1<<20), checkUTF8: c.encoding.checkUTF8}
	rd := newRecordReader(bufio.NewReaderSize(guard, 64<<10), c.delim)
	return &csvRows{rd: rd, guard: guard, lim: c.lim, lineOffset: c.lineOffset}
}

// csvRows is the Rows of a CSV.
type csvRows struct {
	rd         *recordReader
	guard      *lineGuard
	lim        Limits
	lineOffset int64
	err        error // sticky: io.EOF or a *FileError
}

// Next is kept lean because it runs once per record: no allocation beyond
// the record's one string, no copy of the cells.
func (c *csvRows) Next() (Row, error) {
	if c.err != nil {
		return Row{}, c.err
	}
	for {
		rec, line, err := c.rd.read()
		if err != nil {
			c.err = c.translate(line, err)
			return Row{}, c.err
		}
		c.guard.recStart = c.rd.offset
		num := line + c.lineOffset
		if len(rec) > c.lim.MaxColumns {
			c.err = fileErrorf(num, "line %d has more than %s cells; check that the whole file uses the same delimiter, or remove the extra columns", num, groupDigits(int64(c.lim.MaxColumns)))
			return Row{}, c.err
		}
		empty := true
		for i, cell := range rec {
			if len(cell) == 0 {
				continue
			}
			empty = false
			if len(cell) > c.lim.MaxCellBytes {
				c.err = fileErrorf(num, "line %d: a cell is longer than %s; check the quotes on that line, or shorten the cell", num, humanBytes(int64(c.lim.MaxCellBytes)))
				return Row{}, c.err
			}
			if c.guard.invalid && !utf8.ValidString(cell) {
				// The file started as UTF-8 but has stray bytes of another
				// encoding further down; U+FFFD marks them for the
				// identifier layer instead of passing invalid text on.
				cell = strings.ToValidUTF8(cell, "\uFFFD")
				rec[i] = cell
				// U+FFFD takes three bytes where the stray byte took one,
				// so the marked cell may exceed the limit the raw one met.
				if len(cell) > c.lim.MaxCellBytes {
					c.err = fileErrorf(num, "line %d: a cell is longer than %s once its unreadable characters are marked; check that the whole file is saved as UTF-8, or shorten the cell", num, humanBytes(int64(c.lim.MaxCellBytes)))
					return Row{}, c.err
				}
			}
		}
		if empty {
			continue // ",,," is what Excel writes for an empty row
		}
		return Row{Number: num, Cells: rec}, nil
	}
}

// translate turns what the record reader or the reader chain returned into
// io.EOF or a *FileError in plain English. start is the line of the record
// the error interrupted, 0 if none had begun.
func (c *csvRows) translate(start int64, err error) error {
	if err == io.EOF {
		return io.EOF
	}
	var long *tooLongError
	if errors.As(err, &long) {
		n := long.line + c.lineOffset
		if start > 0 {
			n = start + c.lineOffset
		}
		if long.record {
			return fileErrorf(n, "line %d: a quoted field is not closed (the row runs on for more than %s); check the quotes on that line", n, humanBytes(int64(c.guard.max)))
		}
		return fileErrorf(n, "line %d is longer than %s; check the quotes on that line, and that the file really is a CSV file", n, humanBytes(int64(c.guard.max)))
	}
	var qe *quoteError
	if !errors.As(err, &qe) {
		return errUnreadable()
	}
	n := qe.line + c.lineOffset
	switch qe.kind {
	case quoteNotClosed:
		return fileErrorf(n, "line %d: a quoted field is not closed; check the quotes on that line", n)
	case quoteTextAfter:
		return fileErrorf(n, `line %d: a quoted field has text after its closing quote; put the whole field in double quotes and write each quote inside it twice ("")`, n)
	}
	return fileErrorf(n, `line %d: a cell has spaces before its opening double quote ("), which spreadsheet programs read differently; remove the spaces, or put the whole cell in double quotes and write each quote inside it twice ("")`, n)
}

// Close ends the iteration; later calls to Next return io.EOF.
func (c *csvRows) Close() error {
	if c.err == nil {
		c.err = io.EOF
	}
	return nil
}

// tooLongError is returned through the record reader by lineGuard.
type tooLongError struct {
	line   int64
	record bool // a record of many lines, rather than one long line
}

func (e *tooLongError) Error() string { return "line too long" }

// lineGuard fails a physical line, or a record, longer than max bytes.
// The record reader buffers a whole record, so without it a file with no line
// breaks, or a quote that is never closed, would be held in memory entirely;
// with it a record costs at most about max bytes.
type lineGuard struct {
	r         io.Reader
	max       int
	run       int   // bytes since the last '\n'
	lines     int64 // '\n' delivered before the current run
	delivered int64 // bytes returned so far
	recStart  int64 // offset of the record being read (set by csvRows)
	err       error

	// checkUTF8 asks for the text to be validated as it streams by, so
	// that csvRows only checks cells once invalid bytes have been seen
	// (invalid is set before the record reader can return them, since the guard
	// reads ahead of it). carry holds a rune cut by the end of a read.
	checkUTF8 bool
	invalid   bool
	carry     []byte
}

// readAhead is how far bufio may read past the record being read.
const readAhead = 64 << 10

func (g *lineGuard) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	n, err := g.r.Read(p)
	if g.checkUTF8 && !g.invalid {
		g.validate(p[:n], err != nil)
	}
	b := p[:n]
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			g.run += len(b)
			break
		}
		if g.run+i > g.max {
			g.run += i
			break
		}
		g.run = 0
		g.lines++
		b = b[i+1:]
		if len(b) <= g.max {
			// The rest cannot hold an over-long line on its own: count the
			// line breaks in bulk instead of one by one.
			if last := bytes.LastIndexByte(b, '\n'); last >= 0 {
				g.lines += int64(bytes.Count(b[:last+1], []byte{'\n'}))
				b = b[last+1:]
			}
			g.run = len(b)
			break
		}
	}
	g.delivered += int64(n)
	switch {
	case g.run > g.max:
		g.err = &tooLongError{line: g.lines + 1}
	case g.delivered-g.recStart > int64(g.max)+readAhead:
		g.err = &tooLongError{line: g.lines + 1, record: true}
	}
	if g.err != nil {
		return 0, g.err
	}
	return n, err
}

// validate checks the next chunk of the stream for invalid UTF-8.
func (g *lineGuard) validate(p []byte, last bool) {
	if len(g.carry) > 0 {
		// Complete the rune cut by the previous chunk.
		need := min(utf8.UTFMax-len(g.carry), len(p))
		g.carry = append(g.carry, p[:need]...)
		r, size := utf8.DecodeRune(g.carry)
		switch {
		case r == utf8.RuneError && size <= 1 && (utf8.FullRune(g.carry) || last):
			g.invalid = true
			return
		case !utf8.FullRune(g.carry):
			return // still incomplete: p was tiny
		}
		p = p[size-(len(g.carry)-need):]
		g.carry = g.carry[:0]
	}
	rest, ok := validPrefix(p)
	switch {
	case !ok:
		g.invalid = true
	case len(rest) > 0 && last:
		g.invalid = true // the file ends inside a rune
	case len(rest) > 0:
		g.carry = append(g.carry[:0], rest...)
	}
}

// validPrefix reports whether p is valid UTF-8 except possibly for an
// incomplete rune at its end, which it returns. Unlike utf8.Valid, which
// goes byte by byte after the first non-ASCII byte, it returns to checking
// eight ASCII bytes at a time after every multi-byte rune: a list of names
// has an "é" every few dozen bytes.
func validPrefix(p []byte) ([]byte, bool) {
	const highBits = 0x8080808080808080
	for len(p) > 0 {
		for len(p) >= 8 {
			w := binary.LittleEndian.Uint64(p) & highBits
			if w == 0 {
				p = p[8:]
				continue
			}
			p = p[bits.TrailingZeros64(w)/8:] // jump to the first non-ASCII byte
			break
		}
		if len(p) == 0 {
			break
		}
		switch c := p[0]; {
		case c < utf8.RuneSelf:
			p = p[1:]
			continue
		case c >= 0xC2 && c <= 0xDF && len(p) >= 2 && p[1]&0xC0 == 0x80:
			p = p[2:] // the common case in Latin scripts, without a call
			continue
		}
		r, size := utf8.DecodeRune(p)
		if r == utf8.RuneError && size == 1 {
			if !utf8.FullRune(p) {
				return p, true
			}
			return nil, false
		}
		p = p[size:]
	}
	return nil, true
}

// crReader turns every CR that is not followed by LF (old Mac line endings,
// or a stray one among LF endings) into LF, which is all recordReader
// recognises, and CRLF into LF. Spreadsheet programs take each of the three
// as a line break. Inside a quoted cell the break stays a break.
type crReader struct {
	r      io.Reader
	prevCR bool // the previous Read ended in a CR, already written as LF
}

func (c *crReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	r, w := 0, 0
	if c.prevCR && n > 0 {
		c.prevCR = false
		if p[0] == '\n' {
			r = 1 // the LF of a CRLF cut by the previous Read
		}
	}
	for r < n {
		i := bytes.IndexByte(p[r:n], '\r')
		if i < 0 {
			w += copy(p[w:], p[r:n])
			break
		}
		w += copy(p[w:], p[r:r+i])
		r += i + 1
		p[w] = '\n'
		w++
		switch {
		case r == n:
			c.prevCR = true
		case p[r] == '\n':
			r++
		}
	}
	return w, err
}
