package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/erasure-dev/erasure/internal/job"
)

// uploadChunkSize is GridFS's default chunk size. Bytes are cut into chunks
// of exactly this size whatever sizes clients send, so a finished upload is
// an ordinary GridFS file any instance can read.
const uploadChunkSize = 255 * 1024

// uploadDoc is an upload as stored in uploads.
type uploadDoc struct {
	ID        bson.ObjectID `bson:"_id"`
	AccountID string        `bson:"account_id"`
	Filename  string        `bson:"filename"`
	// Length is the number of bytes stored so far.
	Length   int64 `bson:"length"`
	Complete bool  `bson:"complete"`
	// JobID is set once a job has taken the upload; the job deletes it.
	JobID     string    `bson:"job_id,omitempty"`
	CreatedAt time.Time `bson:"created_at"`
	ExpiresAt time.Time `bson:"expires_at"`
	// Pending holds the bytes after the last whole chunk until the upload
	// is complete (see AppendUpload). Uploads begun before it existed keep
	// those bytes in a partly filled last chunk instead.
	Pending []byte `bson:"pending,omitempty"`
}

// CreateUpload starts an empty upload that expires at expiresAt unless a job
// takes it first.
func (s *Store) CreateUpload(ctx context.Context, accountID, filename string, expiresAt time.Time) (*job.Upload, error) {
	u := &uploadDoc{
		ID:        bson.NewObjectID(),
		AccountID: accountID,
		Filename:  filename,
		CreatedAt: now(),
		ExpiresAt: expiresAt.UTC().Truncate(time.Millisecond),
	}
	if _, err := s.uploads.InsertOne(ctx, u); err != nil {
		return nil, fmt.Errorf("create upload: %w", err)
	}
	return u.upload(), nil
}

// GetUpload returns the account's upload.
func (s *Store) GetUpload(ctx context.Context, accountID, id string) (*job.Upload, error) {
	d, err := s.getUpload(ctx, accountID, id)
	if err != nil {
		return nil, err
	}
	return d.upload(), nil
}

func (u *uploadDoc) upload() *job.Upload {
	return &job.Upload{
		ID:        u.ID.Hex(),
		AccountID: u.AccountID,
		Filename:  u.Filename,
		Length:    u.Length,
		Complete:  u.Complete,
		JobID:     u.JobID,
		CreatedAt: u.CreatedAt,
		ExpiresAt: u.ExpiresAt,
	}
}

func (s *Store) getUpload(ctx context.Context, accountID, id string) (*uploadDoc, error) {
	var d uploadDoc
	if err := findOwned(ctx, s.uploads, accountID, id, "get upload", &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// AppendUpload stores data at offset and, when last is set, completes the
// upload. offset must equal the bytes stored so far; data that lies (wholly
// or partly) before that is taken as a retry of bytes already stored and
// only its new part is written. maxBytes bounds the whole upload.
//
// Errors: ErrNotFound; *OffsetError when offset is past the stored bytes;
// ErrTooLarge; ErrConflict when the upload is complete and data goes past its
// end, or another request stored bytes at the same time.
//
// Only whole chunks are written to GridFS while bytes arrive; the bytes after
// the last whole chunk wait in the upload document, which every append reads
// anyway, until more bytes fill their chunk or the upload completes. So an
// append never reads chunks back, and writes each chunk once, with an insert:
// the embedded engine answers any query on chunks, even by _id, by parsing
// every stored chunk, which made a 50 MB upload quadratic
// (docs/benchmarks.md).
//
// Without transactions the steps are ordered so that any crash leaves a state
// a retry completes: chunks are stored first under ids derived from (upload,
// n), and only then are the stored length and pending bytes advanced, in one
// update conditional on the old length. A retry writes the same chunks
// again, replacing what it finds.
func (s *Store) AppendUpload(ctx context.Context, accountID, id string, offset int64, data []byte, last bool, maxBytes int64) (*job.Upload, error) {
	d, err := s.getUpload(ctx, accountID, id)
	if err != nil {
		return nil, err
	}
	u := d
	if offset < 0 || offset > u.Length {
		return nil, &OffsetError{Received: u.Length}
	}
	if skip := u.Length - offset; skip > 0 {
		if skip >= int64(len(data)) {
			data = nil
		} else {
			data = data[skip:]
		}
	}
	if u.Complete {
		if len(data) > 0 {
			return nil, ErrConflict
		}
		return u.upload(), nil
	}
	if u.Length+int64(len(data)) > maxBytes {
		return nil, ErrTooLarge
	}
	if len(data) == 0 && !last {
		return u.upload(), nil
	}
	pending, err := s.pendingBytes(ctx, d)
	if err != nil {
		return nil, err
	}
	buf := append(pending[:len(pending):len(pending)], data...)
	whole := len(buf) - len(buf)%uploadChunkSize
	if last {
		whole = len(buf) // the last chunk may be partly filled
	}
	if err := s.writeChunks(ctx, u.ID, u.Length/uploadChunkSize, buf[:whole]); err != nil {
		return nil, err
	}
	if len(data) > 0 {
		res, err := s.uploads.UpdateOne(ctx,
			bson.D{{"_id", u.ID}, {"account_id", accountID}, {"length", u.Length}, {"complete", false}},
			bson.D{{"$set", bson.D{{"length", u.Length + int64(len(data))}, {"pending", bson.Binary{Data: buf[whole:]}}}}})
		if err != nil {
			return nil, fmt.Errorf("advance upload: %w", err)
		}
		if res.MatchedCount == 0 {
			return nil, ErrConflict
		}
		u.Length += int64(len(data))
	}
	if last {
		if err := s.completeUpload(ctx, u); err != nil {
			return nil, err
		}
	}
	return u.upload(), nil
}

// pendingBytes returns the stored bytes after the upload's last whole
// chunk: its pending bytes, or for an upload begun before those existed,
// the start of its partly filled last chunk.
func (s *Store) pendingBytes(ctx context.Context, d *uploadDoc) ([]byte, error) {
	partial := d.Length % uploadChunkSize
	if int64(len(d.Pending)) == partial {
		return d.Pending, nil
	}
	var c struct {
		Data []byte `bson:"data"`
	}
	err := s.bucket.GetChunksCollection().FindOne(ctx, bson.D{{"files_id", d.ID}, {"n", d.Length / uploadChunkSize}}).Decode(&c)
	if err != nil {
		return nil, fmt.Errorf("read last chunk: %w", err)
	}
	if int64(len(c.Data)) < partial || len(d.Pending) != 0 {
		return nil, fmt.Errorf("read last chunk: %d bytes stored, %d pending, %d expected", len(c.Data), len(d.Pending), partial)
	}
	return c.Data[:partial], nil
}

// chunkID is the _id of chunk n of an upload. It is derived from the upload
// and n, not random, so that a retried append rewrites the same documents
// and a chunk can be read by _id, the one query the embedded engine answers
// without decoding every stored chunk. GridFS readers find chunks by
// files_id and n and never look at _id, whose type is up to the writer.
func chunkID(upload bson.ObjectID, n int64) string {
	return upload.Hex() + ":" + strconv.FormatInt(n, 10)
}

// writeChunks stores data as GridFS chunks n, n+1, ... of the upload. They
// are inserted: a chunk that already exists (a retry of an append whose
// length update was lost, or a chunk stored before ids were derived, under
// a random id) fails with a duplicate key, and then every chunk of data is
// replaced by (upload, n), keeping its _id.
func (s *Store) writeChunks(ctx context.Context, id bson.ObjectID, n int64, data []byte) error {
	if len(data) == 0 {
		return nil
	}
	chunks := s.bucket.GetChunksCollection()
	var docs []any
	for i := 0; i < len(data); i += uploadChunkSize {
		k := n + int64(i/uploadChunkSize)
		docs = append(docs, bson.D{{"_id", chunkID(id, k)}, {"files_id", id}, {"n", k},
			{"data", bson.Binary{Data: data[i:min(i+uploadChunkSize, len(data))]}}})
	}
	_, err := chunks.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	if mongo.IsDuplicateKeyError(err) {
		models := make([]mongo.WriteModel, len(docs))
		for i, doc := range docs {
			c := doc.(bson.D)
			models[i] = mongo.NewReplaceOneModel().SetUpsert(true).
				SetFilter(bson.D{c[1], c[2]}).
				SetReplacement(c[1:])
		}
		_, err = chunks.BulkWrite(ctx, models)
	}
	if err != nil {
		return fmt.Errorf("write chunks: %w", err)
	}
	return nil
}

// completeUpload writes the GridFS files document, which makes the chunks a
// readable file, then marks the upload complete.
func (s *Store) completeUpload(ctx context.Context, u *uploadDoc) error {
	file := bson.D{
		{"_id", u.ID},
		{"length", u.Length},
		{"chunkSize", int32(uploadChunkSize)},
		{"uploadDate", now()},
		{"filename", u.Filename},
		{"metadata", bson.D{{"account_id", u.AccountID}}},
	}
	_, err := s.bucket.GetFilesCollection().InsertOne(ctx, file)
	if err != nil && !mongo.IsDuplicateKeyError(err) {
		return fmt.Errorf("complete upload: %w", err)
	}
	_, err = s.uploads.UpdateOne(ctx, bson.D{{"_id", u.ID}, {"account_id", u.AccountID}},
		bson.D{{"$set", bson.D{{"complete", true}}}, {"$unset", bson.D{{"pending", ""}}}})
	if err != nil {
		return fmt.Errorf("complete upload: %w", err)
	}
	u.Complete = true
	return nil
}

// readBatchChunks is how many chunks a reader of an upload fetches per
// round trip: 1 MiB. The driver's GridFS download stream leaves the batch
// size to the server, which sends up to 16 MiB (MongoDB) or 101 chunks,
// 25 MiB (the embedded engine), in one message the driver holds in memory.
const readBatchChunks = 4

// OpenUpload returns a reader over a complete upload's bytes. It reads the
// GridFS file as the driver's download stream does, checking every chunk's
// number and size, but a few chunks at a time.
func (s *Store) OpenUpload(ctx context.Context, accountID, id string) (io.ReadCloser, *job.Upload, error) {
	d, err := s.getUpload(ctx, accountID, id)
	if err != nil {
		return nil, nil, err
	}
	u := d
	if !u.Complete {
		return nil, u.upload(), ErrConflict
	}
	var file struct {
		Length    int64 `bson:"length"`
		ChunkSize int64 `bson:"chunkSize"`
	}
	err = s.bucket.GetFilesCollection().FindOne(ctx, bson.D{{"_id", u.ID}}).Decode(&file)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil, ErrNotFound
	}
	if err != nil {
		return nil, nil, fmt.Errorf("open upload: %w", err)
	}
	if file.Length > 0 && file.ChunkSize <= 0 {
		return nil, nil, fmt.Errorf("open upload: chunk size %d", file.ChunkSize)
	}
	cur, err := s.bucket.GetChunksCollection().Find(ctx, bson.D{{"files_id", u.ID}},
		options.Find().SetSort(bson.D{{"n", 1}}).SetBatchSize(readBatchChunks))
	if err != nil {
		return nil, nil, fmt.Errorf("open upload: %w", err)
	}
	return &chunkReader{ctx: ctx, cur: cur, left: file.Length, size: file.ChunkSize}, u.upload(), nil
}

// chunkReader reads a GridFS file's chunks in order.
type chunkReader struct {
	ctx  context.Context
	cur  *mongo.Cursor
	n    int64  // the next chunk's number
	left int64  // bytes of the file in chunks not yet fetched
	size int64  // chunk size
	buf  []byte // the unread rest of the current chunk (valid until the cursor moves)
}

func (r *chunkReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.left == 0 {
			return 0, io.EOF
		}
		if !r.cur.Next(r.ctx) {
			if err := r.cur.Err(); err != nil {
				return 0, fmt.Errorf("read upload: %w", err)
			}
			return 0, fmt.Errorf("read upload: chunk %d is missing", r.n)
		}
		n, ok := r.cur.Current.Lookup("n").AsInt64OK()
		_, data, isBinary := r.cur.Current.Lookup("data").BinaryOK()
		if !ok || !isBinary || n != r.n || int64(len(data)) != min(r.size, r.left) {
			return 0, fmt.Errorf("read upload: chunk %d is not chunk %d of %d bytes", n, r.n, min(r.size, r.left))
		}
		r.buf = data
		r.n++
		r.left -= int64(len(data))
	}
	k := copy(p, r.buf)
	r.buf = r.buf[k:]
	return k, nil
}

func (r *chunkReader) Close() error {
	return r.cur.Close(context.WithoutCancel(r.ctx))
}

// ClaimUpload gives a complete upload to a job. An upload feeds one job only:
// the job deletes it when it ends. ErrConflict means the upload is not
// complete or another job has it. As with jobs, the claim is an insert keyed
// by the upload, so two requests racing for one upload cannot both win.
func (s *Store) ClaimUpload(ctx context.Context, accountID, id, jobID string) error {
	d, err := s.getUpload(ctx, accountID, id)
	if err != nil {
		return err
	}
	u := d
	if !u.Complete || u.JobID != "" {
		return ErrConflict
	}
	_, err = s.claims.InsertOne(ctx, bson.D{{"_id", "upload:" + u.ID.Hex()}, {"account_id", accountID}, {"job", jobID}, {"at", now()}})
	if mongo.IsDuplicateKeyError(err) {
		return ErrConflict
	}
	if err != nil {
		return fmt.Errorf("claim upload: %w", err)
	}
	_, err = s.uploads.UpdateOne(ctx, bson.D{{"_id", u.ID}, {"account_id", accountID}}, bson.D{{"$set", bson.D{{"job_id", jobID}}}})
	if err != nil {
		return fmt.Errorf("claim upload: %w", err)
	}
	return nil
}

// DeleteUpload removes an upload and its bytes. Deleting a missing upload is
// not an error. The bytes go first, so a crash part-way leaves a record the
// sweeper finds and finishes.
func (s *Store) DeleteUpload(ctx context.Context, accountID, id string) error {
	oid, err := parseID(id)
	if err != nil {
		return nil
	}
	// Only the account's own upload record unlocks deleting the bytes.
	if _, err := s.GetUpload(ctx, accountID, id); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		return err
	}
	if _, err := s.bucket.GetChunksCollection().DeleteMany(ctx, bson.D{{"files_id", oid}}); err != nil {
		return fmt.Errorf("delete upload chunks: %w", err)
	}
	if _, err := s.bucket.GetFilesCollection().DeleteOne(ctx, bson.D{{"_id", oid}}); err != nil {
		return fmt.Errorf("delete upload file: %w", err)
	}
	if _, err := s.uploads.DeleteOne(ctx, bson.D{{"_id", oid}, {"account_id", accountID}}); err != nil {
		return fmt.Errorf("delete upload: %w", err)
	}
	return nil
}

// DeleteExpiredUploads deletes uploads past their expiry time that no job
// took, or whose job has ended (its worker died before deleting it) or was
// never created, and returns how many it deleted.
func (s *Store) DeleteExpiredUploads(ctx context.Context, at time.Time) (int, error) {
	cur, err := s.uploads.Find(ctx, bson.D{{"expires_at", bson.D{{"$lt", at}}}},
		options.Find().SetProjection(bson.D{{"_id", 1}, {"account_id", 1}, {"job_id", 1}}))
	if err != nil {
		return 0, fmt.Errorf("find expired uploads: %w", err)
	}
	var expired []uploadDoc
	if err := cur.All(ctx, &expired); err != nil {
		return 0, fmt.Errorf("find expired uploads: %w", err)
	}
	n := 0
	for _, u := range expired {
		if u.JobID != "" {
			j, err := s.GetJob(ctx, u.AccountID, u.JobID)
			if err == nil && !j.State.Terminal() {
				continue // its job is running and deletes it
			}
			if err != nil && !errors.Is(err, ErrNotFound) {
				return n, err
			}
		}
		if err := s.DeleteUpload(ctx, u.AccountID, u.ID.Hex()); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// UploadUsedBy returns the job that took the account's upload and when,
// read from the upload's claim, which outlives the upload: ErrNotFound when
// no job ever took it.
func (s *Store) UploadUsedBy(ctx context.Context, accountID, id string) (jobID string, at time.Time, err error) {
	oid, err := parseID(id)
	if err != nil {
		return "", time.Time{}, err
	}
	var claim struct {
		Job string    `bson:"job"`
		At  time.Time `bson:"at"`
	}
	err = s.claims.FindOne(ctx, bson.D{{"_id", "upload:" + oid.Hex()}, {"account_id", accountID}}).Decode(&claim)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return "", time.Time{}, ErrNotFound
	}
	if err != nil {
		return "", time.Time{}, fmt.Errorf("find upload claim: %w", err)
	}
	return claim.Job, claim.At, nil
}
