package deletion

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/erasure-dev/erasure/internal/identifier"
	"github.com/erasure-dev/erasure/internal/job"
	"github.com/erasure-dev/erasure/internal/tabular"
	"github.com/erasure-dev/erasure/storage"
)

// FileOptions say how to read an uploaded file.
type FileOptions struct {
	Sheet  string
	Header job.HeaderMode
}

// FileSource names the upload, sheet and column that hold identifiers.
// Set ColumnName or ColumnNumber (1-based), or neither for a one-column file.
type FileSource struct {
	UploadID     string
	Options      FileOptions
	ColumnName   string
	ColumnNumber int
}

// openedFile is an upload copied to a temporary file and opened.
type openedFile struct {
	*tabular.File
	upload *job.Upload
	// path is the temporary file, removed by Close.
	path string
}

func (f *openedFile) Close() error {
	err := f.File.Close()
	os.Remove(f.path)
	return err
}

// openUpload copies a complete upload out of the store into a temporary file
// (XLSX needs random access; memory stays bounded) and opens it. Both the
// copy and whatever a big XLSX unpacks go to Config.TempDir.
func (s *Service) openUpload(ctx context.Context, accountID, uploadID string) (*openedFile, error) {
	if err := checkAccount(accountID); err != nil {
		return nil, err
	}
	if strings.TrimSpace(uploadID) == "" {
		return nil, invalidf("upload_id is required: upload the file first").because("UPLOAD_ID_REQUIRED").at("upload_id")
	}
	r, u, err := s.store.OpenUpload(ctx, accountID, uploadID)
	if errors.Is(err, storage.ErrConflict) {
		return nil, preconditionf("upload %q is not complete: send its remaining chunks (the last with last=true) first", uploadID).because("UPLOAD_INCOMPLETE", "upload_id", uploadID)
	}
	if err != nil {
		return nil, s.uploadNotFound(ctx, accountID, uploadID, err)
	}
	defer r.Close()
	tmp, err := os.CreateTemp(s.cfg.TempDir, "erasure-upload-*")
	if err != nil {
		return nil, fmt.Errorf("open upload: %w", err)
	}
	_, err = io.Copy(tmp, r)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp.Name())
		return nil, fmt.Errorf("copy upload: %w", err)
	}
	tf, err := tabular.OpenFile(tmp.Name(), tabular.Options{Filename: u.Filename, TempDir: s.cfg.TempDir})
	if err != nil {
		os.Remove(tmp.Name())
		return nil, fileError(err)
	}
	return &openedFile{File: tf, upload: u, path: tmp.Name()}, nil
}

// fileError turns a problem with the file's content into an Invalid error.
func fileError(err error) error {
	var fe *tabular.FileError
	if errors.As(err, &fe) {
		return &Error{Kind: Invalid, Reason: "FILE_UNREADABLE", Msg: fe.Error()}
	}
	return err
}

// sheet is an open sheet with its header settled.
type sheet struct {
	rows      tabular.Rows
	name      string
	hasHeader bool
	// declared is set when the caller said the first row holds column
	// names (job.HeaderPresent), rather than the service deciding it.
	declared bool
	// header holds the first row's cells when hasHeader is set.
	header []string
	// first is a data row already read while deciding about the header.
	first *tabular.Row
}

// openSheet opens a sheet and reads its first row. In job.HeaderAuto mode,
// isHeader decides whether that row holds column names.
func (f *openedFile) openSheet(opts FileOptions, isHeader func(first []string) bool) (*sheet, error) {
	rows, err := f.Rows(opts.Sheet)
	if err != nil {
		return nil, fileError(err)
	}
	sh := &sheet{rows: rows, name: opts.Sheet}
	if sh.name == "" && f.Format() == tabular.XLSX {
		if names := f.Sheets(); len(names) > 0 {
			sh.name = names[0]
		}
	}
	row, err := rows.Next()
	if errors.Is(err, io.EOF) {
		rows.Close()
		return nil, invalidf("the sheet has no rows: put one identifier per row, under a header such as Email").because("SHEET_EMPTY")
	}
	if err != nil {
		rows.Close()
		return nil, fileError(err)
	}
	cells := append([]string(nil), row.Cells...)
	switch opts.Header {
	case job.HeaderPresent:
		sh.hasHeader, sh.declared = true, true
	case job.HeaderAbsent:
		sh.hasHeader = false
	default:
		sh.hasHeader = isHeader(cells)
	}
	if sh.hasHeader {
		sh.header = cells
	} else {
		sh.first = &tabular.Row{Number: row.Number, Cells: cells}
	}
	return sh, nil
}

// noIdentifiers is the header test when nothing says which column or type
// to expect (Inspect): the first row is a header unless one of its cells is
// a valid e-mail address or international phone number.
func noIdentifiers(cells []string) bool {
	for _, c := range cells {
		if looksLikeIdentifier(c) {
			return false
		}
	}
	return true
}

func looksLikeIdentifier(cell string) bool {
	return identifier.Valid(identifier.Email, cell, "") || identifier.Valid(identifier.Phone, cell, "")
}

// headerTest is the header test for a deletion: a column chosen by name
// needs a header; otherwise the first row is data when its cell in the
// chosen column is a value of the chosen type. Any text is a valid CRM ID,
// so for CRM IDs the first row is taken as a header only when its cell holds
// no digit or names a kind of column ("CRM ID", "Customer").
func headerTest(src FileSource, m matcher) func([]string) bool {
	return func(first []string) bool {
		if src.ColumnName != "" {
			return true
		}
		col := max(src.ColumnNumber-1, 0)
		if col >= len(first) {
			return true
		}
		cell := first[col]
		if m.crm {
			return !strings.ContainsAny(cell, "0123456789") || namedAny(cell)
		}
		_, err := m.norm.Normalize(cell)
		return err != nil
	}
}

// next returns the next data row.
func (sh *sheet) next() (tabular.Row, error) {
	if sh.first != nil {
		r := *sh.first
		sh.first = nil
		return r, nil
	}
	r, err := sh.rows.Next()
	if err != nil && !errors.Is(err, io.EOF) {
		return r, fileError(err)
	}
	return r, err
}

func (sh *sheet) close() { sh.rows.Close() }

// column resolves the source's column to a 0-based index and the label
// shown in reports.
func (sh *sheet) column(src FileSource) (int, string, error) {
	width := len(sh.header)
	if sh.first != nil {
		width = len(sh.first.Cells)
	}
	switch {
	case src.ColumnName != "" && src.ColumnNumber != 0:
		return 0, "", invalidf("give the column by name or by number, not both").because("COLUMN_AMBIGUOUS").at("source.column_number")
	case src.ColumnNumber < 0:
		return 0, "", invalidf("column number %d is not valid: columns are numbered from 1 (column A)", src.ColumnNumber).because("INVALID_COLUMN_NUMBER").at("source.column_number")
	case src.ColumnNumber > 0:
		if src.ColumnNumber > width {
			return 0, "", invalidf("column %d does not exist: the first row has %d columns (%s)", src.ColumnNumber, width, sh.describeColumns()).because("COLUMN_NOT_FOUND", "column_number", strconv.Itoa(src.ColumnNumber), "columns", strconv.Itoa(width)).at("source.column_number")
		}
		return src.ColumnNumber - 1, sh.label(src.ColumnNumber - 1), nil
	case src.ColumnName != "":
		if !sh.hasHeader {
			return 0, "", invalidf("the first row holds data, not column names, so choose the column by number (1 is column A), or say the file has a header row").because("HEADER_ABSENT").at("source.column_name")
		}
		if i := findColumn(sh.header, src.ColumnName); i >= 0 {
			return i, sh.label(i), nil
		}
		return 0, "", invalidf("column %q not found; the file has: %s", clip(src.ColumnName), sh.describeColumns()).because("COLUMN_NOT_FOUND", "column_name", clip(src.ColumnName)).at("source.column_name")
	case width == 1:
		return 0, sh.label(0), nil
	default:
		return 0, "", invalidf("choose the column that holds the identifiers; the file has: %s", sh.describeColumns()).because("COLUMN_REQUIRED").at("source.column_name")
	}
}

// findColumn matches a header exactly, else ignoring case and surrounding
// spaces when exactly one header matches that way.
func findColumn(header []string, name string) int {
	for i, h := range header {
		if h == name {
			return i
		}
	}
	found := -1
	for i, h := range header {
		if strings.EqualFold(strings.TrimSpace(h), strings.TrimSpace(name)) {
			if found >= 0 {
				return -1
			}
			found = i
		}
	}
	return found
}

// label names column i (0-based) in reports and messages: its header, or
// its letter when it has none or when the "header" is itself an identifier
// (a headerless file read as having a header), which must not be stored or
// shown as a column name.
func (sh *sheet) label(i int) string {
	if sh.hasHeader && i < len(sh.header) && strings.TrimSpace(sh.header[i]) != "" && !looksLikeIdentifier(sh.header[i]) {
		return sh.header[i]
	}
	return "column " + columnLetter(i+1)
}

func (sh *sheet) describeColumns() string {
	width := len(sh.header)
	if !sh.hasHeader && sh.first != nil {
		width = len(sh.first.Cells)
	}
	quote := sh.namesQuotable()
	var parts []string
	for i := 0; i < width && i < 30; i++ {
		if l := sh.label(i); quote && !strings.HasPrefix(l, "column ") {
			parts = append(parts, fmt.Sprintf("%d %q", i+1, clip(l)))
		} else {
			parts = append(parts, fmt.Sprintf("%d (%s)", i+1, columnLetter(i+1)))
		}
	}
	if width > 30 {
		parts = append(parts, fmt.Sprintf("and %d more", width-30))
	}
	return strings.Join(parts, ", ")
}

// namesQuotable says whether messages may quote the header's cells. A row
// the caller did not declare a header may be data (a headerless file whose
// column is chosen by name is read as having a header), and messages never
// quote data. So such a row is quoted only when no cell holds a digit or an
// @: a row of a file of identifiers has an e-mail address, a phone number
// or (nearly always) a CRM ID with a digit in it.
func (sh *sheet) namesQuotable() bool {
	if !sh.hasHeader {
		return false
	}
	if sh.declared {
		return true
	}
	for _, c := range sh.header {
		if strings.ContainsAny(c, "0123456789@") {
			return false
		}
	}
	return true
}

// columnLetter returns a spreadsheet column name: 1 is A, 27 is AA.
func columnLetter(n int) string {
	var b []byte
	for n > 0 {
		n--
		b = append([]byte{byte('A' + n%26)}, b...)
		n /= 26
	}
	return string(b)
}

// rowSource yields the identifier cell of each data row, with its row
// number and whether the row has the cell.
type rowSource interface {
	next() (row int64, value string, state cellState, err error)
	close()
}

// cellState says whether a row has its identifier cell.
type cellState uint8

const (
	cellPresent cellState = iota
	// cellMissing: the row is shorter than the column.
	cellMissing
	// cellUncomputed: the cell holds a formula whose result the file does
	// not have (tabular.Row.Uncomputed).
	cellUncomputed
)

// sheetColumn is one column of an open sheet.
type sheetColumn struct {
	sh  *sheet
	col int
}

func (s *sheetColumn) next() (int64, string, cellState, error) {
	r, err := s.sh.next()
	if err != nil {
		return 0, "", cellMissing, err
	}
	if slices.Contains(r.Uncomputed, s.col) {
		return r.Number, "", cellUncomputed, nil
	}
	if s.col >= len(r.Cells) {
		return r.Number, "", cellMissing, nil
	}
	return r.Number, r.Cells[s.col], cellPresent, nil
}

func (s *sheetColumn) close() { s.sh.close() }

type listSource struct {
	items []string
	i     int
}

func (s *listSource) next() (int64, string, cellState, error) {
	if s.i >= len(s.items) {
		return 0, "", cellMissing, io.EOF
	}
	s.i++
	return int64(s.i), s.items[s.i-1], cellPresent, nil
}

func (s *listSource) close() {}

// columnReader is the identifier column of an open upload. When it owns
// the file (openFileColumn), close releases the file too.
type columnReader struct {
	sheetColumn
	// label names the column in reports.
	label string
	// owned is the file closed with the column, if any.
	owned *openedFile
	// sheet is the sheet's name as asked for ("" the first).
	sheet string
}

// rowsAtMost returns an upper bound on the rows of the column's sheet in a
// file it owns, or 0 (see tabular.File.RowsAtMost).
func (c *columnReader) rowsAtMost() int64 {
	if c.owned == nil {
		return 0
	}
	return c.owned.RowsAtMost(c.sheet)
}

func (c *columnReader) close() {
	c.sheetColumn.close()
	if c.owned != nil {
		c.owned.Close()
	}
}

// openFileColumn copies the upload of src out of the store and opens its
// sheet and column, for matching with m. Closing the column closes the file.
func (s *Service) openFileColumn(ctx context.Context, accountID string, src FileSource, m matcher) (*columnReader, error) {
	f, err := s.openUpload(ctx, accountID, src.UploadID)
	if err != nil {
		return nil, err
	}
	c, err := f.openColumn(src, m)
	if err != nil {
		f.Close()
		return nil, err
	}
	c.owned = f
	return c, nil
}

// openColumn opens the sheet and column of src in f, from the sheet's top.
// A file can be read this way any number of times.
func (f *openedFile) openColumn(src FileSource, m matcher) (*columnReader, error) {
	sh, err := f.openSheet(src.Options, headerTest(src, m))
	if err != nil {
		return nil, err
	}
	col, label, err := sh.column(src)
	if err != nil {
		sh.close()
		return nil, err
	}
	return &columnReader{sheetColumn: sheetColumn{sh: sh, col: col}, label: label, sheet: src.Options.Sheet}, nil
}
