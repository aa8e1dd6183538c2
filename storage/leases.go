// Claims and leases: how exactly one worker runs a job at a time, on
// MongoDB and on the embedded engine alike.

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
// claims at the same moment may exceed it by one each: callers serialize
// their own claims (package deletion does, per instance), and two
// instances claiming at the same moment still can.
func (s *Store) ClaimJob(ctx context.Context, owner string, lease time.Duration, maxPerAccount int) (*job.Job, error) {
	t := now()
	cur, err := s.jobs.Find(ctx, bson.D{{"$or", bson.A{
		bson.D{{"state", stateQueued}},
		bson.D{{"state", stateRunning}, {"lease_expires_at", bson.D{{"$lt", t}}}},
	}}}, options.Find().SetSort(bson.D{{"_id", 1}}).SetLimit(20))
	if err != nil {
		return nil, fmt.Errorf("claim job: %w", err)
	}
	var candidates []jobDoc
	if err := cur.All(ctx, &candidates); err != nil {
		return nil, fmt.Errorf("claim job: %w", err)
	}
	busy := make(map[string]bool)
	for i := range candidates {
		j := &candidates[i]
		if maxPerAccount > 0 && j.State == stateQueued {
			full, ok := busy[j.AccountID]
			if !ok {
				n, err := s.jobs.CountDocuments(ctx, bson.D{{"account_id", j.AccountID}, {"state", stateRunning}})
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
		// A takeover that finds the job where the last claim found it
		// made no progress; any progress starts the count again.
		stalled := j.StalledClaims
		switch {
		case j.Counts.Rows != j.ClaimRows:
			stalled = 0
		case j.State == stateRunning:
			stalled++
		}
		set := bson.D{{"state", stateRunning}, {"owner", owner}, {"attempt", attempt}, {"lease_expires_at", expires}, {"updated_at", t},
			{"claim_rows", j.Counts.Rows}, {"stalled_claims", stalled}}
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
		if fresh.State != job.Running || fresh.Lease.Owner != owner || fresh.Lease.Attempt != attempt {
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
func (s *Store) claimNext(ctx context.Context, j *jobDoc, owner string, lease time.Duration) (int, bool, error) {
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
	if fresh.Lease.Attempt >= latest.Attempt || fresh.State.Terminal() {
		return 0, false, nil
	}
	attempt = latest.Attempt + 1
	won, err = s.claim(ctx, j, attempt, owner)
	return attempt, won, err
}

// claim records owner as the one who runs (or ends) claim number attempt of
// job j; false means someone else did first.
func (s *Store) claim(ctx context.Context, j *jobDoc, attempt int, owner string) (bool, error) {
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

// SaveProgress checkpoints a running job — its counts, which say how many
// rows are done — and renews its lease until now+lease. ErrConflict means the
// job is no longer running under this owner and claim.
func (s *Store) SaveProgress(ctx context.Context, j *job.Job, lease time.Duration) error {
	t := now()
	expires := t.Add(lease)
	res, err := s.jobs.UpdateOne(ctx, ownedBy(j),
		bson.D{{"$set", bson.D{
			{"counts", countsDoc(j.Counts)},
			{"last_row", j.LastRow},
			{"sections", toSectionDocs(j.Sections)},
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
	j.Lease.ExpiresAt = &expires
	return nil
}

// ReleaseLease saves the job's counts and ends the owner's lease now, so
// that another worker takes the job over at once where it stopped (a
// graceful shutdown).
func (s *Store) ReleaseLease(ctx context.Context, j *job.Job) error {
	t := now()
	_, err := s.jobs.UpdateOne(ctx, ownedBy(j), bson.D{{"$set", bson.D{
		{"counts", countsDoc(j.Counts)},
		{"sections", toSectionDocs(j.Sections)},
		{"lease_expires_at", t},
		{"updated_at", t},
	}}})
	if err != nil {
		return fmt.Errorf("release lease: %w", err)
	}
	return nil
}

func ownedBy(j *job.Job) bson.D {
	return bson.D{{"_id", jobID(j)}, {"account_id", j.AccountID}, {"owner", j.Lease.Owner}, {"attempt", j.Lease.Attempt}, {"state", stateRunning}}
}
