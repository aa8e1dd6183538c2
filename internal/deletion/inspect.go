package deletion

import (
	"context"
	"errors"
	"io"
	"strings"

	"github.com/erasure-dev/erasure/internal/identifier"
	"github.com/erasure-dev/erasure/internal/tabular"
)

// Inspection describes an uploaded file for the mapping step.
type Inspection struct {
	Format      tabular.Format
	Sheets      []string
	Sheet       string
	Delimiter   rune
	Encoding    string
	HasHeader   bool
	Columns     []Column
	Suggestions []Suggestion
}

// Column describes one column of the sheet.
type Column struct {
	Number  int
	Letter  string
	Name    string
	Samples []string
}

// Suggestion is the column that best fits an identifier type.
type Suggestion struct {
	Type         identifier.Type
	ColumnNumber int
	ValidSamples int
	Samples      int
}

const (
	inspectRows    = 50
	samplesPerCell = 5
)

// Inspect reads the first rows of a complete upload.
func (s *Service) Inspect(ctx context.Context, accountID, uploadID string, opts FileOptions) (*Inspection, error) {
	f, err := s.openUpload(ctx, accountID, uploadID)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sh, err := f.openSheet(opts, noIdentifiers)
	if err != nil {
		return nil, err
	}
	defer sh.close()

	in := &Inspection{
		Format:    f.Format(),
		Sheets:    f.Sheets(),
		Sheet:     sh.name,
		Delimiter: f.Delimiter(),
		Encoding:  f.Encoding(),
		HasHeader: sh.hasHeader,
	}
	// Every value read, per column, to score the suggestions.
	var values [][]string
	grow := func(n int) {
		for len(in.Columns) < n {
			i := len(in.Columns)
			c := Column{Number: i + 1, Letter: columnLetter(i + 1)}
			if sh.hasHeader && i < len(sh.header) {
				c.Name = sh.header[i]
			}
			in.Columns = append(in.Columns, c)
			values = append(values, nil)
		}
	}
	grow(len(sh.header))
	for n := 0; n < inspectRows; n++ {
		r, err := sh.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		grow(len(r.Cells))
		for i, cell := range r.Cells {
			if strings.TrimSpace(cell) == "" {
				continue
			}
			values[i] = append(values[i], cell)
			if len(in.Columns[i].Samples) < samplesPerCell {
				in.Columns[i].Samples = append(in.Columns[i].Samples, cell)
			}
		}
	}
	in.Suggestions = suggest(in.Columns, values)
	return in, nil
}

// headerHints are words in column names that point to an identifier type
// when the values alone do not (phone numbers without a country code).
var headerHints = map[identifier.Type][]string{
	identifier.Email: {"email", "e-mail", "mail"},
	identifier.Phone: {"phone", "mobile", "tel", "cell", "sms", "msisdn"},
	identifier.CRMID: {"crm", "customer id", "customer_id", "external id", "external_id", "contact id"},
}

// suggest picks, per identifier type, the column with the most valid values;
// a header naming the type breaks ties and suggests a column on its own.
func suggest(cols []Column, values [][]string) []Suggestion {
	var out []Suggestion
	for _, t := range []identifier.Type{identifier.Email, identifier.Phone, identifier.CRMID} {
		best, bestScore := -1, 0
		var bestValid int
		for i, c := range cols {
			valid := 0
			if t != identifier.CRMID { // any text is a valid CRM ID: values say nothing
				for _, v := range values[i] {
					if identifier.Valid(t, v, "") {
						valid++
					}
				}
			}
			score := valid * 2
			if named(c.Name, t) {
				score++
			}
			if score > bestScore {
				best, bestScore, bestValid = i, score, valid
			}
		}
		if best >= 0 {
			out = append(out, Suggestion{Type: t, ColumnNumber: best + 1, ValidSamples: bestValid, Samples: len(values[best])})
		}
	}
	return out
}

// namedAny reports whether a cell names any kind of identifier column.
func namedAny(cell string) bool {
	return named(cell, identifier.Email) || named(cell, identifier.Phone) || named(cell, identifier.CRMID) ||
		strings.Contains(strings.ToLower(cell), "id")
}

func named(name string, t identifier.Type) bool {
	n := strings.ToLower(strings.TrimSpace(name))
	for _, h := range headerHints[t] {
		if strings.Contains(n, h) {
			return true
		}
	}
	return false
}
