package deletion

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/erasure-dev/erasure/internal/job"
	"github.com/erasure-dev/erasure/internal/profile"
	"github.com/erasure-dev/erasure/storage"
)

// hintErased explains the rows of a batch that matched nothing because an
// earlier job erased their profile: "already erased by job X on DATE". It
// finds them by the audit trail's keyed hashes, in one query, so no
// identifier is kept in clear for it. Such a hint replaces any other: it
// is the answer to "why was this row not found?".
func (s *Service) hintErased(ctx context.Context, accountID string, m matcher, batch []row) error {
	secret := s.auditKey.secret(accountID)
	var hashes [][]byte
	byRow := make(map[int][]byte)
	for i, r := range batch {
		if r.outcome != job.NotFound || r.stored {
			continue
		}
		var h []byte
		if m.typ == 0 {
			h = hashProfile(secret, r.normalized)
		} else {
			h = hashKey(secret, profile.Key{Type: m.typ, Value: r.normalized})
		}
		hashes = append(hashes, h)
		byRow[i] = h
	}
	if len(hashes) == 0 {
		return nil
	}
	erased, err := s.store.LastErasures(ctx, accountID, hashes, m.typ == 0)
	if err != nil {
		return fmt.Errorf("find earlier erasures: %w", err)
	}
	for i, h := range byRow {
		if e, ok := erased[string(h)]; ok {
			batch[i].hint = erasedHint(e)
			batch[i].erased = true
		}
	}
	return nil
}

func erasedHint(e job.Erasure) string {
	return fmt.Sprintf("already erased by job %s on %s", e.JobID, e.At.UTC().Format(time.DateOnly))
}

// requireProfile fails with NotFound, saying that nothing was changed and
// whether an earlier job erased it, unless the account has the profile.
func (s *Service) requireProfile(ctx context.Context, accountID, profileID string) error {
	id, err := (profileIDs{}).Normalize(profileID)
	if err != nil {
		return err
	}
	_, err = s.store.FindByID(ctx, accountID, id, false)
	if !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	h := hashProfile(s.auditKey.secret(accountID), id)
	erased, err := s.store.LastErasures(ctx, accountID, [][]byte{h}, true)
	if err != nil {
		return err
	}
	if e, ok := erased[string(h)]; ok {
		return &Error{Kind: NotFound, Reason: "PROFILE_ALREADY_ERASED", Meta: map[string]string{"profile_id": id, "job_id": e.JobID},
			Msg: fmt.Sprintf("profile %s was %s; nothing was changed now", id, erasedHint(e))}
	}
	return &Error{Kind: NotFound, Reason: "PROFILE_NOT_FOUND", Meta: map[string]string{"profile_id": id}, Msg: fmt.Sprintf(
		"profile %s not found in this account: nothing was changed (check the id; a profile deleted outside erasure leaves no trace here)", id)}
}
