// Package tabular reads the rows of an uploaded CSV or XLSX file as a stream.
//
// The files come from people: they were written by Excel, LibreOffice,
// Google Sheets, Numbers or some CRM's export, in whatever encoding,
// delimiter and line-ending convention that program chose, and some of them
// are damaged or hostile. The package therefore detects the format and the
// encoding from the content rather than trusting the file name, keeps the
// memory one file may cost bounded (see [Limits]), and reports every problem
// as a [FileError] whose message is a full sentence the user can act on; it
// never returns an error that exposes Go or library internals.
//
// Typical use:
//
//	f, err := tabular.OpenFile(path, tabular.Options{Filename: name})
//	if err != nil { ... }
//	defer f.Close()
//	rows, err := f.Rows("")
//	if err != nil { ... }
//	defer rows.Close()
//	for {
//		row, err := rows.Next()
//		if err == io.EOF { break }
//		if err != nil { ... } // a *FileError
//		use(row.Number, row.Cells)
//	}
//
// Cell values are the text the user sees or typed: for XLSX that is the
// cached result of a formula (never the formula), the plain text of rich
// text, and for numbers the digits as typed (a phone number stored as a
// number comes out as "46701234567", not "4.67012E+10"), zero-padded when
// the cell's number format is a run of zeros such as "000000".
package tabular

import (
	"io"
	"os"
	"strings"
)

// Format is the kind of file Open detected.
type Format int8

// The formats this package reads.
const (
	// CSV is delimited text, whatever the delimiter and encoding.
	CSV Format = 1
	// XLSX is an Office Open XML workbook (Excel 2007 and later).
	XLSX Format = 2
)

// String returns the lower-case name used in logs and file extensions.
func (f Format) String() string {
	switch f {
	case CSV:
		return "csv"
	case XLSX:
		return "xlsx"
	}
	return "unknown"
}

// Limits bound what one file may cost. Zero fields take the defaults shown.
type Limits struct {
	// MaxCellBytes bounds one cell (default 64 KiB); a longer cell is an
	// error naming the row. It also bounds a CSV line, and a CSV record
	// spanning lines, to 16 times this (at least 1 MiB), so that a quote
	// that is never closed cannot make the reader buffer the whole file.
	MaxCellBytes int
	// MaxColumns bounds the cells of one row (default 1,000).
	MaxColumns int
	// MaxUnzippedBytes bounds the total uncompressed size of an XLSX
	// (default 512 MiB): the zip-bomb guard.
	MaxUnzippedBytes int64
	// MaxSheetXMLBytes bounds the uncompressed XML of one XLSX sheet
	// (default 256 MiB).
	MaxSheetXMLBytes int64
}

// Defaults of Limits: what a real marketing list needs with a wide margin,
// while refusing files that would cost far more to unpack than any list.
const (
	DefaultMaxCellBytes           = 64 << 10
	DefaultMaxColumns             = 1000
	DefaultMaxUnzippedBytes int64 = 512 << 20
	DefaultMaxSheetXMLBytes int64 = 256 << 20
)

// withDefaults fills zero (or nonsensical negative) fields.
func (l Limits) withDefaults() Limits {
	if l.MaxCellBytes <= 0 {
		l.MaxCellBytes = DefaultMaxCellBytes
	}
	if l.MaxColumns <= 0 {
		l.MaxColumns = DefaultMaxColumns
	}
	if l.MaxUnzippedBytes <= 0 {
		l.MaxUnzippedBytes = DefaultMaxUnzippedBytes
	}
	if l.MaxSheetXMLBytes <= 0 {
		l.MaxSheetXMLBytes = DefaultMaxSheetXMLBytes
	}
	return l
}

// Options configure Open.
type Options struct {
	// Filename is the name the user uploaded. The content decides the
	// format (a CSV named .xlsx is read as CSV); the name only breaks ties,
	// e.g. a .tsv file prefers tab when the delimiter is ambiguous.
	Filename string
	// Limits bound the cost of the file; zero fields take the defaults.
	Limits Limits
	// TempDir is where an XLSX's sheets and shared strings are unpacked
	// while the file is open, when they are too big (over 16 MiB) to keep
	// in memory; empty means the system's temporary directory.
	TempDir string
}

// Row is one record.
type Row struct {
	// Number is the 1-based row number a spreadsheet program shows for the
	// row. For CSV it is the line on which the record starts (blank lines
	// count as lines but yield no Row); for XLSX it is the sheet's row
	// number. A row whose cells are all empty (",,," in a CSV, an empty or
	// formatted-only row in a sheet) yields no Row, unless one of them is
	// uncomputed.
	Number int64
	// Cells are the values as read, trailing empty cells not trimmed. The
	// slice may be reused by the next call to Next: copy what you keep (the
	// strings themselves are not overwritten).
	Cells []string
	// Uncomputed are the 0-based columns, in order, of an XLSX row's cells
	// that hold a formula whose result the file does not have (written by
	// a library, for Excel to compute on opening): read as empty, they are
	// not what a spreadsheet program shows. Cells may be shorter than them.
	Uncomputed []int
}

// Rows iterates over the rows of one sheet.
type Rows interface {
	// Next returns the next non-empty row, io.EOF after the last one, or a
	// *FileError. After an error every later call returns the same error.
	Next() (Row, error)
	// Close releases the iterator's resources; it does not close the File.
	Close() error
}

// File is an opened upload. It is not safe for concurrent use.
type File struct {
	format Format
	csv    *csvFile
	xlsx   *xlsxFile
	// osFile is the file OpenFile opened, closed by Close.
	osFile *os.File
}

// Open detects the format from the first bytes and opens the file.
//
// A zip ("PK\x03\x04") is read as XLSX; an OLE2 compound file (an old .xls
// or a password-protected workbook), images, PDFs and other binary files are
// refused with a *FileError saying what to do; anything else is read as CSV
// text. The content wins over the file name. An empty file is a *FileError
// "the file is empty". r must stay readable until Close.
func Open(r io.ReaderAt, size int64, opts Options) (*File, error) {
	return open(r, size, opts, "")
}

// OpenFile opens the named file, as Open does. Prefer it to Open for a file
// on disk: an XLSX is then read from the file as needed, whereas through
// Open the XLSX library first copies the whole archive into memory.
func OpenFile(name string, opts Options) (*File, error) {
	osf, err := os.Open(name)
	if err != nil {
		return nil, errUnreadable()
	}
	st, err := osf.Stat()
	if err != nil {
		osf.Close()
		return nil, errUnreadable()
	}
	f, err := open(osf, st.Size(), opts, name)
	if err != nil {
		osf.Close()
		return nil, err
	}
	f.osFile = osf
	return f, nil
}

// open is Open; path names the file r reads, if it is one.
func open(r io.ReaderAt, size int64, opts Options, path string) (*File, error) {
	if r == nil || size <= 0 {
		return nil, fileErrorf(0, "the file is empty; choose the file with your list and upload it again")
	}
	lim := opts.Limits.withDefaults()
	head := make([]byte, 8)
	n, err := r.ReadAt(head, 0)
	if n == 0 && err != nil {
		return nil, errUnreadable()
	}
	head = head[:n]
	switch sniffMagic(head) {
	case magicZip:
		x, err := openXLSX(r, size, lim, opts.TempDir, path)
		if err != nil {
			return nil, err
		}
		return &File{format: XLSX, xlsx: x}, nil
	case magicOLE:
		return nil, errOLE()
	case magicBinary:
		return nil, errNotTabular()
	}
	c, err := openCSV(r, size, lim, strings.ToLower(opts.Filename))
	if err != nil {
		return nil, err
	}
	return &File{format: CSV, csv: c}, nil
}

// Format returns the detected format.
func (f *File) Format() Format { return f.format }

// Sheets lists the visible sheets of a workbook in workbook order; it is nil
// for CSV, which has one unnamed sheet.
func (f *File) Sheets() []string {
	if f.xlsx == nil {
		return nil
	}
	return append([]string(nil), f.xlsx.visible...)
}

// Encoding names the text encoding detected for a CSV: "utf-8",
// "utf-8-bom", "utf-16le", "utf-16be" or "windows-1252". It is "" for XLSX,
// whose XML declares its own encoding.
func (f *File) Encoding() string {
	if f.csv == nil {
		return ""
	}
	return f.csv.encoding.name
}

// Delimiter returns the delimiter detected for a CSV, or 0 for XLSX.
func (f *File) Delimiter() rune {
	if f.csv == nil {
		return 0
	}
	return f.csv.delim
}

// Rows opens a sheet for reading from its top. "" is the first visible
// sheet; a hidden sheet can be opened by naming it. An unknown name is a
// *FileError listing the visible sheets. A CSV has one unnamed sheet, so any
// non-empty name is an error for CSV. Rows may be called several times; each
// iterator is independent.
func (f *File) Rows(sheet string) (Rows, error) {
	switch {
	case f.csv != nil:
		if sheet != "" {
			return nil, fileErrorf(0, "a CSV file has no sheet named %q; it has only one, unnamed sheet", sheet)
		}
		return f.csv.rows(), nil
	case f.xlsx != nil:
		return f.xlsx.rows(sheet)
	}
	return nil, errClosed()
}

// RowsAtMost returns an upper bound on the number of rows of a sheet ("" is
// the first visible one), header included, for sizing what a reader keeps
// per row; 0 when the file does not tell. For a CSV it counts line breaks
// (a reading of the file); an XLSX announces its last row.
func (f *File) RowsAtMost(sheet string) int64 {
	switch {
	case f.csv != nil:
		return f.csv.linesAtMost()
	case f.xlsx != nil:
		return f.xlsx.rowsAtMost(sheet)
	}
	return 0
}

// Close releases the file, including any temporary files an XLSX needed.
// Rows iterators of the file must not be used after Close.
func (f *File) Close() error {
	var err error
	if f.xlsx != nil {
		err = f.xlsx.close()
		f.xlsx = nil
	}
	f.csv = nil
	if f.osFile != nil {
		_ = f.osFile.Close() // read-only: nothing to lose
		f.osFile = nil
	}
	return err
}

// FileError is a problem with the file that the user can fix (or at least
// understand). Message is a complete user-facing sentence.
type FileError struct {
	// Row is the row (CSV: line) the problem is on, or 0 when the problem
	// is not about one row.
	Row int64
	// Message says what is wrong and what to do, already including the row.
	Message string
}

// Error returns Message.
func (e *FileError) Error() string { return e.Message }

// Errors shared by both formats. They are functions, not variables, so
// that no caller can change a message another caller sees.
func errNotTabular() *FileError {
	return &FileError{Message: "this is not a CSV or XLSX file; export your list from your spreadsheet program as CSV or Excel workbook (.xlsx) and upload that"}
}

func errOLE() *FileError {
	return &FileError{Message: "this looks like an old Excel .xls or a password-protected workbook; save it as .xlsx or CSV"}
}

func errUnreadable() *FileError {
	return &FileError{Message: "the file could not be read; upload it again"}
}

func errClosed() *FileError {
	return &FileError{Message: "the file was already closed; upload it again"}
}
