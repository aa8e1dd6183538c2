package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/erasure-dev/erasure/internal/job"
	"github.com/erasure-dev/erasure/internal/profile"
)

// Job states as stored.
const (
	stateQueued    = "queued"
	stateRunning   = "running"
	stateSucceeded = "succeeded"
	stateCancelled = "cancelled"
	stateFailed    = "failed"
)

var (
	stateNames = enumNames[job.State]{
		job.Queued: stateQueued, job.Running: stateRunning, job.Succeeded: stateSucceeded,
		job.Cancelled: stateCancelled, job.Failed: stateFailed,
	}
	kindNames   = enumNames[job.Kind]{job.FromFile: "file", job.FromList: "list", job.FromProfile: "profile", job.FromSegment: "segment"}
	headerModes = enumNames[job.HeaderMode]{job.HeaderAuto: "auto", job.HeaderPresent: "present", job.HeaderAbsent: "absent"}
	actionNames = enumNames[job.Action]{job.Delete: "delete", job.Unsubscribe: "unsubscribe"}
)

// jobDoc is a job as stored in deletion_jobs.
type jobDoc struct {
	ID        bson.ObjectID `bson:"_id"`
	AccountID string        `bson:"account_id"`
	Kind      string        `bson:"kind"`
	// Action is absent from jobs stored before there was more than one:
	// those deleted.
	Action      string            `bson:"action,omitempty"`
	Unsubscribe *consentFilterDoc `bson:"unsubscribe,omitempty"`
	State       string            `bson:"state"`

	IdentifierType string `bson:"identifier_type"`
	DefaultRegion  string `bson:"default_region,omitempty"`

	// File jobs.
	UploadID     string `bson:"upload_id,omitempty"`
	Filename     string `bson:"filename,omitempty"`
	Sheet        string `bson:"sheet,omitempty"`
	HeaderMode   string `bson:"header_mode,omitempty"`
	ColumnName   string `bson:"column_name,omitempty"`
	ColumnNumber int    `bson:"column_number,omitempty"`
	Column       string `bson:"column,omitempty"`

	ProfileID string `bson:"profile_id,omitempty"`
	// SnapshotID is a segment job's snapshot.
	SnapshotID string `bson:"snapshot_id,omitempty"`

	CreatedBy actorDoc `bson:"created_by"`

	Counts  countsDoc `bson:"counts"`
	LastRow int64     `bson:"last_row,omitempty"`
	// ClaimRows are the rows done when the job was last claimed, and
	// StalledClaims how many takeovers in a row found it there.
	ClaimRows     int64             `bson:"claim_rows,omitempty"`
	StalledClaims int               `bson:"stalled_claims,omitempty"`
	Sections      []sectionCountDoc `bson:"sections,omitempty"`

	CancelRequested bool   `bson:"cancel_requested,omitempty"`
	Error           string `bson:"error,omitempty"`

	Owner          string     `bson:"owner,omitempty"`
	Attempt        int        `bson:"attempt"`
	LeaseExpiresAt *time.Time `bson:"lease_expires_at,omitempty"`

	CreatedAt        time.Time  `bson:"created_at"`
	UpdatedAt        time.Time  `bson:"updated_at"`
	StartedAt        *time.Time `bson:"started_at,omitempty"`
	FinishedAt       *time.Time `bson:"finished_at,omitempty"`
	OutcomesExpireAt *time.Time `bson:"outcomes_expire_at,omitempty"`
	OutcomesPurged   bool       `bson:"outcomes_purged,omitempty"`
}

type countsDoc struct {
	TotalRows int64 `bson:"total_rows"`
	Rows      int64 `bson:"rows"`
	Valid     int64 `bson:"valid"`
	Invalid   int64 `bson:"invalid"`
	Duplicate int64 `bson:"duplicate"`
	Matched   int64 `bson:"matched"`
	NotFound  int64 `bson:"not_found"`
	Deleted   int64 `bson:"deleted"`
	// Unsubscribe jobs only.
	Unsubscribed        int64 `bson:"unsubscribed,omitempty"`
	AlreadyUnsubscribed int64 `bson:"already_unsubscribed,omitempty"`
	// Segment jobs only.
	NoLongerMatching int64 `bson:"no_longer_matching,omitempty"`
}

type consentFilterDoc struct {
	Channel  string   `bson:"channel"`
	Topics   []string `bson:"topics,omitempty"`
	Sections []string `bson:"sections,omitempty"`
}

// sectionCountDoc is stored in a list, not a map: section ids are user data
// and may hold characters that field names may not.
type sectionCountDoc struct {
	SectionID    string `bson:"section_id"`
	Profiles     int64  `bson:"profiles"`
	Unsubscribed int64  `bson:"unsubscribed,omitempty"`
}

type actorDoc struct {
	Subject string `bson:"subject"`
	Kind    string `bson:"kind"`
	Role    string `bson:"role"`
}

func toJobDoc(j *job.Job) (jobDoc, error) {
	if actionNames.name(j.Action) == "" {
		// Stored without an action, a job would read back as a deletion.
		return jobDoc{}, fmt.Errorf("job %q has no action", j.ID)
	}
	oid, err := bson.ObjectIDFromHex(j.ID)
	if err != nil {
		return jobDoc{}, fmt.Errorf("job id %q: %w", j.ID, err)
	}
	d := jobDoc{
		ID:               oid,
		AccountID:        j.AccountID,
		Kind:             storedKind(j.Kind, j.Action),
		Action:           actionNames.name(j.Action),
		State:            stateNames.name(j.State),
		IdentifierType:   keyTypes.name(j.IdentifierType),
		DefaultRegion:    j.DefaultRegion,
		UploadID:         j.File.UploadID,
		Filename:         j.File.Filename,
		Sheet:            j.File.Sheet,
		ColumnName:       j.File.ColumnName,
		ColumnNumber:     j.File.ColumnNumber,
		Column:           j.Column,
		ProfileID:        j.ProfileID,
		SnapshotID:       j.SnapshotID,
		CreatedBy:        actorDoc(j.CreatedBy),
		Counts:           countsDoc(j.Counts),
		LastRow:          j.LastRow,
		Sections:         toSectionDocs(j.Sections),
		CancelRequested:  j.CancelRequested,
		Error:            j.Error,
		Owner:            j.Lease.Owner,
		Attempt:          j.Lease.Attempt,
		LeaseExpiresAt:   j.Lease.ExpiresAt,
		CreatedAt:        j.CreatedAt,
		UpdatedAt:        j.UpdatedAt,
		StartedAt:        j.StartedAt,
		FinishedAt:       j.FinishedAt,
		OutcomesExpireAt: j.OutcomesExpireAt,
		OutcomesPurged:   j.OutcomesPurged,
	}
	if j.Action == job.Unsubscribe {
		f := j.Unsubscribe
		d.Unsubscribe = &consentFilterDoc{Channel: f.Channel, Topics: f.Topics, Sections: f.Sections}
	}
	if j.Kind == job.FromFile {
		d.HeaderMode = headerModes.name(j.File.Header)
	}
	return d, nil
}

func (d *jobDoc) job() *job.Job {
	j := &job.Job{
		ID:             d.ID.Hex(),
		AccountID:      d.AccountID,
		Kind:           kindNames.value(strings.TrimPrefix(d.Kind, unsubscribeKindPrefix)),
		State:          stateNames.value(d.State),
		IdentifierType: keyTypes.value(d.IdentifierType),
		DefaultRegion:  d.DefaultRegion,
		File: job.File{
			UploadID:     d.UploadID,
			Filename:     d.Filename,
			Sheet:        d.Sheet,
			Header:       headerModes.value(d.HeaderMode),
			ColumnName:   d.ColumnName,
			ColumnNumber: d.ColumnNumber,
		},
		Column:           d.Column,
		ProfileID:        d.ProfileID,
		SnapshotID:       d.SnapshotID,
		CreatedBy:        job.Actor(d.CreatedBy),
		Counts:           job.Counts(d.Counts),
		LastRow:          d.LastRow,
		StalledClaims:    d.StalledClaims,
		Sections:         fromSectionDocs(d.Sections),
		CancelRequested:  d.CancelRequested,
		Error:            d.Error,
		Lease:            job.Lease{Owner: d.Owner, Attempt: d.Attempt, ExpiresAt: d.LeaseExpiresAt},
		CreatedAt:        d.CreatedAt,
		UpdatedAt:        d.UpdatedAt,
		StartedAt:        d.StartedAt,
		FinishedAt:       d.FinishedAt,
		OutcomesExpireAt: d.OutcomesExpireAt,
		OutcomesPurged:   d.OutcomesPurged,
		Action:           jobActionOf(d.Kind, d.Action),
	}
	if u := d.Unsubscribe; u != nil {
		j.Unsubscribe = profile.ConsentFilter{Channel: u.Channel, Topics: u.Topics, Sections: u.Sections}
	}
	return j
}

// unsubscribeKindPrefix marks the stored kind of an unsubscribe job
// ("unsubscribe_file"). Versions before unsubscribing read a job's action
// from nothing but its kind, and would have run an unsubscribe job of kind
// "file" as a deletion; a kind they do not know, they fail instead.
const unsubscribeKindPrefix = "unsubscribe_"

func storedKind(k job.Kind, a job.Action) string {
	if a == job.Unsubscribe {
		return unsubscribeKindPrefix + kindNames.name(k)
	}
	return kindNames.name(k)
}

// jobActionOf reads a job's action from its stored kind and action: a job
// is a deletion only when it says so or was stored before there were
// actions (a plain kind, no action); anything else that is not an
// unsubscribe is unknown (zero), which no worker runs.
func jobActionOf(kind, action string) job.Action {
	a := actionOf(action)
	if strings.HasPrefix(kind, unsubscribeKindPrefix) {
		if a != job.Unsubscribe {
			return 0
		}
		return a
	}
	if a == job.Unsubscribe {
		return 0 // an unsubscribe must carry its kind's mark
	}
	return a
}

// actionOf reads a stored action; events and jobs stored without one are
// deletions.
func actionOf(name string) job.Action {
	if name == "" {
		return job.Delete
	}
	return actionNames.value(name)
}

func toSectionDocs(list []job.SectionCount) []sectionCountDoc {
	return convertAll(list, func(s job.SectionCount) sectionCountDoc { return sectionCountDoc(s) })
}

func fromSectionDocs(list []sectionCountDoc) []job.SectionCount {
	return convertAll(list, func(s sectionCountDoc) job.SectionCount { return job.SectionCount(s) })
}

func jobID(j *job.Job) bson.ObjectID {
	oid, _ := bson.ObjectIDFromHex(j.ID)
	return oid
}

// CreateJob stores a new job; it assigns the id when unset. items are a
// list job's identifiers: they are kept apart from the job, which is read
// often, and deleted when the job ends (the service keeps identifiers only
// in per-row outcomes).
func (s *Store) CreateJob(ctx context.Context, j *job.Job, items []string) error {
	if j.ID == "" {
		j.ID = NewID()
	}
	t := now()
	j.CreatedAt, j.UpdatedAt = t, t
	d, err := toJobDoc(j)
	if err != nil {
		return err
	}
	if items != nil {
		// Items first: a job is never visible without them.
		doc := bson.D{{"_id", d.ID}, {"account_id", j.AccountID}, {"at", t}, {"items", items}}
		if _, err := s.items.InsertOne(ctx, doc); err != nil {
			return fmt.Errorf("create job items: %w", err)
		}
	}
	if _, err := s.jobs.InsertOne(ctx, d); err != nil {
		return fmt.Errorf("create job: %w", err)
	}
	return nil
}

// GetJob returns the account's job.
func (s *Store) GetJob(ctx context.Context, accountID, id string) (*job.Job, error) {
	var d jobDoc
	if err := findOwned(ctx, s.jobs, accountID, id, "get job", &d); err != nil {
		return nil, err
	}
	return d.job(), nil
}

// ListJobs returns up to limit of the account's jobs, newest first, older
// than the job with id before (all when before is empty).
func (s *Store) ListJobs(ctx context.Context, accountID string, limit int, before string) ([]job.Job, error) {
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
	return decodeJobs(ctx, cur, "list jobs")
}

// QueuePosition returns a queued job's place in the queue: 1 plus the
// number of queued jobs created before it, which workers take first.
func (s *Store) QueuePosition(ctx context.Context, j *job.Job) (int64, error) {
	n, err := s.jobs.CountDocuments(ctx, bson.D{{"state", stateQueued}, {"_id", bson.D{{"$lt", jobID(j)}}}})
	if err != nil {
		return 0, fmt.Errorf("queue position: %w", err)
	}
	return n + 1, nil
}

// FinishJob ends a job in state (succeeded, cancelled or failed) with its
// final counts, and deletes a list job's identifiers. A job with an Owner is
// finished only under that owner's claim; without one (a queued job whose
// claim a cancel won) only if it has not started.
func (s *Store) FinishJob(ctx context.Context, j *job.Job, state job.State, reason string, retention time.Duration) (*job.Job, error) {
	t := now()
	expire := t.Add(retention)
	filter := bson.D{{"_id", jobID(j)}, {"account_id", j.AccountID}, {"state", stateQueued}}
	if j.Lease.Owner != "" {
		filter = ownedBy(j)
	}
	set := bson.D{
		{"state", stateNames.name(state)},
		{"counts", countsDoc(j.Counts)},
		{"last_row", j.LastRow},
		{"sections", toSectionDocs(j.Sections)},
		{"column", j.Column},
		{"cancel_requested", j.CancelRequested},
		{"finished_at", t},
		{"updated_at", t},
		{"outcomes_expire_at", expire},
	}
	if reason != "" {
		set = append(set, bson.E{"error", reason})
	}
	var out jobDoc
	err := s.jobs.FindOneAndUpdate(ctx, filter,
		bson.D{{"$set", set}},
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&out)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, ErrConflict
	}
	if err != nil {
		return nil, fmt.Errorf("finish job: %w", err)
	}
	return out.job(), s.deleteItems(ctx, j.AccountID, out.ID)
}

// LoadItems returns a list job's identifiers.
func (s *Store) LoadItems(ctx context.Context, j *job.Job) ([]string, error) {
	var doc struct {
		Items []string `bson:"items"`
	}
	err := s.items.FindOne(ctx, bson.D{{"_id", jobID(j)}, {"account_id", j.AccountID}}).Decode(&doc)
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
		case err == nil && !j.State.Terminal():
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
func (s *Store) RequestCancel(ctx context.Context, accountID, id string) (*job.Job, error) {
	j, err := s.GetJob(ctx, accountID, id)
	if err != nil || j.State.Terminal() {
		return j, err
	}
	_, err = s.cancels.InsertOne(ctx, bson.D{{"_id", jobID(j)}, {"account_id", accountID}, {"at", now()}})
	if err != nil && !mongo.IsDuplicateKeyError(err) {
		return nil, fmt.Errorf("cancel job: %w", err)
	}
	j.CancelRequested = true
	if j.State != job.Queued {
		return j, nil
	}
	won, err := s.claim(ctx, &jobDoc{ID: jobID(j), AccountID: accountID}, 1, "cancel")
	if err != nil || !won {
		return j, err
	}
	return s.FinishJob(ctx, j, job.Cancelled, "", 0)
}

// CancelRequested reports whether someone asked the job to stop.
func (s *Store) CancelRequested(ctx context.Context, j *job.Job) (bool, error) {
	n, err := s.cancels.CountDocuments(ctx, bson.D{{"_id", jobID(j)}, {"account_id", j.AccountID}})
	if err != nil {
		return false, fmt.Errorf("check cancel: %w", err)
	}
	return n > 0, nil
}

// JobsWithExpiredOutcomes returns finished jobs whose per-row outcomes are
// due for deletion.
func (s *Store) JobsWithExpiredOutcomes(ctx context.Context, at time.Time, limit int) ([]job.Job, error) {
	cur, err := s.jobs.Find(ctx,
		bson.D{{"outcomes_expire_at", bson.D{{"$lt", at}}}, {"outcomes_purged", bson.D{{"$ne", true}}}},
		options.Find().SetLimit(int64(limit)).SetProjection(bson.D{{"_id", 1}, {"account_id", 1}}))
	if err != nil {
		return nil, fmt.Errorf("find expired outcomes: %w", err)
	}
	return decodeJobs(ctx, cur, "find expired outcomes")
}

// MarkOutcomesPurged records that a job's outcomes were deleted.
func (s *Store) MarkOutcomesPurged(ctx context.Context, j *job.Job) error {
	_, err := s.jobs.UpdateOne(ctx, bson.D{{"_id", jobID(j)}, {"account_id", j.AccountID}},
		bson.D{{"$set", bson.D{{"outcomes_purged", true}}}})
	if err != nil {
		return fmt.Errorf("mark outcomes purged: %w", err)
	}
	return nil
}

func decodeJobs(ctx context.Context, cur *mongo.Cursor, what string) ([]job.Job, error) {
	var docs []jobDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	jobs := make([]job.Job, len(docs))
	for i := range docs {
		jobs[i] = *docs[i].job()
	}
	return jobs, nil
}
