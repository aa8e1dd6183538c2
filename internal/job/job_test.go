package job_test

import (
	"testing"
	"time"

	"github.com/erasure-dev/erasure/internal/job"
)

func TestProgressAt(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	end := start.Add(20 * time.Second)
	cases := []struct {
		name string
		job  job.Job
		now  time.Time
		want job.Progress
	}{
		{"queued", job.Job{State: job.Queued, Counts: job.Counts{TotalRows: 100}}, start, job.Progress{}},
		{"running", job.Job{State: job.Running, StartedAt: &start, Counts: job.Counts{TotalRows: 100, Rows: 25}},
			start.Add(10 * time.Second), job.Progress{Percent: 25, RowsPerSecond: 2.5, ETA: 30 * time.Second}},
		{"total not known yet", job.Job{State: job.Running, StartedAt: &start, Counts: job.Counts{Rows: 25}},
			start.Add(10 * time.Second), job.Progress{RowsPerSecond: 2.5}},
		{"succeeded", job.Job{State: job.Succeeded, StartedAt: &start, FinishedAt: &end, Counts: job.Counts{TotalRows: 100, Rows: 100}},
			end.Add(time.Hour), job.Progress{Percent: 100, RowsPerSecond: 5}},
		{"cancelled", job.Job{State: job.Cancelled, StartedAt: &start, FinishedAt: &end, Counts: job.Counts{TotalRows: 100, Rows: 40}},
			end.Add(time.Hour), job.Progress{Percent: 40, RowsPerSecond: 2}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := c.job.ProgressAt(c.now); got != c.want {
				t.Errorf("ProgressAt = %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestTerminal(t *testing.T) {
	t.Parallel()
	for s, want := range map[job.State]bool{job.Queued: false, job.Running: false, job.Succeeded: true, job.Cancelled: true, job.Failed: true} {
		if s.Terminal() != want {
			t.Errorf("%s.Terminal() = %v, want %v", s, !want, want)
		}
	}
}
