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

	// CreatedBy is who asked for the job.
	CreatedBy Actor `bson:"created_by"`

	Counts   Counts         `bson:"counts"`
	Sections []SectionCount `bson:"sections,omitempty"`

	CancelRequested bool   `bson:"cancel_requested,omitempty"`
	Error           string `bson:"error,omitempty"`
	// Owner is the worker running the job, under claim number Attempt
	// (1 for the first run, one more for each takeover).
	Owner   string `bson:"owner,omitempty"`
	Attempt int    `bson:"attempt"`
	// LeaseExpiresAt is when another worker may take the job over if its
	// owner has not renewed the lease by then.
	LeaseExpiresAt *time.Time `bson:"lease_expires_at,omitempty"`

	CreatedAt  time.Time  `bson:"created_at"`
	UpdatedAt  time.Time  `bson:"updated_at"`
	StartedAt  *time.Time `bson:"started_at,omitempty"`
	FinishedAt *time.Time `bson:"finished_at,omitempty"`
	// OutcomesExpireAt is when the per-row outcomes are deleted.
	OutcomesExpireAt *time.Time `bson:"outcomes_expire_at,omitempty"`
	// OutcomesPurged is set once they are.
	OutcomesPurged bool `bson:"outcomes_purged,omitempty"`

	// QueuePosition is a queued job's place in the queue (1 is next), filled
	// in by QueuePosition; never stored.
	QueuePosition int64 `bson:"-"`
	// LastRow is the row number of the last row this worker processed; a
	// worker's own bookkeeping, never stored.
	LastRow int64 `bson:"-"`
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
		doc := bson.D{{"_id", j.ID}, {"account_id", j.AccountID}, {"at", t}, {"items", items}}
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

// QueuePosition returns a queued job's place in the queue: 1 plus the
// number of queued jobs created before it, which workers take first.
func (s *Store) QueuePosition(ctx context.Context, j *Job) (int64, error) {
	n, err := s.jobs.CountDocuments(ctx, bson.D{{"state", JobQueued}, {"_id", bson.D{{"$lt", j.ID}}}})
	if err != nil {
		return 0, fmt.Errorf("queue position: %w", err)
	}
	return n + 1, nil
}

// ClaimJob gives owner the oldest job that needs a worker — queued, or
// running under a lease that expired (its worker died or lost the store) —
// marks it running under a lease of the given length, and returns it.
// ErrNotFound means no job needs a worker.
//
// A claim is the insert of a document keyed by the job id and claim number,
// so exactly one claimer wins each claim even where a conditional update is
// not atomic (the embedded engine applies updates as read-then-write); on
// MongoDB it costs one small insert per claim. After winning, the claimer is
// the job document's only writer until its own lease expires.
//
// maxPerAccount, when positive, bounds the jobs of one account running at
// once: a job whose account has that many running is left queued, and jobs
// of other accounts go first. The bound is checked, not reserved, so two
// instances claiming at the same moment may exceed it by one each.
func (s *Store) ClaimJob(ctx context.Context, owner string, lease time.Duration, maxPerAccount int) (*Job, error) {
	t := now()
	cur, err := s.jobs.Find(ctx, bson.D{{"$or", bson.A{
		bson.D{{"state", JobQueued}},
		bson.D{{"state", JobRunning}, {"lease_expires_at", bson.D{{"$lt", t}}}},
	}}}, options.Find().SetSort(bson.D{{"_id", 1}}).SetLimit(20))
	if err != nil {
		return nil, fmt.Errorf("claim job: %w", err)
	}
	var candidates []Job
	if err := cur.All(ctx, &candidates); err != nil {
		return nil, fmt.Errorf("claim job: %w", err)
	}
	busy := make(map[string]bool)
	for i := range candidates {
		j := &candidates[i]
		if maxPerAccount > 0 && j.State == JobQueued {
			full, ok := busy[j.AccountID]
			if !ok {
				n, err := s.jobs.CountDocuments(ctx, bson.D{{"account_id", j.AccountID}, {"state", JobRunning}})
				if err != nil {
					return nil, fmt.Errorf("claim job: %w", err)
				}
				full = n >= int64(maxPerAccount)
				busy[j.AccountID] = full
			}
			if full {
				continue
			}
		}
		attempt, won, err := s.claimNext(ctx, j, owner, lease)
		if err != nil {
			return nil, err
		}
		if !won {
			continue
		}
		// The claim is ours; the job document may have moved on since the
		// candidate list was read (finished by a slow owner, or updated by
		// the previous claimer), so the update is conditional on the state
		// and claim number the claim was based on, and the job is read
		// again afterwards. The lease runs from now, not from the find.
		t := now()
		expires := t.Add(lease)
		set := bson.D{{"state", JobRunning}, {"owner", owner}, {"attempt", attempt}, {"lease_expires_at", expires}, {"updated_at", t}}
		if j.StartedAt == nil {
			set = append(set, bson.E{"started_at", t})
		}
		res, err := s.jobs.UpdateOne(ctx,
			bson.D{{"_id", j.ID}, {"account_id", j.AccountID}, {"state", j.State}, {"attempt", j.Attempt}},
			bson.D{{"$set", set}})
		if err != nil {
			return nil, fmt.Errorf("claim job: %w", err)
		}
		if res.MatchedCount == 0 {
			continue
		}
		fresh, err := s.GetJob(ctx, j.AccountID, j.ID.Hex())
		if err != nil {
			return nil, err
		}
		if fresh.State != JobRunning || fresh.Owner != owner || fresh.Attempt != attempt {
			continue
		}
		return fresh, nil
	}
	return nil, ErrNotFound
}

// claimNext claims the job's next attempt. A claim whose claimer died before
// it updated the job (the job still shows the attempt before it) is stale
// once older than a lease: then the attempt after it is claimed, so a crash
// between the two writes cannot strand the job.
func (s *Store) claimNext(ctx context.Context, j *Job, owner string, lease time.Duration) (int, bool, error) {
	attempt := j.Attempt + 1
	won, err := s.claim(ctx, j, attempt, owner)
	if won || err != nil {
		return attempt, won, err
	}
	var latest struct {
		Attempt int       `bson:"attempt"`
		At      time.Time `bson:"at"`
	}
	err = s.claims.FindOne(ctx, bson.D{{"job_id", j.ID}, {"account_id", j.AccountID}},
		options.FindOne().SetSort(bson.D{{"attempt", -1}})).Decode(&latest)
	if err != nil {
		return 0, false, fmt.Errorf("claim job: %w", err)
	}
	if latest.Attempt <= j.Attempt || time.Since(latest.At) < lease {
		return 0, false, nil // someone holds it, or is about to
	}
	// The newest claim is old. It is stale only if its claimer never got to
	// update the job, which the job itself, read now, tells: the candidate
	// list may be older than that update.
	fresh, err := s.GetJob(ctx, j.AccountID, j.ID.Hex())
	if err != nil {
		return 0, false, err
	}
	if fresh.Attempt >= latest.Attempt || fresh.Terminal() {
		return 0, false, nil
	}
	attempt = latest.Attempt + 1
	won, err = s.claim(ctx, j, attempt, owner)
	return attempt, won, err
}

// claim records owner as the one who runs (or ends) claim number attempt of
// job j; false means someone else did first.
func (s *Store) claim(ctx context.Context, j *Job, attempt int, owner string) (bool, error) {
	_, err := s.claims.InsertOne(ctx, bson.D{
		{"_id", fmt.Sprintf("%s:%d", j.ID.Hex(), attempt)},
		{"job_id", j.ID},
		{"account_id", j.AccountID},
		{"attempt", attempt},
		{"owner", owner},
		{"at", now()},
	})
	if mongo.IsDuplicateKeyError(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("claim job: %w", err)
	}
	return true, nil
}

// Claims returns the owners of a job's claims in claim order (tests and
// operators use it to see takeovers).
func (s *Store) Claims(ctx context.Context, accountID, jobID string) ([]string, error) {
	oid, err := parseID(jobID)
	if err != nil {
		return nil, err
	}
	cur, err := s.claims.Find(ctx, bson.D{{"job_id", oid}, {"account_id", accountID}}, options.Find().SetSort(bson.D{{"attempt", 1}}))
	if err != nil {
		return nil, fmt.Errorf("list claims: %w", err)
	}
	var docs []struct {
		Owner string `bson:"owner"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("list claims: %w", err)
	}
	owners := make([]string, len(docs))
	for i, d := range docs {
		owners[i] = d.Owner
	}
	return owners, nil
}

// SaveProgress checkpoints a running job — its counts, which say how many
// rows are done — and renews its lease until now+lease. ErrConflict means the
// job is no longer running under this owner and claim.
func (s *Store) SaveProgress(ctx context.Context, j *Job, lease time.Duration) error {
	t := now()
	expires := t.Add(lease)
	res, err := s.jobs.UpdateOne(ctx, ownedBy(j),
		bson.D{{"$set", bson.D{
			{"counts", j.Counts},
			{"sections", j.Sections},
			{"column", j.Column},
			{"cancel_requested", j.CancelRequested},
			{"lease_expires_at", expires},
			{"updated_at", t},
		}}})
	if err != nil {
		return fmt.Errorf("save progress: %w", err)
	}
	if res.MatchedCount == 0 {
		return ErrConflict
	}
	j.LeaseExpiresAt = &expires
	return nil
}

// ReleaseLease saves the job's counts and ends the owner's lease now, so
// that another worker takes the job over at once where it stopped (a
// graceful shutdown).
func (s *Store) ReleaseLease(ctx context.Context, j *Job) error {
	t := now()
	_, err := s.jobs.UpdateOne(ctx, ownedBy(j), bson.D{{"$set", bson.D{
		{"counts", j.Counts},
		{"sections", j.Sections},
		{"lease_expires_at", t},
		{"updated_at", t},
	}}})
	if err != nil {
		return fmt.Errorf("release lease: %w", err)
	}
	return nil
}

func ownedBy(j *Job) bson.D {
	return bson.D{{"_id", j.ID}, {"account_id", j.AccountID}, {"owner", j.Owner}, {"attempt", j.Attempt}, {"state", JobRunning}}
}

// FinishJob ends a job in state (succeeded, cancelled or failed) with its
// final counts, and deletes a list job's identifiers. A job with an Owner is
// finished only under that owner's claim; without one (a queued job whose
// claim a cancel won) only if it has not started.
func (s *Store) FinishJob(ctx context.Context, j *Job, state, reason string, retention time.Duration) (*Job, error) {
	t := now()
	expire := t.Add(retention)
	filter := bson.D{{"_id", j.ID}, {"account_id", j.AccountID}, {"state", JobQueued}}
	if j.Owner != "" {
		filter = ownedBy(j)
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

// DeleteItemsOfEndedJobs deletes list items whose job has ended (its worker
// died between finishing it and deleting them), or never came to exist
// (items are stored just before their job, so only items older than an hour
// count as orphans).
func (s *Store) DeleteItemsOfEndedJobs(ctx context.Context) (int, error) {
	cur, err := s.items.Find(ctx, bson.D{}, options.Find().SetProjection(bson.D{{"_id", 1}, {"account_id", 1}, {"at", 1}}))
	if err != nil {
		return 0, fmt.Errorf("find job items: %w", err)
	}
	var docs []struct {
		ID        bson.ObjectID `bson:"_id"`
		AccountID string        `bson:"account_id"`
		At        time.Time     `bson:"at"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return 0, fmt.Errorf("find job items: %w", err)
	}
	n := 0
	for _, d := range docs {
		j, err := s.GetJob(ctx, d.AccountID, d.ID.Hex())
		switch {
		case err == nil && !j.Terminal():
			continue
		case errors.Is(err, ErrNotFound) && time.Since(d.At) < time.Hour:
			continue
		case err != nil && !errors.Is(err, ErrNotFound):
			return n, err
		}
		if err := s.deleteItems(ctx, d.AccountID, d.ID); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
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
	won, err := s.claim(ctx, j, 1, "cancel")
	if err != nil || !won {
		return j, err
	}
	return s.FinishJob(ctx, j, JobCancelled, "", 0)
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
