package job

import "time"

// Upload is a file being received, or received and waiting for its job.
type Upload struct {
	ID        string
	AccountID string
	Filename  string
	// Length is the number of bytes stored so far.
	Length   int64
	Complete bool
	// JobID is set once a job has taken the upload; the job deletes it.
	JobID     string
	CreatedAt time.Time
	ExpiresAt time.Time
}
