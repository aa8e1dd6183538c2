package tabular

import (
	"bufio"
	"bytes"
	"io"
)

// recordReader splits CSV text into records by the rule that spreadsheet
// programs and the common CSV readers share (LibreOffice Calc and Python's
// csv module, tried; Excel, by users' reports), and refuses the files on
// which they part ways:
//
//   - A cell is quoted when its first character is a double quote. Inside,
//     a doubled quote ("") is one quote, delimiters and line breaks are
//     text, and the closing quote must be followed by the delimiter or the
//     end of the line.
//   - In any other cell a quote is an ordinary character: 5'11" and
//     37°36'37.8"N are read as written, up to the next delimiter or line
//     break.
//
// Refused, because the programs read them differently, and a row list read
// otherwise than the user sees it would delete the wrong people (LibreOffice
// Calc 7.4.7.2 and Python 3's csv module, tried):
//
//   - text after a closing quote ("Bob" Lee): Calc takes the whole cell as
//     text, quotes and all (but "Ann" and a space as Ann and the space), and
//     splits the row where the quoted part held a line break; Python joins
//     the parts (Bob Lee);
//   - a quoted cell that is never closed: Calc reads the opening quote as
//     text and goes on with the next cell; Python takes the rest of the
//     file into the cell;
//   - spaces before an opening quote ( "Smith, John"): Calc skips them and
//     reads one cell; Python, like any reader that looks only at a cell's
//     first character, finds two.
//
// encoding/csv cannot be configured this way: by default it refuses every
// quote inside an unquoted cell, and LazyQuotes also accepts a stray quote
// inside a quoted cell, which lets a malformed cell run on into the rows
// below without a word.
//
// The input has LF line breaks only (crReader). Lines are read with
// bufio.Reader.ReadSlice and cells copied once into one buffer per record,
// which becomes one string, as encoding/csv does.
type recordReader struct {
	br     *bufio.Reader
	delim  []byte // the delimiter, UTF-8 encoded
	lines  int64  // lines read so far
	offset int64  // bytes read so far
	long   []byte // a line longer than br's buffer
	buf    []byte // the cells of the record being read, back to back
	ends   []int  // where each cell ends in buf
	rec    []string
}

func newRecordReader(br *bufio.Reader, delim rune) *recordReader {
	return &recordReader{br: br, delim: []byte(string(delim))}
}

// quoteProblem is what a quoteError refuses.
type quoteProblem int8

const (
	quoteNotClosed quoteProblem = iota + 1
	quoteTextAfter
	quoteAfterSpaces
)

// quoteError is a quote the reader refuses; line is the line it is on (for
// quoteNotClosed, the line of the opening quote).
type quoteError struct {
	line int64
	kind quoteProblem
}

func (e *quoteError) Error() string { return "misplaced quote" }

// read returns the next record, whose slice is reused by the next call, and
// the line it starts on; io.EOF after the last one. On an error of the
// underlying reader, line is the start of the record it interrupted, or 0
// if none had begun.
func (r *recordReader) read() (rec []string, line int64, err error) {
	var text []byte
	for {
		text, err = r.readLine()
		if err != nil {
			return nil, 0, err
		}
		if len(text) != 1 || text[0] != '\n' {
			break // a blank line is no record, as in encoding/csv
		}
	}
	start := r.lines
	r.buf, r.ends = r.buf[:0], r.ends[:0]
cells:
	for {
		if len(text) == 0 || text[0] != '"' {
			i := bytes.Index(text, r.delim)
			cell := text
			if i >= 0 {
				cell = text[:i]
			} else if n := len(cell); n > 0 && cell[n-1] == '\n' {
				cell = cell[:n-1]
			}
			if len(cell) > 0 && cell[0] == ' ' {
				if t := bytes.TrimLeft(cell, " "); len(t) > 0 && t[0] == '"' {
					return nil, start, &quoteError{line: r.lines, kind: quoteAfterSpaces}
				}
			}
			r.buf = append(r.buf, cell...)
			r.ends = append(r.ends, len(r.buf))
			if i < 0 {
				break cells
			}
			text = text[i+len(r.delim):]
			continue
		}
		opened := r.lines
		text = text[1:]
		for {
			i := bytes.IndexByte(text, '"')
			if i < 0 {
				// The cell goes on on the next line.
				r.buf = append(r.buf, text...)
				text, err = r.readLine()
				switch {
				case err == io.EOF:
					return nil, start, &quoteError{line: opened, kind: quoteNotClosed}
				case err != nil:
					return nil, start, err
				}
				continue
			}
			r.buf = append(r.buf, text[:i]...)
			text = text[i+1:]
			switch {
			case len(text) > 0 && text[0] == '"':
				r.buf = append(r.buf, '"')
				text = text[1:]
			case bytes.HasPrefix(text, r.delim):
				r.ends = append(r.ends, len(r.buf))
				text = text[len(r.delim):]
				continue cells
			case len(text) == 0 || (len(text) == 1 && text[0] == '\n'):
				r.ends = append(r.ends, len(r.buf))
				break cells
			case opened < r.lines:
				// A quoted cell spanning lines that then has text after
				// its "closing" quote was most likely opened by mistake:
				// point at the opening quote.
				return nil, start, &quoteError{line: opened, kind: quoteNotClosed}
			default:
				return nil, start, &quoteError{line: r.lines, kind: quoteTextAfter}
			}
		}
	}
	// One string for the whole record: one allocation per record.
	s := string(r.buf)
	r.rec = r.rec[:0]
	prev := 0
	for _, end := range r.ends {
		r.rec = append(r.rec, s[prev:end])
		prev = end
	}
	return r.rec, start, nil
}

// readLine returns the next line with its '\n' (the last line may have
// none), valid until the next call; io.EOF only when there is nothing left.
func (r *recordReader) readLine() ([]byte, error) {
	line, err := r.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		r.long = append(r.long[:0], line...)
		for err == bufio.ErrBufferFull {
			line, err = r.br.ReadSlice('\n')
			r.long = append(r.long, line...)
		}
		line = r.long
	}
	if len(line) > 0 && err == io.EOF {
		err = nil
	}
	if err != nil {
		return nil, err
	}
	r.lines++
	r.offset += int64(len(line))
	return line, nil
}
