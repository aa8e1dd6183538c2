// Package job is the model of erasure's work, as the domain sees it: a job
// (what was asked, where it is, what it did), the outcome of each of its
// rows, the uploads files arrive in, and the audit trail that proves what
// was erased. These are plain values. The storage package maps them to its
// own documents and the server package to the API's messages; neither's
// types reach this package, and this package reaches neither.
package job

import (
	"fmt"
	"time"

	"github.com/erasure-dev/erasure/internal/identifier"
	"github.com/erasure-dev/erasure/internal/profile"
)

// State is where a job is in its life.
type State int8

// The states. Queued and Running are active; the others are final.
const (
	Queued State = iota + 1
	Running
	Succeeded
	Cancelled
	Failed
)

// Terminal reports whether a job in this state has ended.
func (s State) Terminal() bool {
	return s == Succeeded || s == Cancelled || s == Failed
}

func (s State) String() string {
	switch s {
	case Queued:
		return "queued"
	case Running:
		return "running"
	case Succeeded:
		return "succeeded"
	case Cancelled:
		return "cancelled"
	case Failed:
		return "failed"
	}
	return fmt.Sprintf("State(%d)", int8(s))
}

// Kind is where a job's rows come from.
type Kind int8

// The kinds.
const (
	// FromFile reads an uploaded CSV or XLSX file.
	FromFile Kind = iota + 1
	// FromList reads an inline list of identifiers.
	FromList
	// FromProfile targets one profile by id (a GDPR erasure).
	FromProfile
	// FromSegment reads the profile ids of a segment snapshot: the profiles
	// a segment matched when its deletion was previewed.
	FromSegment
)

func (k Kind) String() string {
	switch k {
	case FromFile:
		return "file"
	case FromList:
		return "list"
	case FromProfile:
		return "profile"
	case FromSegment:
		return "segment"
	}
	return fmt.Sprintf("Kind(%d)", int8(k))
}

// Action is what a job does to the profiles its rows match.
type Action int8

// The actions.
const (
	// Delete deletes the profile: its document, with its data in every
	// section.
	Delete Action = iota + 1
	// Unsubscribe opts out the consents an Unsubscribe spec selects; the
	// profile and its history stay.
	Unsubscribe
)

func (a Action) String() string {
	switch a {
	case Delete:
		return "delete"
	case Unsubscribe:
		return "unsubscribe"
	}
	return fmt.Sprintf("Action(%d)", int8(a))
}

// Job is a deletion or unsubscribe job: what was asked, where it is, and
// its report.
type Job struct {
	ID        string
	AccountID string
	Kind      Kind
	Action    Action
	State     State

	// Unsubscribe says which consents an Unsubscribe job opts out.
	Unsubscribe profile.ConsentFilter

	// IdentifierType is the Unique Identifier type rows are matched by;
	// zero for a FromProfile job, which matches by profile id.
	IdentifierType identifier.Type
	DefaultRegion  string

	// File is the file a FromFile job reads.
	File File
	// Column is the column read, as shown to users ("Email", "column B",
	// "list", "profile id").
	Column string

	// ProfileID is a FromProfile job's target.
	ProfileID string
	// SnapshotID is the segment snapshot a FromSegment job reads.
	SnapshotID string

	// CreatedBy is who asked for the job.
	CreatedBy Actor

	Counts Counts
	// StalledClaims counts the claims in a row that took the job over (its
	// lease had run out) and found it at the same checkpoint as the claim
	// before: attempts that made no progress.
	StalledClaims int
	// LastRow is the row number of the last row the counts include (0
	// before any, and for jobs stored before it was kept): the end of the
	// outcome range to read.
	LastRow  int64
	Sections []SectionCount

	CancelRequested bool
	// Error says why a failed job failed, for the person who ran it.
	Error string

	// Lease says which worker runs the job.
	Lease Lease

	CreatedAt  time.Time
	UpdatedAt  time.Time
	StartedAt  *time.Time
	FinishedAt *time.Time
	// OutcomesExpireAt is when the per-row outcomes are deleted.
	OutcomesExpireAt *time.Time
	// OutcomesPurged is set once they are.
	OutcomesPurged bool
}

// File is the upload, sheet and column a file job reads, as decided
// when it was queued, so that every worker reads the file the same way.
type File struct {
	UploadID string
	Filename string
	Sheet    string
	// Header says whether the sheet's first row holds column names: as
	// decided when the job was queued (jobs queued by early versions may
	// hold HeaderAuto, and decide again the same way).
	Header HeaderMode
	// ColumnName or ColumnNumber (1-based) is the column asked for.
	ColumnName   string
	ColumnNumber int
}

// HeaderMode says whether a sheet's first row holds column names.
type HeaderMode int8

// The header modes.
const (
	// HeaderAuto decides from the first row (see deletion's header tests).
	HeaderAuto HeaderMode = iota
	HeaderPresent
	HeaderAbsent
)

// Lease is a worker's hold on a running job.
type Lease struct {
	// Owner is the worker running the job, under claim number Attempt (1
	// for the first run, one more for each takeover).
	Owner   string
	Attempt int
	// ExpiresAt is when another worker may take the job over if the owner
	// has not renewed the lease by then.
	ExpiresAt *time.Time
}

// Counts are a job's totals.
type Counts struct {
	// TotalRows is how many rows the source has; zero until known.
	TotalRows int64
	// Rows is how many rows are done.
	Rows      int64
	Valid     int64
	Invalid   int64
	Duplicate int64
	Matched   int64
	NotFound  int64
	Deleted   int64
	// Unsubscribed and AlreadyUnsubscribed split Matched for an
	// unsubscribe.
	Unsubscribed        int64
	AlreadyUnsubscribed int64
	// NoLongerMatching counts the profiles of a segment snapshot that the
	// segment no longer matched when their batch ran; they are valid rows,
	// neither matched nor not found.
	NoLongerMatching int64
}

// SectionCount is how many matched profiles held data in a section; for an
// unsubscribe, how many held a selected consent there, and of them how many
// had one opted out.
type SectionCount struct {
	SectionID    string
	Profiles     int64
	Unsubscribed int64
}

// Actor is who asked for something: the subject, kind and role of the
// caller's token.
type Actor struct {
	Subject string
	Kind    string
	Role    string
}

// Request records that a call with a caller-chosen request id started a
// job, so that a retry of the call gets that job instead of a new one.
type Request struct {
	AccountID string
	// ID is the caller's request id.
	ID string
	// JobID is the job the call started (or is starting).
	JobID string
	// Fingerprint is a hash of the request's content.
	Fingerprint []byte
	CreatedAt   time.Time
	// ExpiresAt is when the id may be used for another request.
	ExpiresAt time.Time
}

// Delivery is a job's ending to post to its account's webhook.
type Delivery struct {
	JobID     string
	AccountID string
	// Body is the JSON posted: job id, kind, action, state and counts; no
	// identifier.
	Body []byte
	// Attempts are the attempts made, this one included once taken.
	Attempts int
}
