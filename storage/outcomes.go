package storage

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Outcomes, as stored.
const (
	OutcomeDeleted   = "deleted"
	OutcomeNotFound  = "not_found"
	OutcomeInvalid   = "invalid"
	OutcomeDuplicate = "duplicate"
)

// Outcome is what happened to one row of a job. It holds the identifier as
// read, so it is personal data: it is deleted when the job's outcome
// retention ends.
type Outcome struct {
	// ID is the job id and the zero-padded row number, so the _id index
	// returns a job's rows in order and a retried batch rewrites the same
	// documents instead of adding new ones.
	ID             string `bson:"_id"`
	AccountID      string `bson:"account_id"`
	JobID          string `bson:"job_id"`
	Row            int64  `bson:"row"`
	Value          string `bson:"value"`
	Normalized     string `bson:"normalized,omitempty"`
	Outcome        string `bson:"outcome"`
	Reason         string `bson:"reason,omitempty"`
	DuplicateOfRow int64  `bson:"duplicate_of_row,omitempty"`
	ProfileID      string `bson:"profile_id,omitempty"`
	// Sections are the deleted profile's sections, kept so that a batch
	// redone after an interruption reports them as its first try did.
	Sections []string `bson:"sections,omitempty"`
	Hint     string   `bson:"hint,omitempty"`
	// KeyHash and ProfileHash are the audit hashes of a deleted row's
	// profile, kept so that a redone batch records the erasure as its
	// first try would have.
	KeyHash     []byte `bson:"key_hash,omitempty"`
	ProfileHash []byte `bson:"profile_hash,omitempty"`
}

// OutcomeID is the document id of a job's row.
func OutcomeID(jobID string, row int64) string {
	return fmt.Sprintf("%s:%012d", jobID, row)
}

// InsertOutcomes stores a batch of outcomes in one command. Outcomes already
// stored (a retried batch) are left as they are.
func (s *Store) InsertOutcomes(ctx context.Context, outcomes []Outcome) error {
	for i := range outcomes {
		if outcomes[i].ID == "" {
			outcomes[i].ID = OutcomeID(outcomes[i].JobID, outcomes[i].Row)
		}
	}
	if err := insertNew(ctx, s.outcomes, outcomes); err != nil {
		return fmt.Errorf("insert outcomes: %w", err)
	}
	return nil
}

// ListOutcomes returns up to limit of the job's outcomes after row afterRow,
// in row order, optionally only those with the given outcomes.
func (s *Store) ListOutcomes(ctx context.Context, accountID, jobID string, afterRow int64, limit int, only []string) ([]Outcome, error) {
	filter := bson.D{
		{"_id", bson.D{{"$gt", OutcomeID(jobID, afterRow)}, {"$lt", jobID + ";"}}},
		{"account_id", accountID},
	}
	if len(only) > 0 {
		filter = append(filter, bson.E{"outcome", bson.D{{"$in", only}}})
	}
	cur, err := s.outcomes.Find(ctx, filter, options.Find().SetSort(bson.D{{"_id", 1}}).SetLimit(int64(limit)).SetBatchSize(int32(limit)))
	if err != nil {
		return nil, fmt.Errorf("list outcomes: %w", err)
	}
	var out []Outcome
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("list outcomes: %w", err)
	}
	return out, nil
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
	var o Outcome
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
