package storage

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/erasure-dev/erasure/internal/job"
)

const (
	auditEventsCollection    = "audit_events"
	erasuresCollection       = "audit_erasures"
	unsubscriptionCollection = "audit_unsubscriptions"
)

var auditActions = enumNames[job.AuditAction]{
	job.Started: "job_started", job.CancelRequested: "job_cancel_requested", job.Finished: "job_finished",
}

// auditEventDoc is an audit event as stored in audit_events.
type auditEventDoc struct {
	ID             string    `bson:"_id"`
	AccountID      string    `bson:"account_id"`
	At             time.Time `bson:"at"`
	Seq            int64     `bson:"seq"`
	Action         string    `bson:"action"`
	Actor          actorDoc  `bson:"actor"`
	JobID          string    `bson:"job_id"`
	JobKind        string    `bson:"job_kind"`
	JobAction      string    `bson:"job_action,omitempty"`
	IdentifierType string    `bson:"identifier_type,omitempty"`
	State          string    `bson:"state"`
	Counts         countsDoc `bson:"counts"`
}

// AuditCursor is the position after the last event of a page.
type AuditCursor struct {
	Seq int64
	ID  string
}

// erasureDoc is an erasure record as stored in audit_erasures.
type erasureDoc struct {
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
	// Consents are the consents an unsubscription opted out (not set for
	// an erasure).
	Consents []consentRefDoc `bson:"consents,omitempty"`
}

// RecordAudit stores an event. With replace false an event with the same id
// already stored (a retried step) is left as it is: the first record wins.
// With replace true the last one does (a job's finish, whose last writer is
// the worker that finished it).
func (s *Store) RecordAudit(ctx context.Context, e *job.AuditEvent, replace bool) error {
	t := time.Now()
	e.At, e.Seq = t.UTC().Truncate(time.Millisecond), t.UnixNano()
	d := auditEventDoc{
		ID:             e.ID,
		AccountID:      e.AccountID,
		At:             e.At,
		Seq:            e.Seq,
		Action:         auditActions.name(e.Action),
		Actor:          actorDoc(e.Actor),
		JobID:          e.JobID,
		JobKind:        kindNames.name(e.JobKind),
		JobAction:      actionNames.name(e.JobAction),
		IdentifierType: keyTypes.name(e.IdentifierType),
		State:          stateNames.name(e.State),
		Counts:         countsDoc(e.Counts),
	}
	var err error
	if replace {
		_, err = s.auditEvents.ReplaceOne(ctx, bson.D{{"_id", d.ID}, {"account_id", d.AccountID}}, d, options.Replace().SetUpsert(true))
	} else if _, err = s.auditEvents.InsertOne(ctx, d); mongo.IsDuplicateKeyError(err) {
		err = nil
	}
	if err != nil {
		return fmt.Errorf("record audit event: %w", err)
	}
	return nil
}

// ListAudit returns up to limit of the account's events, newest first,
// after the cursor (from the newest when nil), optionally only one job's.
func (s *Store) ListAudit(ctx context.Context, accountID, jobID string, limit int, after *AuditCursor) ([]job.AuditEvent, error) {
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
	var docs []auditEventDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	events := make([]job.AuditEvent, len(docs))
	for i, d := range docs {
		events[i] = job.AuditEvent{
			ID:             d.ID,
			AccountID:      d.AccountID,
			At:             d.At,
			Seq:            d.Seq,
			Action:         auditActions.value(d.Action),
			Actor:          job.Actor(d.Actor),
			JobID:          d.JobID,
			JobKind:        kindNames.value(d.JobKind),
			JobAction:      actionOf(d.JobAction),
			IdentifierType: keyTypes.value(d.IdentifierType),
			State:          stateNames.value(d.State),
			Counts:         job.Counts(d.Counts),
		}
	}
	return events, nil
}

// RecordErasures stores erasure records in one command; records already
// stored (a redone batch) are left as they are.
func (s *Store) RecordErasures(ctx context.Context, accountID string, records []job.Erasure) error {
	docs := make([]erasureDoc, len(records))
	for i, e := range records {
		docs[i] = erasureDocOf(accountID, e)
	}
	if err := insertNew(ctx, s.erasures, docs); err != nil {
		return fmt.Errorf("record erasures: %w", err)
	}
	return nil
}

// FindErasures returns the account's erasure records whose identifier hash
// (byProfile false) or profile-id hash (byProfile true) is hash, oldest
// first.
func (s *Store) FindErasures(ctx context.Context, accountID string, hash []byte, byProfile bool) ([]job.Erasure, error) {
	field := "key_hash"
	if byProfile {
		field = "profile_hash"
	}
	cur, err := s.erasures.Find(ctx, bson.D{{"account_id", accountID}, {field, hash}},
		options.Find().SetSort(bson.D{{"at", 1}, {"_id", 1}}).SetLimit(1000))
	if err != nil {
		return nil, fmt.Errorf("find erasures: %w", err)
	}
	var docs []erasureDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("find erasures: %w", err)
	}
	out := make([]job.Erasure, len(docs))
	for i, d := range docs {
		out[i] = job.Erasure{JobID: d.JobID, JobKind: kindNames.value(d.JobKind), Row: d.Row, At: d.At, KeyHash: d.KeyHash, ProfileHash: d.ProfileHash}
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

// RecordUnsubscriptions stores the records of a batch's unsubscribed rows
// (audit_unsubscriptions, shaped like erasure records) in one command;
// records already stored (a redone batch) are left as they are.
func (s *Store) RecordUnsubscriptions(ctx context.Context, accountID string, records []job.Unsubscription) error {
	docs := make([]erasureDoc, len(records))
	for i, u := range records {
		docs[i] = erasureDocOf(accountID, u.Erasure)
		docs[i].Consents = toConsentRefDocs(u.Consents)
	}
	if err := insertNew(ctx, s.unsubscriptions, docs); err != nil {
		return fmt.Errorf("record unsubscriptions: %w", err)
	}
	return nil
}

// CountUnsubscriptions returns how many unsubscription records a job of the
// account has.
func (s *Store) CountUnsubscriptions(ctx context.Context, accountID, jobID string) (int64, error) {
	n, err := s.unsubscriptions.CountDocuments(ctx, bson.D{{"_id", bson.D{{"$gt", jobID + ":"}, {"$lt", jobID + ";"}}}, {"account_id", accountID}})
	if err != nil {
		return 0, fmt.Errorf("count unsubscriptions: %w", err)
	}
	return n, nil
}

// LastErasures returns, for each of the hashes that the account's erasure
// records hold (of identifiers, or of profile ids when byProfile), the most
// recent erasure, keyed by the hash as a string. One query on the hash
// index for a batch of rows.
func (s *Store) LastErasures(ctx context.Context, accountID string, hashes [][]byte, byProfile bool) (map[string]job.Erasure, error) {
	if len(hashes) == 0 {
		return nil, nil
	}
	field := "key_hash"
	if byProfile {
		field = "profile_hash"
	}
	in := make(bson.A, len(hashes))
	for i, h := range hashes {
		in[i] = h
	}
	cur, err := s.erasures.Find(ctx, bson.D{{"account_id", accountID}, {field, bson.D{{"$in", in}}}},
		options.Find().SetProjection(bson.D{{"job_id", 1}, {"job_kind", 1}, {"row", 1}, {"at", 1}, {"key_hash", 1}, {"profile_hash", 1}}))
	if err != nil {
		return nil, fmt.Errorf("find erasures: %w", err)
	}
	var docs []erasureDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("find erasures: %w", err)
	}
	out := make(map[string]job.Erasure, len(docs))
	for _, d := range docs {
		h := d.KeyHash
		if byProfile {
			h = d.ProfileHash
		}
		if prev, ok := out[string(h)]; ok && !d.At.After(prev.At) {
			continue
		}
		out[string(h)] = job.Erasure{JobID: d.JobID, JobKind: kindNames.value(d.JobKind), Row: d.Row, At: d.At, KeyHash: d.KeyHash, ProfileHash: d.ProfileHash}
	}
	return out, nil
}

// erasureDocOf is the stored form of a row's record, kept under the row's
// outcome id so that a redone batch records each row once.
func erasureDocOf(accountID string, e job.Erasure) erasureDoc {
	return erasureDoc{
		ID:          outcomeID(e.JobID, e.Row),
		AccountID:   accountID,
		JobID:       e.JobID,
		JobKind:     kindNames.name(e.JobKind),
		Row:         e.Row,
		At:          e.At,
		KeyHash:     e.KeyHash,
		ProfileHash: e.ProfileHash,
	}
}
