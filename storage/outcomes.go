package storage

import (
	"context"
	"errors"
	"fmt"

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

// outcomeDoc is a row outcome as stored in deletion_job_rows.
type outcomeDoc struct {
	// ID is the job id and the zero-padded row number, so the _id index
	// returns a job's rows in order and a retried batch rewrites the same
	// documents instead of adding new ones.
	ID             string   `bson:"_id"`
	AccountID      string   `bson:"account_id"`
	JobID          string   `bson:"job_id"`
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

func (d *outcomeDoc) outcome() job.RowOutcome {
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

// outcomeID is the document id of a job's row (of its outcome, and of its
// erasure record).
func outcomeID(jobID string, row int64) string {
	return fmt.Sprintf("%s:%012d", jobID, row)
}

// InsertOutcomes stores a batch of outcomes in one command. Outcomes already
// stored (a retried batch) are left as they are.
func (s *Store) InsertOutcomes(ctx context.Context, accountID, jobID string, outcomes []job.RowOutcome) error {
	docs := make([]outcomeDoc, len(outcomes))
	for i, o := range outcomes {
		docs[i] = outcomeDoc{
			ID:             outcomeID(jobID, o.Row),
			AccountID:      accountID,
			JobID:          jobID,
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
	if err := insertNew(ctx, s.outcomes, docs); err != nil {
		return fmt.Errorf("insert outcomes: %w", err)
	}
	return nil
}

// ListOutcomes returns up to limit of the job's outcomes after row afterRow,
// in row order, optionally only those with the given outcomes. throughRow,
// when positive, is the last row that can have one (Job.LastRow of an
// ended job); zero reads to the job's end.
//
// On MongoDB a query walks the _id index ("<job id>:<row>") from the row
// after afterRow and stops at the limit-th match: without a filter it reads
// limit documents; with one, every row up to the last it returns, as the
// outcome is not in the index (the first rows of a rare outcome late in a
// big job cost a walk through the job). An index on {job_id, outcome, row}
// would bound that too, at about a quarter more time per outcome insert
// (measured on the embedded engine), which every job would pay for a
// report summary read now and then.
//
// The embedded engine scans the whole collection for every query and sorts
// all that matches in memory: without an upper bound, every page of a
// 200,000-row job sorted all of its outcomes (447 MB of heap). With
// throughRow, the rows are read in windows of row numbers, each query
// matching at most one window, so what is sorted stays that small.
func (s *Store) ListOutcomes(ctx context.Context, accountID, jobID string, afterRow, throughRow int64, limit int, only []job.Outcome) ([]job.RowOutcome, error) {
	if throughRow <= 0 {
		return s.listOutcomes(ctx, accountID, jobID, afterRow, maxRow, limit, only)
	}
	// A filter leaves few rows per window: wider windows for it.
	window := int64(limit)
	if len(only) > 0 {
		window *= 16
	}
	var out []job.RowOutcome
	for from := afterRow; len(out) < limit && from < throughRow; from += window {
		to := min(from+window, throughRow)
		page, err := s.listOutcomes(ctx, accountID, jobID, from, to, limit-len(out), only)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
	}
	return out, nil
}

// maxRow is the highest row an outcome id can name (outcomeID's 12 digits).
const maxRow = 999_999_999_999

// listOutcomes returns up to limit outcomes of rows after afterRow up to
// throughRow.
func (s *Store) listOutcomes(ctx context.Context, accountID, jobID string, afterRow, throughRow int64, limit int, only []job.Outcome) ([]job.RowOutcome, error) {
	filter := bson.D{
		{"_id", bson.D{{"$gt", outcomeID(jobID, afterRow)}, {"$lte", outcomeID(jobID, throughRow)}}},
		{"account_id", accountID},
	}
	if len(only) > 0 {
		names := make(bson.A, len(only))
		for i, o := range only {
			names[i] = outcomeNames.name(o)
		}
		filter = append(filter, bson.E{"outcome", bson.D{{"$in", names}}})
	}
	cur, err := s.outcomes.Find(ctx, filter, options.Find().SetSort(bson.D{{"_id", 1}}).SetLimit(int64(limit)).SetBatchSize(int32(limit)))
	if err != nil {
		return nil, fmt.Errorf("list outcomes: %w", err)
	}
	var docs []outcomeDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("list outcomes: %w", err)
	}
	out := make([]job.RowOutcome, len(docs))
	for i := range docs {
		out[i] = docs[i].outcome()
	}
	return out, nil
}

// DeleteOutcomeRows deletes the outcomes of the given rows of a job.
func (s *Store) DeleteOutcomeRows(ctx context.Context, accountID, jobID string, rows []int64) error {
	if len(rows) == 0 {
		return nil
	}
	ids := make(bson.A, len(rows))
	for i, r := range rows {
		ids[i] = outcomeID(jobID, r)
	}
	if _, err := s.outcomes.DeleteMany(ctx, bson.D{{"_id", bson.D{{"$in", ids}}}, {"account_id", accountID}}); err != nil {
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
