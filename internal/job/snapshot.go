package job

import "time"

// Snapshot is the frozen target of a deletion from a segment: the profiles
// the segment matched when the deletion was previewed. A job deletes from
// it, never from the segment as it is later, and checks each profile
// against the definition again when its batch runs.
type Snapshot struct {
	ID        string
	AccountID string
	// Definition is the segment, encoded by segment.Marshal. It may hold
	// values that identify a person (an attribute equal to an e-mail), so
	// it is deleted with the snapshot.
	Definition []byte
	// EvaluatedAt is the evaluation time of the segment's relative
	// conditions, for the freeze and every later check.
	EvaluatedAt time.Time
	CreatedAt   time.Time
	// ExpiresAt is when an unused snapshot is deleted; a snapshot a job
	// uses is deleted when the job ends.
	ExpiresAt time.Time
	CreatedBy Actor
	// Scope are the sections the creator may see (empty: all): the
	// segment's "any section" conditions look at those only, at the freeze
	// and at every later check.
	Scope []string
	// Profiles is how many profiles were frozen; Chunks how many stored
	// parts hold their ids.
	Profiles int64
	Chunks   int
	// Sections counts, per section, the frozen profiles holding data there,
	// every section included.
	Sections []SectionCount
	// Undecided is how many profiles the segment could not decide because
	// of data stored in a form erasure cannot read: they are not frozen.
	Undecided int64
	// JobID is the job that executes the snapshot, once one does.
	JobID string
}
