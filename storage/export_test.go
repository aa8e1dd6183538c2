package storage

import (
	"context"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/erasure-dev/erasure/internal/job"
)

// MakeLegacyUpload stores an incomplete upload the way it was stored before
// chunk ids were derived from the upload and pending bytes were kept in the
// upload document: every chunk under a random id, the bytes after the last
// whole chunk in a partly filled chunk. Tests check that such an upload can
// still be continued and read after an upgrade.
func (s *Store) MakeLegacyUpload(ctx context.Context, uploadID string) error {
	oid, err := parseID(uploadID)
	if err != nil {
		return err
	}
	var d uploadDoc
	if err := s.uploads.FindOne(ctx, bson.D{{"_id", oid}}).Decode(&d); err != nil {
		return err
	}
	chunks := s.bucket.GetChunksCollection()
	if len(d.Pending) > 0 {
		n := d.Length / uploadChunkSize
		_, err := chunks.ReplaceOne(ctx, bson.D{{"files_id", oid}, {"n", n}},
			bson.D{{"files_id", oid}, {"n", n}, {"data", bson.Binary{Data: d.Pending}}}, options.Replace().SetUpsert(true))
		if err != nil {
			return err
		}
		if _, err := s.uploads.UpdateOne(ctx, bson.D{{"_id", oid}}, bson.D{{"$unset", bson.D{{"pending", ""}}}}); err != nil {
			return err
		}
	}
	cur, err := chunks.Find(ctx, bson.D{{"files_id", oid}})
	if err != nil {
		return err
	}
	var docs []bson.D
	if err := cur.All(ctx, &docs); err != nil {
		return err
	}
	for _, c := range docs {
		if _, err := chunks.DeleteOne(ctx, bson.D{{"_id", c[0].Value}}); err != nil {
			return err
		}
		c[0].Value = bson.NewObjectID()
		if _, err := chunks.InsertOne(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

// SaveUpload returns a function that puts the upload's document back as it
// is now: calling it after an append is a crash that lost the append's
// update of the upload, after its chunks were written.
func (s *Store) SaveUpload(ctx context.Context, uploadID string) (restore func() error, err error) {
	oid, err := parseID(uploadID)
	if err != nil {
		return nil, err
	}
	var doc bson.Raw
	if err := s.uploads.FindOne(ctx, bson.D{{"_id", oid}}).Decode(&doc); err != nil {
		return nil, err
	}
	return func() error {
		_, err := s.uploads.ReplaceOne(ctx, bson.D{{"_id", oid}}, doc)
		return err
	}, nil
}

// DeleteChunk deletes chunk n of an upload, as a damaged store might lose it.
func (s *Store) DeleteChunk(ctx context.Context, uploadID string, n int64) error {
	oid, err := parseID(uploadID)
	if err != nil {
		return err
	}
	_, err = s.bucket.GetChunksCollection().DeleteOne(ctx, bson.D{{"files_id", oid}, {"n", n}})
	return err
}

// BeforeOptOutWrite makes f run between OptOutConsents' read of the
// profiles and its write, every time.
func (s *Store) BeforeOptOutWrite(f func()) { s.beforeOptOutWrite = f }

// InsertLegacyOutcome stores a row's outcome the way it was stored before
// pages: a document of its own, its fields at the top level. Tests check
// that jobs stored so are still read.
func (s *Store) InsertLegacyOutcome(ctx context.Context, accountID, jobID string, o job.RowOutcome) error {
	raw, err := bson.Marshal(rowDocOf(o))
	if err != nil {
		return err
	}
	var fields bson.D
	if err := bson.Unmarshal(raw, &fields); err != nil {
		return err
	}
	doc := append(bson.D{{"_id", outcomeID(jobID, o.Row)}, {"account_id", accountID}, {"job_id", jobID}}, fields...)
	_, err = s.outcomes.InsertOne(ctx, doc)
	return err
}

// CountPages returns how many documents hold a job's outcomes.
func (s *Store) CountPages(ctx context.Context, jobID string) (int64, error) {
	return s.outcomes.CountDocuments(ctx, bson.D{{"job_id", jobID}})
}

// InsertLegacyErasure stores an erasure record the way it was stored
// before pages: a document per row, its hashes as single values.
func (s *Store) InsertLegacyErasure(ctx context.Context, accountID string, e job.Erasure) error {
	_, err := s.erasures.InsertOne(ctx, bson.D{
		{"_id", outcomeID(e.JobID, e.Row)}, {"account_id", accountID}, {"job_id", e.JobID}, {"job_kind", kindNames.name(e.JobKind)},
		{"row", e.Row}, {"at", e.At}, {"key_hash", e.KeyHash}, {"profile_hash", e.ProfileHash},
	})
	return err
}

// CountRecordPages returns how many documents hold a job's erasure records.
func (s *Store) CountRecordPages(ctx context.Context, jobID string) (int64, error) {
	return s.erasures.CountDocuments(ctx, bson.D{{"job_id", jobID}})
}
