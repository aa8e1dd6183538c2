package deletion

import (
	"bufio"
	"context"
	"io"
	"slices"
	"time"

	"github.com/erasure-dev/erasure/internal/profile"
	"github.com/erasure-dev/erasure/internal/segment"
)

// ExportColumn is an identifier column of a segment export.
type ExportColumn int8

// The export columns, named in the file's header as the delete import's
// column suggestions expect.
const (
	// ExportEmail: the profile's e-mail attribute ("Email").
	ExportEmail ExportColumn = iota + 1
	// ExportPhone: the profile's phone attribute ("Phone").
	ExportPhone
	// ExportCRMID: the profile's CRM ID attribute ("CRM ID").
	ExportCRMID
	// ExportKey: the profile's Unique Identifier, as two columns: its type
	// ("Key type": email, phone or crm_id) and its value ("Key").
	ExportKey
)

// header returns the column's header cells.
func (c ExportColumn) header() []string {
	switch c {
	case ExportEmail:
		return []string{"Email"}
	case ExportPhone:
		return []string{"Phone"}
	case ExportCRMID:
		return []string{"CRM ID"}
	}
	return []string{"Key type", "Key"}
}

// cells returns the column's cells for one profile.
func (c ExportColumn) cells(p *profile.Profile) []string {
	switch c {
	case ExportEmail:
		return []string{p.Email}
	case ExportPhone:
		return []string{p.Phone}
	case ExportCRMID:
		return []string{p.CRMID}
	}
	return []string{p.Key.Type.String(), p.Key.Value}
}

// ExportSegment writes the profiles seg matches at now to w as CSV, in id
// order: a byte order mark, a header row, then one row per profile with the
// columns asked for (in that order, each once). Cells a spreadsheet would
// run as a formula are neutralised with an apostrophe, which the delete
// import drops again, so the file works unchanged as a delete import. It
// returns how many profiles it wrote; an error leaves w with part of the
// file.
func (s *Service) ExportSegment(ctx context.Context, c Caller, seg segment.Segment, now time.Time, cols []ExportColumn, w io.Writer) (int64, error) {
	var uniq []ExportColumn
	for _, col := range cols {
		if col < ExportEmail || col > ExportKey {
			return 0, invalidf("columns holds an unknown column; choose from e-mail, phone, CRM ID and key").because("INVALID_REQUEST").at("columns")
		}
		if !slices.Contains(uniq, col) {
			uniq = append(uniq, col)
		}
	}
	if len(uniq) == 0 {
		return 0, invalidf("columns is empty: choose the identifier columns to export (e-mail, phone, CRM ID, key)").because("COLUMNS_REQUIRED").at("columns")
	}
	e, err := s.newSegmentEval(ctx, c, seg, now)
	if err != nil {
		return 0, err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteString(utf8BOM)
	var rec []string
	for _, col := range uniq {
		rec = append(rec, col.header()...)
	}
	writeRecord(bw, rec)
	var n int64
	err = s.eachProfile(ctx, c.AccountID, "", e, func(p *profile.Profile, t segment.Truth) bool {
		if t != segment.Yes {
			return true
		}
		rec = rec[:0]
		for _, col := range uniq {
			for _, cell := range col.cells(p) {
				rec = append(rec, neutralise(cell))
			}
		}
		writeRecord(bw, rec)
		n++
		// A failed write ends the scan; Flush reports it.
		return bw.Buffered() < 48<<10 || bw.Flush() == nil
	})
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	return n, err
}
