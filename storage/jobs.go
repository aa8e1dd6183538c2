package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Job states, as stored.
const (
	JobQueued    = "queued"
	JobRunning   = "running"
	JobSucceeded = "succeeded"
	JobCancelled = "cancelled"
	JobFailed    = "failed"
)

// Job kinds, as stored.
const (
	KindFile    = "file"
	KindList    = "list"
	KindProfile = "profile"
)

// Job is a deletion job document: what was asked, where it is, and its report.
type Job struct {
	ID        bson.ObjectID `bson:"_id"`
	AccountID string        `bson:"account_id"`
	Kind      string        `bson:"kind"`
	State     string        `bson:"state"`

	IdentifierType string `bson:"identifier_type"`
	DefaultRegion  string `bson:"default_region,omitempty"`

	// File jobs.
	UploadID     string `bson:"upload_id,omitempty"`
	Filename     string `bson:"filename,omitempty"`
	Sheet        string `bson:"sheet,omitempty"`
	HeaderMode   string `bson:"header_mode,omitempty"`
	ColumnName   string `bson:"column_name,omitempty"`
	ColumnNumber int    `bson:"column_number,omitempty"`
	// Column is the column actually read, as shown to users.
	Column string `bson:"column,omitempty"`

	// ProfileID is a profile job's target.
	ProfileID string `bson:"profile_id,omitempty"`

	Counts   Counts         `bson:"counts"`
	Sections []SectionCount `bson:"sections,omitempty"`

	CancelRequested bool   `bson:"cancel_requested,omitempty"`
	Error           string `bson:"error,omitempty"`
	// Owner is the worker running the job.
	Owner string `bson:"owner,omitempty"`

	CreatedAt  time.Time  `bson:"created_at"`
	UpdatedAt  time.Time  `bson:"updated_at"`
	StartedAt  *time.Time `bson:"started_at,omitempty"`
	FinishedAt *time.Time `bson:"finished_at,omitempty"`
	// OutcomesExpireAt is when the per-row outcomes are deleted.
	OutcomesExpireAt *time.Time `bson:"outcomes_expire_at,omitempty"`
	// OutcomesPurged is set once they are.
	OutcomesPurged bool `bson:"outcomes_purged,omitempty"`
}

// Counts are a job's totals (see erasure.v1.Counts).
type Counts struct {
	TotalRows int64 `bson:"total_rows"`
	Rows      int64 `bson:"rows"`
	Valid     int64 `bson:"valid"`
	Invalid   int64 `bson:"invalid"`
	Duplicate int64 `bson:"duplicate"`
	Matched   int64 `bson:"matched"`
	NotFound  int64 `bson:"not_found"`
	Deleted   int64 `bson:"deleted"`
}

// SectionCount is how many deleted profiles held data in a section.
// Stored as a list, not a map: section ids are user data and may contain
// characters that field names may not.
type SectionCount struct {
	SectionID string `bson:"section_id"`
	Profiles  int64  `bson:"profiles"`
}

// Terminal reports whether the job has ended.
func (j *Job) Terminal() bool {
	return j.State == JobSucceeded || j.State == JobCancelled || j.State == JobFailed
}

// CreateJob stores a new job; it assigns the id when unset. items are a
// list job's identifiers: they are kept apart from the job, which is read
// often, and deleted when the job ends (the service keeps identifiers only
// in per-row outcomes).
func (s *Store) CreateJob(ctx context.Context, j *Job, items []string) error {
	if j.ID.IsZero() {
		j.ID = bson.NewObjectID()
	}
	t := now()
	j.CreatedAt, j.UpdatedAt = t, t
	if items != nil {
		// Items first: a job is never visible without them.
		doc := bson.D{{"_id", j.ID}, {"account_id", j.AccountID}, {"items", items}}
		if _, err := s.items.InsertOne(ctx, doc); err != nil {
			return fmt.Errorf("create job items: %w", err)
		}
	}
	if _, err := s.jobs.InsertOne(ctx, j); err != nil {
		return fmt.Errorf("create job: %w", err)
	}
	return nil
}

// GetJob returns the account's job.
func (s *Store) GetJob(ctx context.Context, accountID, id string) (*Job, error) {
	oid, err := parseID(id)
	if err != nil {
		return nil, err
	}
	var j Job
	err = s.jobs.FindOne(ctx, bson.D{{"_id", oid}, {"account_id", accountID}}).Decode(&j)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get job: %w", err)
	}
	return &j, nil
}

// ListJobs returns up to limit of the account's jobs, newest first, older
// than the job with id before (all when before is empty).
func (s *Store) ListJobs(ctx context.Context, accountID string, limit int, before string) ([]Job, error) {
	filter := bson.D{{"account_id", accountID}}
	if before != "" {
		oid, err := parseID(before)
		if err != nil {
			return nil, err
		}
		filter = append(filter, bson.E{"_id", bson.D{{"$lt", oid}}})
	}
	cur, err := s.jobs.Find(ctx, filter, options.Find().
		SetSort(bson.D{{"_id", -1}}).
		SetLimit(int64(limit)))
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	var jobs []Job
	if err := cur.All(ctx, &jobs); err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	return jobs, nil
}

// ClaimJob gives the oldest queued job to owner and marks it running.
// ErrNotFound means the queue is empty.
//
// The claim is the insert of a document keyed by the job id, so exactly one
// claimer wins even where a conditional update is not atomic (the embedded
// engine applies updates as read-then-write); on MongoDB it costs one small
// insert per job.
func (s *Store) ClaimJob(ctx context.Context, owner string) (*Job, error) {
	cur, err := s.jobs.Find(ctx, bson.D{{"state", JobQueued}},
		options.Find().SetSort(bson.D{{"_id", 1}}).SetLimit(20))
	if err != nil {
		return nil, fmt.Errorf("claim job: %w", err)
	}
	var queued []Job
	if err := cur.All(ctx, &queued); err != nil {
		return nil, fmt.Errorf("claim job: %w", err)
	}
	for i := range queued {
		j := &queued[i]
		won, err := s.claim(ctx, j, owner)
		if err != nil {
			return nil, err
		}
		if !won {
			continue
		}
		t := now()
		j.State, j.Owner, j.StartedAt, j.UpdatedAt = JobRunning, owner, &t, t
		_, err = s.jobs.UpdateOne(ctx, bson.D{{"_id", j.ID}, {"account_id", j.AccountID}},
			bson.D{{"$set", bson.D{{"state", JobRunning}, {"owner", owner}, {"started_at", t}, {"updated_at", t}}}})
		if err != nil {
			return nil, fmt.Errorf("claim job: %w", err)
		}
		return j, nil
	}
	return nil, ErrNotFound
}

// claim records owner as the one who runs or ends job j; false means someone
// else did first.
func (s *Store) claim(ctx context.Context, j *Job, owner string) (bool, error) {
	_, err := s.claims.InsertOne(ctx, bson.D{{"_id", j.ID}, {"account_id", j.AccountID}, {"owner", owner}, {"at", now()}})
	if mongo.IsDuplicateKeyError(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("claim job: %w", err)
	}
	return true, nil
}

// SaveProgress records a running job's counts. ErrConflict means the job
// is no longer running under owner.
func (s *Store) SaveProgress(ctx context.Context, j *Job, owner string) error {
	res, err := s.jobs.UpdateOne(ctx,
		bson.D{{"_id", j.ID}, {"account_id", j.AccountID}, {"owner", owner}, {"state", JobRunning}},
		bson.D{{"$set", bson.D{
			{"counts", j.Counts},
			{"sections", j.Sections},
			{"column", j.Column},
			{"cancel_requested", j.CancelRequested},
			{"updated_at", now()},
		}}})
	if err != nil {
		return fmt.Errorf("save progress: %w", err)
	}
	if res.MatchedCount == 0 {
		return ErrConflict
	}
	return nil
}

// FinishJob ends a job in state (succeeded, cancelled or failed) with its
// final counts, and deletes a list job's identifiers. owner empty finishes a
// job no worker holds (a queued job cancelled, a single-profile delete).
func (s *Store) FinishJob(ctx context.Context, j *Job, owner, state, reason string, retention time.Duration) (*Job, error) {
	t := now()
	expire := t.Add(retention)
	filter := bson.D{{"_id", j.ID}, {"account_id", j.AccountID}, {"state", bson.D{{"$in", bson.A{JobQueued, JobRunning}}}}}
	if owner != "" {
		filter = append(filter, bson.E{"owner", owner})
	}
	set := bson.D{
		{"state", state},
		{"counts", j.Counts},
		{"sections", j.Sections},
		{"column", j.Column},
		{"cancel_requested", j.CancelRequested},
		{"finished_at", t},
		{"updated_at", t},
		{"outcomes_expire_at", expire},
	}
	if reason != "" {
		set = append(set, bson.E{"error", reason})
	}
	var out Job
	err := s.jobs.FindOneAndUpdate(ctx, filter,
		bson.D{{"$set", set}},
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&out)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, ErrConflict
	}
	if err != nil {
		return nil, fmt.Errorf("finish job: %w", err)
	}
	return &out, s.deleteItems(ctx, j.AccountID, j.ID)
}

// LoadItems returns a list job's identifiers.
func (s *Store) LoadItems(ctx context.Context, j *Job) ([]string, error) {
	var doc struct {
		Items []string `bson:"items"`
	}
	err := s.items.FindOne(ctx, bson.D{{"_id", j.ID}, {"account_id", j.AccountID}}).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("load items: %w", err)
	}
	return doc.Items, nil
}

func (s *Store) deleteItems(ctx context.Context, accountID string, id bson.ObjectID) error {
	if _, err := s.items.DeleteOne(ctx, bson.D{{"_id", id}, {"account_id", accountID}}); err != nil {
		return fmt.Errorf("delete job items: %w", err)
	}
	return nil
}

// RequestCancel records that the account's job should stop and returns the
// job. A queued job nobody has claimed is cancelled here and now (the caller
// gets it back in state cancelled); a running one is left to its worker,
// which checks for the request between batches (CancelRequested). A
// finished job is returned unchanged.
//
// The request is a document of its own rather than a field of the job, so
// it cannot be lost to a concurrent write of the job by its worker.
func (s *Store) RequestCancel(ctx context.Context, accountID, id string) (*Job, error) {
	j, err := s.GetJob(ctx, accountID, id)
	if err != nil || j.Terminal() {
		return j, err
	}
	_, err = s.cancels.InsertOne(ctx, bson.D{{"_id", j.ID}, {"account_id", accountID}, {"at", now()}})
	if err != nil && !mongo.IsDuplicateKeyError(err) {
		return nil, fmt.Errorf("cancel job: %w", err)
	}
	j.CancelRequested = true
	if j.State != JobQueued {
		return j, nil
	}
	won, err := s.claim(ctx, j, "cancel")
	if err != nil || !won {
		return j, err
	}
	return s.FinishJob(ctx, j, "", JobCancelled, "", 0)
}

// CancelRequested reports whether someone asked the job to stop.
func (s *Store) CancelRequested(ctx context.Context, j *Job) (bool, error) {
	n, err := s.cancels.CountDocuments(ctx, bson.D{{"_id", j.ID}, {"account_id", j.AccountID}})
	if err != nil {
		return false, fmt.Errorf("check cancel: %w", err)
	}
	return n > 0, nil
}

// JobsWithExpiredOutcomes returns finished jobs whose per-row outcomes are
// due for deletion.
func (s *Store) JobsWithExpiredOutcomes(ctx context.Context, at time.Time, limit int) ([]Job, error) {
	cur, err := s.jobs.Find(ctx,
		bson.D{{"outcomes_expire_at", bson.D{{"$lt", at}}}, {"outcomes_purged", bson.D{{"$ne", true}}}},
		options.Find().SetLimit(int64(limit)).SetProjection(bson.D{{"_id", 1}, {"account_id", 1}}))
	if err != nil {
		return nil, fmt.Errorf("find expired outcomes: %w", err)
	}
	var jobs []Job
	if err := cur.All(ctx, &jobs); err != nil {
		return nil, fmt.Errorf("find expired outcomes: %w", err)
	}
	return jobs, nil
}

// MarkOutcomesPurged records that a job's outcomes were deleted.
func (s *Store) MarkOutcomesPurged(ctx context.Context, j *Job) error {
	_, err := s.jobs.UpdateOne(ctx, bson.D{{"_id", j.ID}, {"account_id", j.AccountID}},
		bson.D{{"$set", bson.D{{"outcomes_purged", true}}}})
	if err != nil {
		return fmt.Errorf("mark outcomes purged: %w", err)
	}
	return nil
}
