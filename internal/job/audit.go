package job

import (
	"fmt"
	"time"

	"github.com/erasure-dev/erasure/internal/identifier"
	"github.com/erasure-dev/erasure/internal/profile"
)

// AuditAction is what an audit event records.
type AuditAction int8

// The audit actions.
const (
	Started AuditAction = iota + 1
	CancelRequested
	Finished
)

func (a AuditAction) String() string {
	switch a {
	case Started:
		return "job_started"
	case CancelRequested:
		return "job_cancel_requested"
	case Finished:
		return "job_finished"
	}
	return fmt.Sprintf("AuditAction(%d)", int8(a))
}

// AuditEvent is one entry of an account's audit trail. It holds no
// identifier of a person: identifiers are recorded only as keyed hashes, in
// Erasure records.
type AuditEvent struct {
	// ID is the job id and the action, so that an event written again by a
	// retried or resumed step is stored once.
	ID        string
	AccountID string
	At        time.Time
	// Seq orders the trail: the time of recording in nanoseconds, so two
	// events of the same millisecond (a short job's start and finish) keep
	// their order.
	Seq            int64
	Action         AuditAction
	Actor          Actor
	JobID          string
	JobKind        Kind
	JobAction      Action
	IdentifierType identifier.Type
	// State and Counts are the job's when the event was recorded.
	State  State
	Counts Counts
}

// Erasure records that a job deleted the profile a row matched. The
// identifier and the profile id are kept only as keyed hashes (HMAC-SHA256
// with a secret of the account), so the record proves an erasure to whoever
// can present the identifier, and tells nothing to anyone else.
type Erasure struct {
	JobID       string
	JobKind     Kind
	Row         int64
	At          time.Time
	KeyHash     []byte
	ProfileHash []byte
}

// Unsubscription records that a job opted out consents of the profile a row
// matched, with the profile's identifiers only as keyed hashes, as for an
// Erasure.
type Unsubscription struct {
	// Erasure holds the job, row, time and hashes, as an erasure record
	// does (no profile was erased).
	Erasure
	Consents []profile.ConsentRef
}
