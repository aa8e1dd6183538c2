package storage

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/erasure-dev/erasure/internal/job"
	"github.com/erasure-dev/erasure/internal/profile"
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

// erasureDoc is a page of erasure records as stored in audit_erasures (and
// of unsubscription records in audit_unsubscriptions): the records of up to
// pageRows rows of one batch of a job, made at one time. The i-th entry of
// Rows, KeyHash, ProfileHash (and Consents) is one row's record. On
// MongoDB the hash indexes are multikey, one entry per record, so a person
// is found by their hash among all pages; a batch writes one document per
// thousand records instead of one per record.
type erasureDoc struct {
	// ID is the job id, the page's last row and its first, zero-padded:
	// the same records stored again (a retried call) make the same page,
	// which is left as it is. A batch redone with other rows may record a
	// row again in another page; readers keep a row's first record.
	ID        string    `bson:"_id"`
	AccountID string    `bson:"account_id"`
	JobID     string    `bson:"job_id"`
	JobKind   string    `bson:"job_kind"`
	At        time.Time `bson:"at"`
	Rows      []int64   `bson:"rows"`
	// KeyHash is empty for a record without one (a profile deleted by id).
	KeyHash     [][]byte `bson:"key_hash"`
	ProfileHash [][]byte `bson:"profile_hash"`
	// Consents are the consents the unsubscriptions opted out, each with
	// its row (not set for erasures).
	Consents []rowConsentDoc `bson:"consents,omitempty"`
}

type rowConsentDoc struct {
	Row       int64  `bson:"row"`
	SectionID string `bson:"section_id"`
	Channel   string `bson:"channel"`
	Topic     string `bson:"topic"`
}

// legacyErasureDoc is an erasure record as stored before pages (session
// 6): a document per row, under the row's outcome id. Such records are
// still read.
type legacyErasureDoc struct {
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

// RecordErasures stores the erasure records of a batch's rows, all made at
// one time, in one command.
func (s *Store) RecordErasures(ctx context.Context, accountID string, records []job.Erasure) error {
	if err := insertNew(ctx, s.erasures, recordPages(accountID, records, nil)); err != nil {
		return fmt.Errorf("record erasures: %w", err)
	}
	return nil
}

// recordPages returns the pages of a batch's records (consents, when not
// nil, are each record's opted-out consents).
func recordPages(accountID string, records []job.Erasure, consents [][]profile.ConsentRef) []erasureDoc {
	var pages []erasureDoc
	for len(records) > 0 {
		n := pageLen(len(records), func(i int) int {
			if consents != nil {
				return 100 + 60*len(consents[i])
			}
			return 100
		})
		first, last := records[0], records[n-1]
		d := erasureDoc{
			ID:        fmt.Sprintf("%s:%012d:%012d", first.JobID, last.Row, first.Row),
			AccountID: accountID,
			JobID:     first.JobID,
			JobKind:   kindNames.name(first.JobKind),
			At:        first.At,
		}
		for i, e := range records[:n] {
			d.Rows = append(d.Rows, e.Row)
			d.KeyHash = append(d.KeyHash, e.KeyHash)
			d.ProfileHash = append(d.ProfileHash, e.ProfileHash)
			if consents != nil {
				for _, c := range consents[i] {
					d.Consents = append(d.Consents, rowConsentDoc{Row: e.Row, SectionID: c.SectionID, Channel: c.Channel, Topic: c.Topic})
				}
			}
		}
		pages = append(pages, d)
		records, consents = records[n:], consents[min(n, len(consents)):]
	}
	return pages
}

// recordsOf returns the records of a stored document of audit_erasures or
// audit_unsubscriptions: a page, or a record stored before pages.
func recordsOf(raw bson.Raw) ([]job.Erasure, error) {
	if raw.Lookup("key_hash").Type != bson.TypeArray {
		var d legacyErasureDoc
		if err := bson.Unmarshal(raw, &d); err != nil {
			return nil, err
		}
		return []job.Erasure{{JobID: d.JobID, JobKind: kindNames.value(d.JobKind), Row: d.Row, At: d.At, KeyHash: d.KeyHash, ProfileHash: d.ProfileHash}}, nil
	}
	var d erasureDoc
	if err := bson.Unmarshal(raw, &d); err != nil {
		return nil, err
	}
	if len(d.KeyHash) != len(d.Rows) || len(d.ProfileHash) != len(d.Rows) {
		return nil, fmt.Errorf("record page %s: %d rows, %d key hashes, %d profile hashes", d.ID, len(d.Rows), len(d.KeyHash), len(d.ProfileHash))
	}
	out := make([]job.Erasure, len(d.Rows))
	for i, row := range d.Rows {
		out[i] = job.Erasure{JobID: d.JobID, JobKind: kindNames.value(d.JobKind), Row: row, At: d.At, KeyHash: d.KeyHash[i], ProfileHash: d.ProfileHash[i]}
		if len(out[i].KeyHash) == 0 {
			out[i].KeyHash = nil
		}
	}
	return out, nil
}

// findRecords returns the records of the documents of coll that filter
// matches, each row's first record once, for which keep is true.
func findRecords(ctx context.Context, coll *mongo.Collection, filter bson.D, opts *options.FindOptionsBuilder, keep func(job.Erasure) bool) ([]job.Erasure, error) {
	cur, err := coll.Find(ctx, filter, opts)
	if err != nil {
		return nil, err
	}
	defer cur.Close(ctx)
	type jobRow struct {
		job string
		row int64
	}
	first := map[jobRow]int{}
	var out []job.Erasure
	for cur.Next(ctx) {
		records, err := recordsOf(cur.Current)
		if err != nil {
			return nil, err
		}
		for _, e := range records {
			if !keep(e) {
				continue
			}
			k := jobRow{e.JobID, e.Row}
			if i, ok := first[k]; ok {
				if e.At.Before(out[i].At) {
					out[i] = e
				}
				continue
			}
			first[k] = len(out)
			out = append(out, e)
		}
	}
	return out, cur.Err()
}

// FindErasures returns the account's erasure records whose identifier hash
// (byProfile false) or profile-id hash (byProfile true) is hash, oldest
// first.
func (s *Store) FindErasures(ctx context.Context, accountID string, hash []byte, byProfile bool) ([]job.Erasure, error) {
	field := "key_hash"
	if byProfile {
		field = "profile_hash"
	}
	out, err := findRecords(ctx, s.erasures, bson.D{{"account_id", accountID}, {field, hash}},
		options.Find().SetSort(bson.D{{"at", 1}, {"_id", 1}}).SetLimit(1000),
		func(e job.Erasure) bool { return bytes.Equal(hashOf(e, byProfile), hash) })
	if err != nil {
		return nil, fmt.Errorf("find erasures: %w", err)
	}
	slices.SortStableFunc(out, func(a, b job.Erasure) int { return a.At.Compare(b.At) })
	return out, nil
}

func hashOf(e job.Erasure, byProfile bool) []byte {
	if byProfile {
		return e.ProfileHash
	}
	return e.KeyHash
}

// CountErasures returns how many rows of a job of the account have an
// erasure record.
func (s *Store) CountErasures(ctx context.Context, accountID, jobID string) (int64, error) {
	return countRecords(ctx, s.erasures, accountID, jobID)
}

func countRecords(ctx context.Context, coll *mongo.Collection, accountID, jobID string) (int64, error) {
	// Record ids start with the job id, so the _id index finds them.
	out, err := findRecords(ctx, coll, bson.D{{"_id", bson.D{{"$gt", jobID + ":"}, {"$lt", jobID + ";"}}}, {"account_id", accountID}},
		options.Find().SetProjection(bson.D{{"consents", 0}}), func(job.Erasure) bool { return true })
	if err != nil {
		return 0, fmt.Errorf("count %s: %w", coll.Name(), err)
	}
	return int64(len(out)), nil
}

// RecordUnsubscriptions stores the records of a batch's unsubscribed rows
// (audit_unsubscriptions, in pages like erasure records), all made at one
// time, in one command.
func (s *Store) RecordUnsubscriptions(ctx context.Context, accountID string, records []job.Unsubscription) error {
	erasures := make([]job.Erasure, len(records))
	consents := make([][]profile.ConsentRef, len(records))
	for i, u := range records {
		erasures[i], consents[i] = u.Erasure, u.Consents
	}
	if err := insertNew(ctx, s.unsubscriptions, recordPages(accountID, erasures, consents)); err != nil {
		return fmt.Errorf("record unsubscriptions: %w", err)
	}
	return nil
}

// CountUnsubscriptions returns how many rows of a job of the account have
// an unsubscription record.
func (s *Store) CountUnsubscriptions(ctx context.Context, accountID, jobID string) (int64, error) {
	return countRecords(ctx, s.unsubscriptions, accountID, jobID)
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
	asked := make(map[string]bool, len(hashes))
	for i, h := range hashes {
		in[i] = h
		asked[string(h)] = true
	}
	records, err := findRecords(ctx, s.erasures, bson.D{{"account_id", accountID}, {field, bson.D{{"$in", in}}}},
		options.Find().SetProjection(bson.D{{"consents", 0}}),
		func(e job.Erasure) bool { return asked[string(hashOf(e, byProfile))] })
	if err != nil {
		return nil, fmt.Errorf("find erasures: %w", err)
	}
	out := make(map[string]job.Erasure, len(records))
	for _, e := range records {
		h := string(hashOf(e, byProfile))
		if prev, ok := out[h]; !ok || e.At.After(prev.At) {
			out[h] = e
		}
	}
	return out, nil
}
