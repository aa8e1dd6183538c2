package deletion

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"slices"

	"github.com/erasure-dev/erasure/internal/job"
	"github.com/erasure-dev/erasure/internal/profile"
	"github.com/erasure-dev/erasure/storage"
)

// Caller is who makes a call: the account it acts in, the person or
// service asking, as the audit trail records them, and the sections they
// may see.
type Caller struct {
	AccountID string
	Actor     job.Actor
	// Sections are the sections the caller can see; empty means all.
	Sections []string
	// Request identifies a call that starts a job (see Request).
	Request Request
}

// CanSee reports whether the caller may see the section: every section
// unless the caller's token lists some.
func (c Caller) CanSee(section string) bool {
	return len(c.Sections) == 0 || slices.Contains(c.Sections, section)
}

// auditKey turns identifiers into the keyed hashes the audit trail holds.
// Each account's secret is derived from the service's audit key, so the
// trail of one account says nothing about another's, and a copy of the
// database without the key cannot be searched for a known e-mail address.
type auditKey []byte

// secret returns the account's HMAC key.
func (k auditKey) secret(accountID string) []byte {
	mac := hmac.New(sha256.New, k)
	mac.Write([]byte("erasure audit v1\x00" + accountID))
	return mac.Sum(nil)
}

// hashKey returns the hash of a Unique Identifier (its type and normalized
// value) under an account's secret.
func hashKey(secret []byte, key profile.Key) []byte {
	// The type's stored name is part of the hash: it must never change.
	return hashParts(secret, "key", key.Type.String(), key.Value)
}

// hashProfile returns the hash of a profile id under an account's secret.
func hashProfile(secret []byte, profileID string) []byte {
	return hashParts(secret, "profile", profileID)
}

func hashParts(secret []byte, parts ...string) []byte {
	mac := hmac.New(sha256.New, secret)
	for _, p := range parts {
		mac.Write([]byte(p))
		mac.Write([]byte{0})
	}
	return mac.Sum(nil)
}

// record writes an audit event about job j. A failure is returned: a
// destructive step does not go ahead unrecorded.
// The start and a cancel request keep their first record; a finish is
// replaced by the last, so the trail shows the state and counts the job
// ended with even if an earlier owner recorded a finish and then lost it.
func (s *Service) record(ctx context.Context, action job.AuditAction, by job.Actor, j *job.Job) error {
	return s.store.RecordAudit(ctx, &job.AuditEvent{
		ID:             j.ID + ":" + action.String(),
		AccountID:      j.AccountID,
		Action:         action,
		Actor:          by,
		JobID:          j.ID,
		JobKind:        j.Kind,
		JobAction:      j.Action,
		IdentifierType: j.IdentifierType,
		State:          j.State,
		Counts:         j.Counts,
	}, action == job.Finished)
}

// hashMatches fills in the hashes of the rows that matched a profile and
// have none yet (rows read back from a stored outcome have them).
func (s *Service) hashMatches(accountID string, batch []row) {
	var secret []byte
	for i := range batch {
		r := &batch[i]
		if r.match == nil || r.profileHash != nil {
			continue
		}
		if secret == nil {
			secret = s.auditKey.secret(accountID)
		}
		if r.match.Key.Value != "" {
			r.keyHash = hashKey(secret, r.match.Key)
		}
		r.profileHash = hashProfile(secret, r.match.ID)
	}
}

// AuditPage is a page of the audit trail.
type AuditPage struct {
	Events []job.AuditEvent
	// Next is the token of the next page, "" on the last.
	Next string
}

// ListAudit returns a page of the account's audit trail, newest first,
// optionally only one job's events.
func (s *Service) ListAudit(ctx context.Context, accountID, jobID string, pageSize int, pageToken string) (*AuditPage, error) {
	if err := checkAccount(accountID); err != nil {
		return nil, err
	}
	pageSize, err := clampPageSize(pageSize)
	if err != nil {
		return nil, err
	}
	if jobID != "" && !storage.ValidID(jobID) {
		return nil, invalidf("job_id is not a job id: it has 24 hexadecimal digits").because("INVALID_ID").at("job_id")
	}
	// The query a token is bound to: the whole trail, or one job's events.
	query := "audit:" + jobID
	var after *storage.AuditCursor
	if pageToken != "" {
		after = new(storage.AuditCursor)
		raw, err := s.openPage(accountID, query, pageToken)
		if err != nil || json.Unmarshal(raw, after) != nil || after.ID == "" {
			return nil, badPageToken()
		}
	}
	events, err := s.store.ListAudit(ctx, accountID, jobID, pageSize+1, after)
	if err != nil {
		return nil, err
	}
	p := &AuditPage{Events: events}
	if len(events) > pageSize {
		p.Events = events[:pageSize]
		last := p.Events[pageSize-1]
		raw, _ := json.Marshal(storage.AuditCursor{Seq: last.Seq, ID: last.ID})
		p.Next = s.sealPage(accountID, query, raw)
	}
	return p, nil
}

// clampPageSize applies the page size rules of the List calls: 50 when zero,
// 500 at most.
func clampPageSize(n int) (int, error) {
	switch {
	case n < 0:
		return 0, invalidf("page_size must not be negative").because("INVALID_PAGE_SIZE").at("page_size")
	case n == 0:
		return 50, nil
	}
	return min(n, 500), nil
}

// VerifyErasure returns the account's erasure records of a person, given
// either their identifier (value, read with spec) or the deleted profile's
// id. The value is hashed as the trail stores it and never kept.
func (s *Service) VerifyErasure(ctx context.Context, accountID string, spec Spec, value, profileID string) ([]job.Erasure, error) {
	if err := checkAccount(accountID); err != nil {
		return nil, err
	}
	secret := s.auditKey.secret(accountID)
	switch {
	case (value == "") == (profileID == ""):
		return nil, invalidf("give either value (with spec.identifier_type) or profile_id").because("TARGET_REQUIRED").at("value")
	case profileID != "":
		id, err := (profileIDs{}).Normalize(profileID)
		if err != nil {
			return nil, invalidf("profile_id is not a profile id: it has 24 hexadecimal digits").because("INVALID_ID").at("profile_id")
		}
		return s.store.FindErasures(ctx, accountID, hashProfile(secret, id), true)
	}
	norm, err := spec.normalizer()
	if err != nil {
		return nil, err
	}
	normalized, err := norm.Normalize(value)
	if err != nil {
		// The value is not echoed: it is the personal data being asked about.
		return nil, invalidf("value is not a valid %s (%s), so no profile can have been deleted by it",
			displayName(spec.Type), reasonOf(err, "it cannot be read")).because("INVALID_IDENTIFIER").at("value")
	}
	return s.store.FindErasures(ctx, accountID, hashKey(secret, profile.Key{Type: spec.Type, Value: normalized}), false)
}
