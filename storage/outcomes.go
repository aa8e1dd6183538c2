package storage

import (
	"bytes"
	"cmp"
	"compress/flate"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/erasure-dev/erasure/internal/job"
	"github.com/erasure-dev/erasure/internal/profile"
)

var outcomeNames = enumNames[job.Outcome]{
	job.Deleted: "deleted", job.NotFound: "not_found", job.Invalid: "invalid", job.Duplicate: "duplicate",
	job.Unsubscribed: "unsubscribed", job.AlreadyUnsubscribed: "already_unsubscribed", job.NoLongerMatches: "no_longer_matches",
}

// The outcomes of a job's rows are stored in pages: one document of
// deletion_job_rows holds the outcomes of up to pageRows consecutive rows
// of one job (fewer when their values are long, see pageBytes), its rows
// compressed. A batch of 2,000 rows is two inserts of about 100 KB instead
// of 2,000 documents and as many index entries, and a report reads a page
// for a thousand rows. The rows are read only through this service (the
// Delete Report), never queried one by one in the store.
const (
	pageRows  = 1000
	pageBytes = 4 << 20 // of BSON before compression; a document may hold 16 MiB
)

// outcomeDoc is a page of a job's row outcomes, as stored in
// deletion_job_rows.
type outcomeDoc struct {
	// ID is the job id and the page's last row, zero-padded, so that the
	// _id index returns a job's pages in row order, the pages holding rows
	// after row N are those with an id above "<job id>:N", and a retried
	// insert rewrites the same documents instead of adding new ones.
	ID        string `bson:"_id"`
	AccountID string `bson:"account_id"`
	JobID     string `bson:"job_id"`
	// Row is the page's last row and FirstRow its first.
	Row      int64 `bson:"row"`
	FirstRow int64 `bson:"first_row"`
	// Outcome lists the outcomes the page's rows have, so that a query for
	// some outcomes skips the pages without them.
	Outcome []string `bson:"outcome"`
	// Rows is the BSON document {rows: [rowDoc, …]} compressed with
	// DEFLATE.
	Rows []byte `bson:"rows"`
}

// rowDoc is a row outcome inside a page. Before pages (session 6) each row
// was a document of its own, with these fields and the page's _id,
// account_id and job_id; such documents are still read, as pages of one
// row, until their job's outcomes are purged.
type rowDoc struct {
	Row            int64    `bson:"row"`
	Value          string   `bson:"value"`
	Normalized     string   `bson:"normalized,omitempty"`
	Outcome        string   `bson:"outcome"`
	Reason         string   `bson:"reason,omitempty"`
	DuplicateOfRow int64    `bson:"duplicate_of_row,omitempty"`
	ProfileID      string   `bson:"profile_id,omitempty"`
	Sections       []string `bson:"sections,omitempty"`
	Hint           string   `bson:"hint,omitempty"`
	KeyHash        []byte   `bson:"key_hash,omitempty"`
	ProfileHash    []byte   `bson:"profile_hash,omitempty"`
	// Consents are the consents an unsubscribed row opted out.
	Consents []consentRefDoc `bson:"consents,omitempty"`
}

type consentRefDoc struct {
	SectionID string `bson:"section_id"`
	Channel   string `bson:"channel"`
	Topic     string `bson:"topic"`
}

func toConsentRefDocs(refs []profile.ConsentRef) []consentRefDoc {
	return convertAll(refs, func(r profile.ConsentRef) consentRefDoc { return consentRefDoc(r) })
}

func fromConsentRefDocs(docs []consentRefDoc) []profile.ConsentRef {
	return convertAll(docs, func(d consentRefDoc) profile.ConsentRef { return profile.ConsentRef(d) })
}

func rowDocOf(o job.RowOutcome) rowDoc {
	return rowDoc{
		Row:            o.Row,
		Value:          o.Value,
		Normalized:     o.Normalized,
		Outcome:        outcomeNames.name(o.Outcome),
		Reason:         o.Reason,
		DuplicateOfRow: o.DuplicateOfRow,
		ProfileID:      o.ProfileID,
		Sections:       o.Sections,
		Hint:           o.Hint,
		KeyHash:        o.KeyHash,
		ProfileHash:    o.ProfileHash,
		Consents:       toConsentRefDocs(o.Consents),
	}
}

func (d *rowDoc) outcome() job.RowOutcome {
	return job.RowOutcome{
		Row:            d.Row,
		Value:          d.Value,
		Normalized:     d.Normalized,
		Outcome:        outcomeNames.value(d.Outcome),
		Reason:         d.Reason,
		DuplicateOfRow: d.DuplicateOfRow,
		ProfileID:      d.ProfileID,
		Sections:       d.Sections,
		Hint:           d.Hint,
		KeyHash:        d.KeyHash,
		ProfileHash:    d.ProfileHash,
		Consents:       fromConsentRefDocs(d.Consents),
	}
}

// outcomeID is the document id of a job's row (of the page that ends with
// it, and of its erasure record).
func outcomeID(jobID string, row int64) string {
	return fmt.Sprintf("%s:%012d", jobID, row)
}

// InsertOutcomes stores the outcomes of consecutive rows of a job that no
// stored page holds (a redone batch passes the rows it found no stored
// outcome for), in one command. The same rows stored again (a retried
// call) make the same pages, which are left as they are.
func (s *Store) InsertOutcomes(ctx context.Context, accountID, jobID string, outcomes []job.RowOutcome) error {
	byRow := func(a, b job.RowOutcome) int { return cmp.Compare(a.Row, b.Row) }
	if !slices.IsSortedFunc(outcomes, byRow) {
		outcomes = slices.Clone(outcomes)
		slices.SortFunc(outcomes, byRow)
	}
	var pages []outcomeDoc
	for len(outcomes) > 0 {
		n := pageLen(len(outcomes), func(i int) int { return rowSize(&outcomes[i]) })
		page, err := pageOf(accountID, jobID, outcomes[:n])
		if err != nil {
			return fmt.Errorf("insert outcomes: %w", err)
		}
		pages = append(pages, page)
		outcomes = outcomes[n:]
	}
	if err := insertNew(ctx, s.outcomes, pages); err != nil {
		return fmt.Errorf("insert outcomes: %w", err)
	}
	return nil
}

// pageLen returns how many of the next rows go in one page: up to
// pageRows, and no more once their sizes (as size estimates them) reach
// pageBytes.
func pageLen(rows int, size func(i int) int) int {
	n, total := 0, 0
	for n < rows && n < pageRows && (n == 0 || total < pageBytes) {
		total += size(n)
		n++
	}
	return n
}

// rowSize is about the size of a row outcome in BSON, field names included.
func rowSize(o *job.RowOutcome) int {
	n := 160 + len(o.Value) + len(o.Normalized) + len(o.Reason) + len(o.ProfileID) + len(o.Hint) + len(o.KeyHash) + len(o.ProfileHash)
	for _, sec := range o.Sections {
		n += 8 + len(sec)
	}
	for _, c := range o.Consents {
		n += 60 + len(c.SectionID) + len(c.Channel) + len(c.Topic)
	}
	return n
}

// deflaters are reused: each holds about a megabyte of tables.
var deflaters = sync.Pool{New: func() any {
	w, _ := flate.NewWriter(nil, flate.BestSpeed)
	return w
}}

func pageOf(accountID, jobID string, outcomes []job.RowOutcome) (outcomeDoc, error) {
	last := outcomes[len(outcomes)-1].Row
	d := outcomeDoc{ID: outcomeID(jobID, last), AccountID: accountID, JobID: jobID, Row: last, FirstRow: outcomes[0].Row}
	rows := make([]rowDoc, len(outcomes))
	for i, o := range outcomes {
		rows[i] = rowDocOf(o)
		if name := rows[i].Outcome; !slices.Contains(d.Outcome, name) {
			d.Outcome = append(d.Outcome, name)
		}
	}
	raw, err := bson.Marshal(struct {
		Rows []rowDoc `bson:"rows"`
	}{rows})
	if err != nil {
		return d, err
	}
	var b bytes.Buffer
	w := deflaters.Get().(*flate.Writer)
	defer deflaters.Put(w)
	w.Reset(&b)
	if _, err := w.Write(raw); err != nil {
		return d, err
	}
	if err := w.Close(); err != nil {
		return d, err
	}
	d.Rows = b.Bytes()
	return d, nil
}

// rowsOf returns the rows of a stored document of deletion_job_rows: a
// page, or a row document stored before pages.
func rowsOf(raw bson.Raw) ([]rowDoc, error) {
	_, packed, ok := raw.Lookup("rows").BinaryOK()
	if !ok {
		var d rowDoc
		if err := bson.Unmarshal(raw, &d); err != nil {
			return nil, err
		}
		return []rowDoc{d}, nil
	}
	data, err := io.ReadAll(flate.NewReader(bytes.NewReader(packed)))
	if err != nil {
		return nil, fmt.Errorf("page %s: %w", raw.Lookup("_id"), err)
	}
	var page struct {
		Rows []rowDoc `bson:"rows"`
	}
	if err := bson.Unmarshal(data, &page); err != nil {
		return nil, err
	}
	return page.Rows, nil
}

// ListOutcomes returns up to limit of the job's outcomes after row afterRow,
// in row order, optionally only those with the given outcomes. throughRow,
// when positive, is the last row that can have one (Job.LastRow of an
// ended job); zero reads to the job's end.
//
// On MongoDB a query walks the _id index ("<job id>:<last row>") from the
// page holding the row after afterRow; with an outcome filter it skips the
// pages without those outcomes.
//
// The embedded engine scans the whole collection for every query and sorts
// all that matches in memory. With throughRow, pages are read in windows of
// row numbers, each query matching the pages that end in one window, so
// what is sorted stays small however big the job.
func (s *Store) ListOutcomes(ctx context.Context, accountID, jobID string, afterRow, throughRow int64, limit int, only []job.Outcome) ([]job.RowOutcome, error) {
	l := outcomeList{seen: afterRow, limit: limit}
	for _, o := range only {
		l.only = append(l.only, outcomeNames.name(o))
	}
	if throughRow <= 0 {
		err := s.listOutcomes(ctx, accountID, jobID, afterRow, maxRow, &l)
		return l.out, err
	}
	// A filter leaves few rows per window: wider windows for it.
	window := int64(limit)
	if len(only) > 0 {
		window *= 16
	}
	window = max(window, pageRows)
	for from := afterRow; len(l.out) < limit && from < throughRow; from += window {
		if err := s.listOutcomes(ctx, accountID, jobID, from, min(from+window, throughRow), &l); err != nil {
			return nil, err
		}
	}
	return l.out, nil
}

// maxRow is the highest row an outcome id can name (outcomeID's 12 digits).
const maxRow = 999_999_999_999

// outcomeList collects the rows of the pages a listing reads.
type outcomeList struct {
	// seen is the last row looked at: a page read later that holds it
	// again (two workers that both stored a batch) is not listed twice.
	seen  int64
	limit int
	only  []string
	out   []job.RowOutcome
}

// add lists the rows of a page after the last row seen, and reports
// whether the list is full.
func (l *outcomeList) add(rows []rowDoc) bool {
	for i := range rows {
		d := &rows[i]
		if d.Row <= l.seen {
			continue
		}
		l.seen = d.Row
		if len(l.only) > 0 && !slices.Contains(l.only, d.Outcome) {
			continue
		}
		l.out = append(l.out, d.outcome())
		if len(l.out) == l.limit {
			return true
		}
	}
	return false
}

// listOutcomes adds to l the rows of the pages that end after afterRow and
// up to throughRow.
func (s *Store) listOutcomes(ctx context.Context, accountID, jobID string, afterRow, throughRow int64, l *outcomeList) error {
	filter := bson.D{
		{"_id", bson.D{{"$gt", outcomeID(jobID, afterRow)}, {"$lte", outcomeID(jobID, throughRow)}}},
		{"account_id", accountID},
	}
	if len(l.only) > 0 {
		filter = append(filter, bson.E{"outcome", bson.D{{"$in", l.only}}})
	}
	// A page holds at least one row: a few pages at a time, as the list
	// may be full after the first.
	cur, err := s.outcomes.Find(ctx, filter, options.Find().SetSort(bson.D{{"_id", 1}}).SetBatchSize(4))
	if err != nil {
		return fmt.Errorf("list outcomes: %w", err)
	}
	defer cur.Close(ctx)
	for cur.Next(ctx) {
		rows, err := rowsOf(cur.Current)
		if err != nil {
			return fmt.Errorf("list outcomes: %w", err)
		}
		if l.add(rows) {
			return nil
		}
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("list outcomes: %w", err)
	}
	return nil
}

// DeleteOutcomeRows deletes the outcomes of the given rows of a job, in
// row order: each page holding some of them is stored again without them,
// or deleted when nothing is left. A retry after a failure finds done what
// was done.
func (s *Store) DeleteOutcomeRows(ctx context.Context, accountID, jobID string, rows []int64) error {
	if len(rows) == 0 {
		return nil
	}
	drop := make(map[int64]bool, len(rows))
	for _, r := range rows {
		drop[r] = true
	}
	first := slices.Min(rows)
	cur, err := s.outcomes.Find(ctx, bson.D{
		{"_id", bson.D{{"$gt", outcomeID(jobID, first-1)}, {"$lt", jobID + ";"}}},
		{"account_id", accountID},
	}, options.Find().SetSort(bson.D{{"_id", 1}}))
	if err != nil {
		return fmt.Errorf("delete outcome rows: %w", err)
	}
	defer cur.Close(ctx)
	for cur.Next(ctx) {
		stored, err := rowsOf(cur.Current)
		if err != nil {
			return fmt.Errorf("delete outcome rows: %w", err)
		}
		var kept []job.RowOutcome
		for i := range stored {
			if !drop[stored[i].Row] {
				kept = append(kept, stored[i].outcome())
			}
		}
		if len(kept) == len(stored) {
			continue
		}
		id := cur.Current.Lookup("_id")
		if len(kept) == 0 {
			_, err = s.outcomes.DeleteOne(ctx, bson.D{{"_id", id}, {"account_id", accountID}})
		} else {
			var page outcomeDoc
			if page, err = pageOf(accountID, jobID, kept); err == nil {
				page.ID = id.StringValue() // keeps its place among the job's pages
				_, err = s.outcomes.ReplaceOne(ctx, bson.D{{"_id", id}, {"account_id", accountID}}, page)
			}
		}
		if err != nil {
			return fmt.Errorf("delete outcome rows: %w", err)
		}
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("delete outcome rows: %w", err)
	}
	return nil
}

// DeleteOutcomes deletes all of a job's outcomes.
func (s *Store) DeleteOutcomes(ctx context.Context, accountID, jobID string) error {
	_, err := s.outcomes.DeleteMany(ctx, bson.D{
		{"_id", bson.D{{"$gt", jobID + ":"}, {"$lt", jobID + ";"}}},
		{"account_id", accountID},
	})
	if err != nil {
		return fmt.Errorf("delete outcomes: %w", err)
	}
	return nil
}

// LastOutcomeRow returns the highest row of the job that has a stored
// outcome, or 0. A worker taking a job over redoes every batch up to it,
// whatever batch size the previous worker used.
func (s *Store) LastOutcomeRow(ctx context.Context, accountID, jobID string) (int64, error) {
	var o outcomeDoc
	err := s.outcomes.FindOne(ctx,
		bson.D{{"_id", bson.D{{"$gt", jobID + ":"}, {"$lt", jobID + ";"}}}, {"account_id", accountID}},
		options.FindOne().SetSort(bson.D{{"_id", -1}}).SetProjection(bson.D{{"row", 1}})).Decode(&o)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("last outcome row: %w", err)
	}
	return o.Row, nil
}
