package storage

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Audit actions, as stored.
const (
	AuditJobStarted       = "job_started"
	AuditCancelRequested  = "job_cancel_requested"
	AuditJobFinished      = "job_finished"
	auditEventsCollection = "audit_events"
	erasuresCollection    = "audit_erasures"
)

// Actor is who asked for something: the subject, kind and role of the token.
type Actor struct {
	Subject string `bson:"subject"`
	Kind    string `bson:"kind"`
	Role    string `bson:"role"`
}

// AuditEvent is one entry of an account's audit trail. It holds no
// identifier of a person: identifiers are recorded only as keyed hashes, in
// Erasure records.
type AuditEvent struct {
	// ID is the job id and the action, so that an event written again by a
	// retried or resumed step is stored once.
	ID        string    `bson:"_id"`
	AccountID string    `bson:"account_id"`
	At        time.Time `bson:"at"`
	// Seq orders the trail: the time of recording in nanoseconds, so two
	// events of the same millisecond (a short job's start and finish) keep
	// their order.
	Seq            int64  `bson:"seq"`
	Action         string `bson:"action"`
	Actor          Actor  `bson:"actor"`
	JobID          string `bson:"job_id"`
	JobKind        string `bson:"job_kind"`
	IdentifierType string `bson:"identifier_type,omitempty"`
	// State and Counts are the job's when the event was recorded.
	State  string `bson:"state"`
	Counts Counts `bson:"counts"`
}

// AuditCursor is the position after the last event of a page.
type AuditCursor struct {
	Seq int64
	ID  string
}

// Erasure records that a job deleted the profile a row matched. The
// identifier and the profile id are kept only as keyed hashes (HMAC-SHA256
// with a secret of the account), so the record proves an erasure to whoever
// can present the identifier, and tells nothing to anyone else.
type Erasure struct {
	// ID is the row's outcome id (job and row), so a redone batch records
	// each row once.
	ID          string    `bson:"_id"`
	AccountID   string    `bson:"account_id"`
	JobID       string    `bson:"job_id"`
	JobKind     string    `bson:"job_kind"`
	Row         int64     `bson:"row"`
	At          time.Time `bson:"at"`
	KeyHash     []byte    `bson:"key_hash"`
	ProfileHash []byte    `bson:"profile_hash"`
}

// RecordAudit stores an event. With replace false an event with the same id
// already stored (a retried step) is left as it is: the first record wins.
// With replace true the last one does (a job's finish, whose last writer is
// the worker that finished it).
func (s *Store) RecordAudit(ctx context.Context, e *AuditEvent, replace bool) error {
	t := time.Now()
	e.At, e.Seq = t.UTC().Truncate(time.Millisecond), t.UnixNano()
	var err error
	if replace {
		_, err = s.auditEvents.ReplaceOne(ctx, bson.D{{"_id", e.ID}, {"account_id", e.AccountID}}, e, options.Replace().SetUpsert(true))
	} else if _, err = s.auditEvents.InsertOne(ctx, e); mongo.IsDuplicateKeyError(err) {
		err = nil
	}
	if err != nil {
		return fmt.Errorf("record audit event: %w", err)
	}
	return nil
}

// ListAudit returns up to limit of the account's events, newest first,
// after the cursor (from the newest when nil), optionally only one job's.
func (s *Store) ListAudit(ctx context.Context, accountID, jobID string, limit int, after *AuditCursor) ([]AuditEvent, error) {
	filter := bson.D{{"account_id", accountID}}
	if jobID != "" {
		filter = append(filter, bson.E{"job_id", jobID})
	}
	if after != nil {
		filter = append(filter, bson.E{"$or", bson.A{
			bson.D{{"seq", bson.D{{"$lt", after.Seq}}}},
			bson.D{{"seq", after.Seq}, {"_id", bson.D{{"$lt", after.ID}}}},
		}})
	}
	cur, err := s.auditEvents.Find(ctx, filter, options.Find().
		SetSort(bson.D{{"seq", -1}, {"_id", -1}}).
		SetLimit(int64(limit)))
	if err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	var events []AuditEvent
	if err := cur.All(ctx, &events); err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	return events, nil
}

// RecordErasures stores erasure records in one command; records already
// stored (a redone batch) are left as they are.
func (s *Store) RecordErasures(ctx context.Context, records []Erasure) error {
	if err := insertNew(ctx, s.erasures, records); err != nil {
		return fmt.Errorf("record erasures: %w", err)
	}
	return nil
}

// FindErasures returns the account's erasure records whose identifier hash
// (byProfile false) or profile-id hash (byProfile true) is hash, oldest
// first.
func (s *Store) FindErasures(ctx context.Context, accountID string, hash []byte, byProfile bool) ([]Erasure, error) {
	field := "key_hash"
	if byProfile {
		field = "profile_hash"
	}
	cur, err := s.erasures.Find(ctx, bson.D{{"account_id", accountID}, {field, hash}},
		options.Find().SetSort(bson.D{{"at", 1}, {"_id", 1}}).SetLimit(1000))
	if err != nil {
		return nil, fmt.Errorf("find erasures: %w", err)
	}
	var out []Erasure
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("find erasures: %w", err)
	}
	return out, nil
}

// CountErasures returns how many erasure records a job of the account has.
func (s *Store) CountErasures(ctx context.Context, accountID, jobID string) (int64, error) {
	// Record ids start with the job id, so the _id index finds them.
	n, err := s.erasures.CountDocuments(ctx, bson.D{{"_id", bson.D{{"$gt", jobID + ":"}, {"$lt", jobID + ";"}}}, {"account_id", accountID}})
	if err != nil {
		return 0, fmt.Errorf("count erasures: %w", err)
	}
	return n, nil
}
