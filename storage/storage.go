// Package storage keeps profiles, uploads, jobs and per-row outcomes in
// MongoDB. It is the only package that talks to the driver: callers get plain
// Go types and the sentinel errors below, never a driver error.
//
// Every method that reads or changes account data takes the account id and
// puts it in the filter, so one account can never see or change another's
// data, whatever ids a caller passes.
//
// The code is written for MongoDB 6+ as a replica set or sharded cluster and
// uses nothing the embedded engine lacks: no transactions (every multi-step
// change is ordered so that a retry after a crash is harmless), no TTL or
// partial indexes (expiry is done by the service's own sweeper).
package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/writeconcern"
)

var (
	// ErrNotFound means the document does not exist in the caller's account.
	ErrNotFound = errors.New("not found")
	// ErrConflict means the document is not in the state the change expects,
	// for example an upload already complete or a job owned by another worker.
	ErrConflict = errors.New("conflict")
	// ErrTooLarge means an upload would exceed its size limit.
	ErrTooLarge = errors.New("too large")
)

// OffsetError is returned by AppendUpload when a chunk does not continue the
// bytes stored so far.
type OffsetError struct {
	// Received is the number of bytes stored: the offset to resume from.
	Received int64
}

func (e *OffsetError) Error() string {
	return fmt.Sprintf("upload continues at offset %d", e.Received)
}

// Collection names. Profiles belong to the platform; the others are the
// service's own.
const (
	profilesCollection = "profiles"
	jobsCollection     = "deletion_jobs"
	itemsCollection    = "deletion_job_items"
	claimsCollection   = "deletion_job_claims"
	cancelsCollection  = "deletion_job_cancels"
	outcomesCollection = "deletion_job_rows"
	uploadsCollection  = "uploads"
	uploadBucket       = "upload_files"
)

// Options configure Open.
type Options struct {
	// URI is a MongoDB connection string.
	URI string
	// Database holds every collection the service uses.
	Database string
	// Monitor, when set, sees every command sent (benchmarks count them).
	Monitor *event.CommandMonitor
	// WriteMajority asks for write concern "majority" on every write, for
	// replica sets and sharded clusters where a deletion must survive a
	// failover. Off for the embedded engine, which has no replicas.
	WriteMajority bool
}

// Store is the MongoDB store. It is safe for concurrent use.
type Store struct {
	client   *mongo.Client
	db       *mongo.Database
	profiles *mongo.Collection
	jobs     *mongo.Collection
	items    *mongo.Collection
	claims   *mongo.Collection
	cancels  *mongo.Collection
	outcomes *mongo.Collection
	uploads  *mongo.Collection
	bucket   *mongo.GridFSBucket
	// The audit trail and account settings (audit.go, accounts.go).
	auditEvents *mongo.Collection
	erasures    *mongo.Collection
	accounts    *mongo.Collection
	// unsubscriptions are the audit records of unsubscribed rows.
	unsubscriptions *mongo.Collection
	// previews are previews run on the server (previews.go).
	previews *mongo.Collection
	// snapshots and snapshotIDs are segment snapshots (snapshots.go).
	snapshots   *mongo.Collection
	snapshotIDs *mongo.Collection
	// requests are the request ids of calls that started jobs (requests.go).
	requests *mongo.Collection
	// deliveries are job endings to post to webhooks (webhooks.go).
	deliveries *mongo.Collection

	// beforeOptOutWrite, when set, runs between OptOutConsents' read and its
	// write (export_test.go): tests change a profile there, as the platform
	// may at that moment.
	beforeOptOutWrite func()
}

// Open connects, checks the connection and creates the indexes the service
// needs (creating an existing index is a no-op).
func Open(ctx context.Context, opts Options) (*Store, error) {
	co := options.Client().ApplyURI(opts.URI).SetRetryWrites(true).SetRetryReads(true)
	if opts.Monitor != nil {
		co.SetMonitor(opts.Monitor)
	}
	if opts.WriteMajority {
		co.SetWriteConcern(writeconcern.Majority())
	}
	client, err := mongo.Connect(co)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := client.Ping(pingCtx, nil); err != nil {
		_ = client.Disconnect(context.Background())
		return nil, fmt.Errorf("ping: %w", err)
	}
	db := client.Database(opts.Database)
	s := &Store{
		client:   client,
		db:       db,
		profiles: db.Collection(profilesCollection),
		jobs:     db.Collection(jobsCollection),
		items:    db.Collection(itemsCollection),
		claims:   db.Collection(claimsCollection),
		cancels:  db.Collection(cancelsCollection),
		outcomes: db.Collection(outcomesCollection),
		uploads:  db.Collection(uploadsCollection),
		bucket:   db.GridFSBucket(options.GridFSBucket().SetName(uploadBucket)),

		auditEvents: db.Collection(auditEventsCollection),
		erasures:    db.Collection(erasuresCollection),
		accounts:    db.Collection(accountsCollection),

		unsubscriptions: db.Collection(unsubscriptionCollection),
		previews:        db.Collection(previewsCollection),
		snapshots:       db.Collection(snapshotsCollection),
		snapshotIDs:     db.Collection(snapshotIDsCollection),
		requests:        db.Collection(requestsCollection),
		deliveries:      db.Collection(webhookDeliveriesCollection),
	}
	if err := s.createIndexes(ctx); err != nil {
		_ = client.Disconnect(context.Background())
		return nil, err
	}
	return s, nil
}

// Ping checks that the store answers (readiness).
func (s *Store) Ping(ctx context.Context) error {
	if err := s.client.Ping(ctx, nil); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	return nil
}

// Close disconnects from the server.
func (s *Store) Close(ctx context.Context) error {
	return s.client.Disconnect(ctx)
}

func (s *Store) createIndexes(ctx context.Context) error {
	indexes := []struct {
		coll   *mongo.Collection
		keys   bson.D
		unique bool
	}{
		// The platform's contract: one profile per identifier in an account.
		// Every row lookup uses it.
		{s.profiles, bson.D{{"account_id", 1}, {"key.type", 1}, {"key.value", 1}}, true},
		// An account's profiles in id order: a segment's scan.
		{s.profiles, bson.D{{"account_id", 1}, {"_id", 1}}, false},
		// Whether an account has a section, which a segment condition
		// naming it is checked against (one index probe).
		{s.profiles, bson.D{{"account_id", 1}, {"sections.section_id", 1}}, false},
		// Attribute lookups, used only to explain rows that matched nothing.
		{s.profiles, bson.D{{"account_id", 1}, {"email", 1}}, false},
		{s.profiles, bson.D{{"account_id", 1}, {"phone", 1}}, false},
		{s.profiles, bson.D{{"account_id", 1}, {"crm_id", 1}}, false},
		// Job history, newest first, and the queue.
		{s.jobs, bson.D{{"account_id", 1}, {"_id", -1}}, false},
		{s.jobs, bson.D{{"state", 1}, {"_id", 1}}, false},
		{s.jobs, bson.D{{"state", 1}, {"lease_expires_at", 1}}, false},
		{s.jobs, bson.D{{"outcomes_expire_at", 1}}, false},
		{s.uploads, bson.D{{"expires_at", 1}}, false},
		{s.previews, bson.D{{"expires_at", 1}}, false},
		{s.snapshotIDs, bson.D{{"snapshot_id", 1}}, false},
		{s.requests, bson.D{{"expires_at", 1}}, false},
		{s.deliveries, bson.D{{"next_at", 1}}, false},
		{s.claims, bson.D{{"job_id", 1}, {"attempt", -1}}, false},
		// The audit trail, newest first, and erasure lookups by hash.
		{s.auditEvents, bson.D{{"account_id", 1}, {"seq", -1}, {"_id", -1}}, false},
		{s.erasures, bson.D{{"account_id", 1}, {"key_hash", 1}}, false},
		{s.erasures, bson.D{{"account_id", 1}, {"profile_hash", 1}}, false},
		// Active jobs and uploads of an account, for the per-account limits.
		{s.jobs, bson.D{{"account_id", 1}, {"state", 1}}, false},
		{s.uploads, bson.D{{"account_id", 1}, {"complete", 1}, {"created_at", 1}}, false},
		// GridFS's own required index, created here because chunks are
		// written directly (see AppendUpload).
		{s.bucket.GetChunksCollection(), bson.D{{"files_id", 1}, {"n", 1}}, true},
	}
	for _, ix := range indexes {
		model := mongo.IndexModel{Keys: ix.keys}
		if ix.unique {
			model.Options = options.Index().SetUnique(true)
		}
		_, err := ix.coll.Indexes().CreateOne(ctx, model)
		if err == nil && !ix.unique {
			continue
		}
		// The collection may already have the index under another name
		// or options, or may refuse a new one (a sharded profiles
		// collection takes a unique index only when its shard key is a
		// prefix of it): an index with the same keys, unique where ours
		// is, serves as well. A unique index is looked for even when its
		// creation succeeded: the embedded engine accepts a unique index
		// whose name a non-unique one already has, and keeps that one.
		found, lerr := hasIndex(ctx, ix.coll, ix.keys, ix.unique)
		if lerr == nil && found {
			continue
		}
		if err == nil {
			err = lerr
		}
		if err == nil {
			err = errors.New("an index of the same name that is not unique is in the way")
		}
		what := "an index"
		if ix.unique {
			what = "a unique index"
		}
		return fmt.Errorf("%s.%s needs %s on %s, which could not be created (%w); create it yourself, or see docs/cost-model.md section 2.1 for the shard keys it works with", s.db.Name(), ix.coll.Name(), what, keysString(ix.keys), err)
	}
	return nil
}

// hasIndex says whether coll has an index on exactly keys (fields, order
// and directions), unique if unique is set.
func hasIndex(ctx context.Context, coll *mongo.Collection, keys bson.D, unique bool) (bool, error) {
	cur, err := coll.Indexes().List(ctx)
	if err != nil {
		return false, err
	}
	var specs []struct {
		Key    bson.D `bson:"key"`
		Unique bool   `bson:"unique"`
	}
	if err := cur.All(ctx, &specs); err != nil {
		return false, err
	}
	for _, spec := range specs {
		if (spec.Unique || !unique) && sameKeys(spec.Key, keys) {
			return true, nil
		}
	}
	return false, nil
}

func sameKeys(a, b bson.D) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Key != b[i].Key || fmt.Sprint(a[i].Value) != fmt.Sprint(b[i].Value) {
			return false
		}
	}
	return true
}

// keysString writes index keys as the shell does: {account_id: 1, ...}.
func keysString(keys bson.D) string {
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s: %v", k.Key, k.Value)
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// parseID turns a caller's id into an ObjectID. A malformed id cannot name
// any document, so it is reported as ErrNotFound.
func parseID(id string) (bson.ObjectID, error) {
	oid, err := bson.ObjectIDFromHex(id)
	if err != nil {
		return bson.ObjectID{}, ErrNotFound
	}
	return oid, nil
}

// now is the store's clock, truncated to what BSON dates hold so that values
// read back compare equal to values written.
func now() time.Time {
	return time.Now().UTC().Truncate(time.Millisecond)
}

// enumNames maps a domain enum to the names stored for it; the zero value
// is stored as "".
type enumNames[T comparable] map[T]string

func (m enumNames[T]) name(v T) string { return m[v] }

// value returns the enum stored as name, or the zero value for a name it
// does not know.
func (m enumNames[T]) value(name string) T {
	for v, n := range m {
		if n == name {
			return v
		}
	}
	var zero T
	return zero
}

// NewID returns a new document id (jobs are created with it, so that an
// upload can be claimed for a job before the job is stored).
func NewID() string { return bson.NewObjectID().Hex() }

// ValidID reports whether id can name a document of the store.
func ValidID(id string) bool {
	_, err := bson.ObjectIDFromHex(id)
	return err == nil
}

// IsTransient reports whether err may go away by itself: the server could
// not be reached, a call timed out, or a replica set is electing a primary.
// Callers retry such errors with backoff; every store write is safe to
// repeat.
func IsTransient(err error) bool {
	if err == nil {
		return false
	}
	if mongo.IsNetworkError(err) || mongo.IsTimeout(err) || errors.Is(err, mongo.ErrClientDisconnected) {
		return true
	}
	var le mongo.LabeledError
	if errors.As(err, &le) && le.HasErrorLabel("RetryableWriteError") {
		return true
	}
	var se mongo.ServerError
	if errors.As(err, &se) {
		for _, code := range transientCodes {
			if se.HasErrorCode(code) {
				return true
			}
		}
	}
	return false
}

// transientCodes are server error codes of a node that is stepping down,
// shutting down or unreachable.
var transientCodes = []int{6, 7, 89, 91, 189, 9001, 10107, 11600, 11602, 13435, 13436}

// convertAll converts each element of in with f, between a domain type and
// its stored form; nil stays nil, so an absent list stays absent.
func convertAll[From, To any](in []From, f func(From) To) []To {
	if in == nil {
		return nil
	}
	out := make([]To, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}

// findOwned decodes into d the document of coll with the id that belongs to
// the account: ErrNotFound when there is none, also when the id is another
// account's. what names the call in other errors.
func findOwned(ctx context.Context, coll *mongo.Collection, accountID, id, what string, d any, opts ...options.Lister[options.FindOneOptions]) error {
	oid, err := parseID(id)
	if err != nil {
		return err
	}
	err = coll.FindOne(ctx, bson.D{{"_id", oid}, {"account_id", accountID}}, opts...).Decode(d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}
