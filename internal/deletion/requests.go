package deletion

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/erasure-dev/erasure/internal/job"
	"github.com/erasure-dev/erasure/storage"
)

// Request identifies a call that starts a job, so that a retry of it (the
// Go client retries UNAVAILABLE; a user clicks twice) gets the job the first
// call started instead of a second job.
type Request struct {
	// ID is the caller's request id (1 to 128 letters, digits and "-_.:");
	// empty means the call is not to be recognised again.
	ID string
	// Fingerprint is a hash of what the call asks, with the id and the
	// account left out: the same id with another fingerprint is another
	// request, refused.
	Fingerprint []byte
}

// RequestWindow is how long a request id is remembered.
const RequestWindow = 24 * time.Hour

// requestPending is how long a recorded request id whose job does not
// exist yet is taken to be a call still starting it; after that its call
// is taken to have died, and the id is free.
const requestPending = time.Minute

// startOnce starts a job with start, unless by.Request.ID already started
// one in the window: then it returns that job, and start is not called. The
// id is recorded before the job is started, so of two calls with one id
// exactly one starts it; a start that fails frees the id again.
func (s *Service) startOnce(ctx context.Context, by Caller, start func(jobID string) (*job.Job, error)) (*job.Job, error) {
	r := by.Request
	if r.ID == "" {
		return start(storage.NewID())
	}
	if !ValidRequestID(r.ID) {
		return nil, invalidf("request_id must be 1 to 128 letters, digits and \"-_.:\"; choose another").because("INVALID_REQUEST_ID").at("request_id")
	}
	for range 3 {
		now := s.now().UTC()
		claim := &job.Request{AccountID: by.AccountID, ID: r.ID, JobID: storage.NewID(), Fingerprint: r.Fingerprint, CreatedAt: now, ExpiresAt: now.Add(RequestWindow)}
		old, err := s.store.ClaimRequest(ctx, claim)
		if err == nil {
			j, err := start(claim.JobID)
			if err != nil {
				if rerr := s.store.ReleaseRequest(context.WithoutCancel(ctx), by.AccountID, r.ID, claim.JobID); rerr != nil {
					s.logger.WarnContext(ctx, "could not free a request id after a failed start", "error", rerr)
				}
				return nil, err
			}
			return j, nil
		}
		if !errors.Is(err, storage.ErrConflict) {
			return nil, err
		}
		if !bytes.Equal(old.Fingerprint, r.Fingerprint) {
			return nil, &Error{Kind: Exists, Reason: "REQUEST_ID_REUSED", Field: "request_id", Meta: map[string]string{"request_id": r.ID, "job_id": old.JobID},
				Msg: fmt.Sprintf("request_id %q already started job %s with another request; use a new id for a new request", r.ID, old.JobID)}
		}
		j, err := s.store.GetJob(ctx, by.AccountID, old.JobID)
		if err == nil {
			s.logger.InfoContext(ctx, "a retried request gets its job", "job_id", j.ID, "account_id", j.AccountID)
			return j, nil
		}
		if !errors.Is(err, storage.ErrNotFound) {
			return nil, err
		}
		if now.Sub(old.CreatedAt) < requestPending {
			return nil, &Error{Kind: Busy, Reason: "REQUEST_IN_PROGRESS", Meta: map[string]string{"request_id": r.ID},
				Msg: fmt.Sprintf("a call with request_id %q is starting its job now; try again in a moment", r.ID)}
		}
		// The call that recorded the id died before its job existed.
		if err := s.store.ReleaseRequest(ctx, by.AccountID, r.ID, old.JobID); err != nil {
			return nil, err
		}
	}
	return nil, &Error{Kind: Busy, Reason: "REQUEST_IN_PROGRESS", Meta: map[string]string{"request_id": r.ID},
		Msg: fmt.Sprintf("calls with request_id %q keep racing; try again in a moment", r.ID)}
}

// ValidRequestID reports whether id may be a request id.
func ValidRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, c := range []byte(id) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}
