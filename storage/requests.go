package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/erasure-dev/erasure/internal/job"
)

// requestsCollection records the request ids of calls that started jobs
// (deletion_job_requests): one document per account and id, inserted
// before the job, so that of two calls with one id exactly one starts it.
const requestsCollection = "deletion_job_requests"

type requestDoc struct {
	// ID is "<account>\x00<request id>".
	ID          string    `bson:"_id"`
	AccountID   string    `bson:"account_id"`
	RequestID   string    `bson:"request_id"`
	JobID       string    `bson:"job_id"`
	Fingerprint []byte    `bson:"fingerprint"`
	CreatedAt   time.Time `bson:"created_at"`
	ExpiresAt   time.Time `bson:"expires_at"`
}

func requestKey(accountID, requestID string) string { return accountID + "\x00" + requestID }

// ClaimRequest records that r.ID of r.AccountID starts job r.JobID. When
// the id is recorded already (and not expired), it returns the record and
// ErrConflict.
func (s *Store) ClaimRequest(ctx context.Context, r *job.Request) (*job.Request, error) {
	d := requestDoc{ID: requestKey(r.AccountID, r.ID), AccountID: r.AccountID, RequestID: r.ID, JobID: r.JobID,
		Fingerprint: r.Fingerprint, CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt}
	_, err := s.requests.InsertOne(ctx, d)
	if err == nil {
		return nil, nil
	}
	if !mongo.IsDuplicateKeyError(err) {
		return nil, fmt.Errorf("claim request id: %w", err)
	}
	var old requestDoc
	err = s.requests.FindOne(ctx, bson.D{{"_id", d.ID}}).Decode(&old)
	if errors.Is(err, mongo.ErrNoDocuments) {
		// Released in between: claim again.
		return s.ClaimRequest(ctx, r)
	}
	if err != nil {
		return nil, fmt.Errorf("read request id: %w", err)
	}
	if !old.ExpiresAt.After(r.CreatedAt) {
		// Expired but not swept yet: the id is free again.
		if err := s.ReleaseRequest(ctx, old.AccountID, old.RequestID, old.JobID); err != nil {
			return nil, err
		}
		return s.ClaimRequest(ctx, r)
	}
	return &job.Request{AccountID: old.AccountID, ID: old.RequestID, JobID: old.JobID, Fingerprint: old.Fingerprint,
		CreatedAt: old.CreatedAt.UTC(), ExpiresAt: old.ExpiresAt.UTC()}, ErrConflict
}

// ReleaseRequest deletes the record of a request id, if it still names
// jobID: a call that failed before its job existed frees the id for a retry.
func (s *Store) ReleaseRequest(ctx context.Context, accountID, requestID, jobID string) error {
	if _, err := s.requests.DeleteOne(ctx, bson.D{{"_id", requestKey(accountID, requestID)}, {"job_id", jobID}}); err != nil {
		return fmt.Errorf("release request id: %w", err)
	}
	return nil
}

// DeleteExpiredRequests deletes the request ids past their window.
func (s *Store) DeleteExpiredRequests(ctx context.Context, now time.Time) (int64, error) {
	res, err := s.requests.DeleteMany(ctx, bson.D{{"expires_at", bson.D{{"$lte", now}}}})
	if err != nil {
		return 0, fmt.Errorf("delete expired request ids: %w", err)
	}
	return res.DeletedCount, nil
}
