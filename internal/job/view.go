package job

import "time"

// View is a job as shown to one caller at one moment: the job, its place in
// the queue, its pace, and the per-section counts of the sections the
// caller may see.
type View struct {
	Job Job
	// QueuePosition is a queued job's place in the queue (1 is next); zero
	// when not queued.
	QueuePosition int64
	Progress      Progress
	// Sections are Job.Sections less those the caller may not see.
	Sections []SectionCount
}

// Progress is a job's pace.
type Progress struct {
	Percent       float64
	RowsPerSecond float64
	// ETA is the estimated time left; zero when unknown or ended.
	ETA time.Duration
}

// ProgressAt computes the job's progress at time now.
func (j *Job) ProgressAt(now time.Time) Progress {
	var p Progress
	c := j.Counts
	if j.State == Succeeded {
		p.Percent = 100
	} else if c.TotalRows > 0 {
		p.Percent = 100 * float64(c.Rows) / float64(c.TotalRows)
	}
	if j.StartedAt == nil {
		return p
	}
	end := now
	if j.FinishedAt != nil {
		end = *j.FinishedAt
	}
	if elapsed := end.Sub(*j.StartedAt).Seconds(); elapsed > 0 {
		p.RowsPerSecond = float64(c.Rows) / elapsed
	}
	if !j.State.Terminal() && p.RowsPerSecond > 0 && c.TotalRows > c.Rows {
		p.ETA = time.Duration(float64(c.TotalRows-c.Rows) / p.RowsPerSecond * float64(time.Second))
	}
	return p
}
