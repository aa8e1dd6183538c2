package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/erasure-dev/erasure/internal/job"
)

// Segment snapshots: a header in segment_snapshots, and the frozen profile
// ids in parts of at most SnapshotChunkSize in segment_snapshot_ids, so that
// a snapshot of millions of profiles fits no single document's limit. The
// parts are written first and the header last: a snapshot exists once its
// header does, and parts without a header are swept.
const (
	snapshotsCollection   = "segment_snapshots"
	snapshotIDsCollection = "segment_snapshot_ids"
	// SnapshotChunkSize is the most profile ids one stored part holds
	// (about 170 KB of BSON).
	SnapshotChunkSize = 10000
)

type snapshotDoc struct {
	ID          bson.ObjectID     `bson:"_id"`
	AccountID   string            `bson:"account_id"`
	Definition  []byte            `bson:"definition"`
	EvaluatedAt time.Time         `bson:"evaluated_at"`
	CreatedAt   time.Time         `bson:"created_at"`
	ExpiresAt   time.Time         `bson:"expires_at"`
	CreatedBy   actorDoc          `bson:"created_by"`
	Scope       []string          `bson:"scope,omitempty"`
	Profiles    int64             `bson:"profiles"`
	Chunks      int               `bson:"chunks"`
	Sections    []sectionCountDoc `bson:"sections,omitempty"`
	Undecided   int64             `bson:"undecided,omitempty"`
	JobID       string            `bson:"job_id,omitempty"`
}

func (d *snapshotDoc) snapshot() *job.Snapshot {
	return &job.Snapshot{
		ID: d.ID.Hex(), AccountID: d.AccountID, Definition: d.Definition, EvaluatedAt: d.EvaluatedAt.UTC(),
		CreatedAt: d.CreatedAt.UTC(), ExpiresAt: d.ExpiresAt.UTC(), CreatedBy: job.Actor(d.CreatedBy), Scope: d.Scope,
		Profiles: d.Profiles, Chunks: d.Chunks, Sections: fromSectionDocs(d.Sections), Undecided: d.Undecided, JobID: d.JobID,
	}
}

// snapshotIDsDoc is one part of a snapshot's profile ids.
type snapshotIDsDoc struct {
	// ID is "<snapshot id>:<part, zero-padded>".
	ID         string          `bson:"_id"`
	AccountID  string          `bson:"account_id"`
	SnapshotID bson.ObjectID   `bson:"snapshot_id"`
	ExpiresAt  time.Time       `bson:"expires_at"`
	IDs        []bson.ObjectID `bson:"ids"`
}

func snapshotPartID(snapshotID bson.ObjectID, part int) string {
	return fmt.Sprintf("%s:%06d", snapshotID.Hex(), part)
}

// AddSnapshotPart stores part number part (0, 1, ...) of the profile ids of
// the snapshot id, which is stored later by CreateSnapshot. Storing a part
// again is harmless.
func (s *Store) AddSnapshotPart(ctx context.Context, accountID, snapshotID string, part int, ids []string, expires time.Time) error {
	sid, err := parseID(snapshotID)
	if err != nil {
		return err
	}
	oids := make([]bson.ObjectID, len(ids))
	for i, id := range ids {
		if oids[i], err = parseID(id); err != nil {
			return fmt.Errorf("snapshot part: profile id %d is not an id", i)
		}
	}
	d := snapshotIDsDoc{ID: snapshotPartID(sid, part), AccountID: accountID, SnapshotID: sid, ExpiresAt: expires, IDs: oids}
	_, err = s.snapshotIDs.ReplaceOne(ctx, bson.D{{"_id", d.ID}}, d, options.Replace().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("store snapshot part: %w", err)
	}
	return nil
}

// CreateSnapshot stores a snapshot's header, once its parts are stored.
func (s *Store) CreateSnapshot(ctx context.Context, sn *job.Snapshot) error {
	id, err := parseID(sn.ID)
	if err != nil {
		return err
	}
	d := snapshotDoc{
		ID: id, AccountID: sn.AccountID, Definition: sn.Definition, EvaluatedAt: sn.EvaluatedAt, CreatedAt: sn.CreatedAt,
		ExpiresAt: sn.ExpiresAt, CreatedBy: actorDoc(sn.CreatedBy), Scope: sn.Scope, Profiles: sn.Profiles, Chunks: sn.Chunks,
		Sections: toSectionDocs(sn.Sections), Undecided: sn.Undecided,
	}
	if _, err := s.snapshots.InsertOne(ctx, d); err != nil {
		return fmt.Errorf("create snapshot: %w", err)
	}
	return nil
}

// GetSnapshot returns one of the account's snapshots, or ErrNotFound.
func (s *Store) GetSnapshot(ctx context.Context, accountID, id string) (*job.Snapshot, error) {
	var d snapshotDoc
	if err := findOwned(ctx, s.snapshots, accountID, id, "get snapshot", &d); err != nil {
		return nil, err
	}
	return d.snapshot(), nil
}

// ClaimSnapshot gives an unexpired snapshot nobody claimed to the job
// jobID. It fails with ErrConflict when the snapshot is claimed or expired
// (GetSnapshot tells which), and ErrNotFound when there is none.
func (s *Store) ClaimSnapshot(ctx context.Context, accountID, id, jobID string, now time.Time) error {
	oid, err := parseID(id)
	if err != nil {
		return err
	}
	res, err := s.snapshots.UpdateOne(ctx, bson.D{{"_id", oid}, {"account_id", accountID}, {"job_id", bson.D{{"$exists", false}}}, {"expires_at", bson.D{{"$gt", now}}}},
		bson.D{{"$set", bson.D{{"job_id", jobID}}}})
	if err != nil {
		return fmt.Errorf("claim snapshot: %w", err)
	}
	if res.MatchedCount == 1 {
		return nil
	}
	if _, err := s.GetSnapshot(ctx, accountID, id); err != nil {
		return err
	}
	return ErrConflict
}

// SnapshotPart returns part number part of a snapshot's profile ids.
func (s *Store) SnapshotPart(ctx context.Context, accountID, snapshotID string, part int) ([]string, error) {
	sid, err := parseID(snapshotID)
	if err != nil {
		return nil, err
	}
	var d snapshotIDsDoc
	err = s.snapshotIDs.FindOne(ctx, bson.D{{"_id", snapshotPartID(sid, part)}, {"account_id", accountID}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read snapshot part: %w", err)
	}
	return convertAll(d.IDs, bson.ObjectID.Hex), nil
}

// DeleteSnapshot deletes a snapshot and its parts.
func (s *Store) DeleteSnapshot(ctx context.Context, accountID, id string) error {
	oid, err := parseID(id)
	if err != nil {
		return err
	}
	if _, err := s.snapshotIDs.DeleteMany(ctx, bson.D{{"snapshot_id", oid}, {"account_id", accountID}}); err != nil {
		return fmt.Errorf("delete snapshot parts: %w", err)
	}
	if _, err := s.snapshots.DeleteOne(ctx, bson.D{{"_id", oid}, {"account_id", accountID}}); err != nil {
		return fmt.Errorf("delete snapshot: %w", err)
	}
	return nil
}

// DeleteUsedUpSnapshots deletes the snapshots no job will read: unclaimed
// ones past their expiry, and those whose job has ended (or does not
// exist). Parts left without a header (a preview that stopped half-way)
// go once they expire. It returns how many snapshots it deleted.
func (s *Store) DeleteUsedUpSnapshots(ctx context.Context, now time.Time) (int, error) {
	cur, err := s.snapshots.Find(ctx, bson.D{}, options.Find().SetProjection(bson.D{{"_id", 1}, {"account_id", 1}, {"expires_at", 1}, {"job_id", 1}}))
	if err != nil {
		return 0, fmt.Errorf("find snapshots: %w", err)
	}
	var docs []snapshotDoc
	if err := cur.All(ctx, &docs); err != nil {
		return 0, fmt.Errorf("find snapshots: %w", err)
	}
	n := 0
	var kept []bson.ObjectID
	for _, d := range docs {
		if d.JobID == "" && d.ExpiresAt.After(now) {
			kept = append(kept, d.ID)
			continue
		}
		if d.JobID != "" {
			j, err := s.GetJob(ctx, d.AccountID, d.JobID)
			if err != nil && !errors.Is(err, ErrNotFound) {
				return n, err
			}
			// A job is stored just after it claims its snapshot.
			if (err == nil && !j.State.Terminal()) || (errors.Is(err, ErrNotFound) && now.Sub(d.ExpiresAt) < time.Hour) {
				kept = append(kept, d.ID)
				continue
			}
		}
		if err := s.DeleteSnapshot(ctx, d.AccountID, d.ID.Hex()); err != nil {
			return n, err
		}
		n++
	}
	orphans := bson.D{{"expires_at", bson.D{{"$lt", now}}}, {"snapshot_id", bson.D{{"$nin", kept}}}}
	if _, err := s.snapshotIDs.DeleteMany(ctx, orphans); err != nil {
		return n, fmt.Errorf("delete orphan snapshot parts: %w", err)
	}
	return n, nil
}
