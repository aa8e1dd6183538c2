package main

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"

	erasurev1 "github.com/erasure-dev/erasure/gen/erasure/v1"
)

// Progress goes to standard error, so standard output holds only results
// (-o json stays one document). On a terminal it is a bar redrawn in place;
// otherwise plain lines, at most one per lineInterval.

// lineInterval is how often plain progress lines are written.
const lineInterval = 2 * time.Second

// bar is a progress bar on a terminal, or nothing (bars show only there).
type bar struct {
	pb *progressbar.ProgressBar
	w  io.Writer
}

func (c *cli) bar(max int64, desc string, opts ...progressbar.Option) *bar {
	if !c.tio.errTerminal {
		return &bar{}
	}
	opts = append([]progressbar.Option{
		progressbar.OptionSetWriter(c.tio.err),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionSetWidth(30),
		progressbar.OptionSetRenderBlankState(true),
		progressbar.OptionSpinnerType(14),
		// The spinner turns with each update: a spinner of its own would
		// keep drawing after the bar is left.
		progressbar.OptionSetSpinnerChangeInterval(0),
	}, opts...)
	return &bar{pb: progressbar.NewOptions64(max, opts...), w: c.tio.err}
}

// newBytesBar shows bytes sent of a total.
func (c *cli) newBytesBar(total int64, desc string) *bar {
	return c.bar(total, desc, progressbar.OptionShowBytes(true), progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true))
}

// newCountBar shows a count growing towards an unknown total.
func (c *cli) newCountBar(desc string) *bar {
	return c.bar(-1, desc, progressbar.OptionShowCount())
}

func (b *bar) add(n int64) {
	if b.pb != nil {
		b.pb.Add64(n)
	}
}

func (b *bar) set(n int64) {
	if b.pb != nil {
		b.pb.Set64(n)
	}
}

// stop leaves the bar as it is drawn and moves to the next line.
func (b *bar) stop() {
	if b.pb != nil {
		b.pb.Exit()
		fmt.Fprintln(b.w)
		b.pb = nil
	}
}

// jobDisplay shows a job's progress: on a terminal, once the job runs and
// its rows are counted, a bar with the rows done of the total, the rate and
// the time left; before that, and without a terminal, plain lines.
type jobDisplay struct {
	c   *cli
	bar *bar
	// total is what the bar was drawn for.
	total    int64
	state    erasurev1.JobState
	lastLine time.Time
	lastRows int64
}

func (c *cli) newJobDisplay() *jobDisplay { return &jobDisplay{c: c, lastRows: -1} }

func (d *jobDisplay) show(j *erasurev1.Job) {
	counts := j.GetCounts()
	switch {
	case !d.c.tio.errTerminal:
		d.line(j)
	case j.GetState() == erasurev1.JobState_JOB_STATE_RUNNING && counts.GetTotalRows() > 0:
		if d.bar == nil || counts.GetTotalRows() != d.total {
			d.stop()
			d.total = counts.GetTotalRows()
			d.bar = d.c.bar(d.total, actionWord(j),
				progressbar.OptionShowCount(),
				progressbar.OptionShowIts(),
				progressbar.OptionSetItsString("rows"),
				progressbar.OptionSetPredictTime(true),
				progressbar.OptionSetElapsedTime(true))
		}
		d.bar.set(counts.GetRows())
	case ended(j) && d.bar != nil:
		d.bar.set(counts.GetRows())
		d.stop()
	default:
		d.line(j)
	}
}

// line writes a plain progress line when the job's state changed, and
// while it runs at most one per lineInterval.
func (d *jobDisplay) line(j *erasurev1.Job) {
	w := d.c.tio.err
	counts := j.GetCounts()
	changed := j.GetState() != d.state
	if !changed && (counts.GetRows() == d.lastRows || time.Since(d.lastLine) < lineInterval) {
		return
	}
	d.state, d.lastRows, d.lastLine = j.GetState(), counts.GetRows(), time.Now()
	if j.GetState() != erasurev1.JobState_JOB_STATE_RUNNING {
		fmt.Fprintf(w, "job %s %s: %s\n", j.GetJobId(), stateWord(j), rowsDone(counts))
		return
	}
	s := fmt.Sprintf("job %s %s: %s", j.GetJobId(), actionWord(j), rowsDone(counts))
	if p := j.GetProgress(); p.GetRowsPerSecond() > 0 {
		s += fmt.Sprintf(", %.0f rows/s", p.GetRowsPerSecond())
		if p.GetEta() != nil {
			s += ", about " + p.GetEta().AsDuration().Round(time.Second).String() + " left"
		}
	}
	fmt.Fprintln(w, s)
}

func (d *jobDisplay) stop() {
	if d.bar != nil {
		d.bar.stop()
		d.bar = nil
	}
}

// rowsDone is "1200 of 30000 rows (4%)", or "1200 rows" before the total
// is known.
func rowsDone(c *erasurev1.Counts) string {
	if c.GetTotalRows() == 0 {
		return plural(c.GetRows(), "row", "rows")
	}
	return fmt.Sprintf("%d of %s (%d%%)", c.GetRows(), plural(c.GetTotalRows(), "row", "rows"), c.GetRows()*100/c.GetTotalRows())
}

// actionWord is what a running job does.
func actionWord(j *erasurev1.Job) string {
	if j.GetAction() == erasurev1.JobAction_JOB_ACTION_UNSUBSCRIBE {
		return "unsubscribing"
	}
	return "deleting"
}
