package job

import (
	"fmt"

	"github.com/erasure-dev/erasure/internal/profile"
)

// Outcome is what happened to one row.
type Outcome int8

// The outcomes.
const (
	// Deleted: the row matched a profile, which the job deleted.
	Deleted Outcome = iota + 1
	// NotFound: the row is valid but matched no profile.
	NotFound
	// Invalid: the row holds no valid identifier.
	Invalid
	// Duplicate: an earlier row of the job holds the same identifier.
	Duplicate
	// Unsubscribed: the row matched a profile whose selected consents the
	// job opted out.
	Unsubscribed
	// AlreadyUnsubscribed: the row matched a profile with no opted-in
	// consent the job selects; nothing changed.
	AlreadyUnsubscribed
	// NoLongerMatches: the row is a profile of a segment snapshot that the
	// segment no longer matched when its batch ran (see the reason); it was
	// left as it is.
	NoLongerMatches
)

func (o Outcome) String() string {
	switch o {
	case Deleted:
		return "deleted"
	case NotFound:
		return "not_found"
	case Invalid:
		return "invalid"
	case Duplicate:
		return "duplicate"
	case Unsubscribed:
		return "unsubscribed"
	case AlreadyUnsubscribed:
		return "already_unsubscribed"
	case NoLongerMatches:
		return "no_longer_matches"
	}
	return fmt.Sprintf("Outcome(%d)", int8(o))
}

// RowOutcome is what happened to one row of a job. It holds the identifier
// as read, so it is personal data: it is deleted when the job's outcome
// retention ends.
type RowOutcome struct {
	Row            int64
	Value          string
	Normalized     string
	Outcome        Outcome
	Reason         string
	DuplicateOfRow int64
	ProfileID      string
	// Sections are the deleted profile's sections, kept so that a batch
	// redone after an interruption reports them as its first try did.
	Sections []string
	// Consents are the consents an unsubscribed row opted out.
	Consents []profile.ConsentRef
	Hint     string
	// KeyHash and ProfileHash are the audit hashes of a deleted row's
	// profile, kept so that a redone batch records the erasure as its first
	// try would have.
	KeyHash     []byte
	ProfileHash []byte
}
