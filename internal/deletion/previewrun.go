package deletion

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"time"

	"github.com/erasure-dev/erasure/internal/job"
	"github.com/erasure-dev/erasure/storage"
)

const (
	// previewTTL is how long a preview run on the server, and the sample
	// rows its result holds, is kept.
	previewTTL = time.Hour
	// previewLost is how long a running preview may go without a write
	// before it is taken as lost with its server.
	previewLost = 15 * time.Second
)

// The states of a preview run on the server.
const (
	PreviewRunning   = "running"
	PreviewSucceeded = "succeeded"
	PreviewFailed    = "failed"
	PreviewCancelled = "cancelled"
	// PreviewLost: its server stopped before it ended; start it again.
	PreviewLost = "lost"
)

// PreviewRun is a preview run on the server, as a caller sees it.
type PreviewRun struct {
	ID    string
	State string
	// Rows is how many rows were read so far.
	Rows int64
	// Result is the summary, once the preview succeeded.
	Result *Preview
	// Error says why it failed or was lost.
	Error string
}

// StartPreview checks a preview of a file (values nil) or a list and starts
// it on the server, where it goes on when the caller leaves: the caller
// follows it with WatchPreview, from any instance, and may cancel it. It
// writes its progress about once a second and keeps its result for an
// hour.
func (s *Service) StartPreview(ctx context.Context, by Caller, src FileSource, values []string, spec Spec, task Task) (string, error) {
	kind := job.FromFile
	if values != nil {
		kind = job.FromList
	}
	pr, err := s.startPreview(ctx, by, spec, task, kind)
	if err != nil {
		return "", err
	}
	var rows rowSource
	label := "list"
	var hasHeader bool
	if values != nil {
		if err := s.checkList(values); err != nil {
			return "", err
		}
		rows = &listSource{items: values}
		pr.rowsAtMost = int64(len(values))
	} else {
		c, err := s.openFileColumn(ctx, by.AccountID, src, pr.match)
		if err != nil {
			return "", err
		}
		rows, label, hasHeader = c, c.label, c.sh.hasHeader
		pr.rowsAtMost = c.rowsAtMost()
	}
	id, err := s.store.CreatePreview(ctx, by.AccountID, s.now().Add(previewTTL))
	if err != nil {
		rows.close()
		return "", err
	}
	go s.runPreview(by, id, pr, rows, label, hasHeader, src, values != nil)
	return id, nil
}

// runPreview runs a started preview to its end, detached from the call
// that started it.
func (s *Service) runPreview(by Caller, id string, pr *previewRun, rows rowSource, label string, hasHeader bool, src FileSource, list bool) {
	defer rows.close()
	s.previewsHere.Store(id, true)
	defer s.previewsHere.Delete(id)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var read atomic.Int64
	counted := &countingSource{rowSource: rows, n: &read}
	// Progress, and the cancel flag, once a second while it runs.
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			cancelled, err := s.store.SavePreview(ctx, by.AccountID, id, PreviewRunning, read.Load(), nil, "")
			if cancelled || errors.Is(err, storage.ErrConflict) {
				cancel()
			}
		}
	}()
	p, err := pr.run(ctx, counted, label)
	if err == nil {
		p.HasHeader = hasHeader
		switch {
		case !list && p.Counts.Rows == 0:
			err = noRows(hasHeader)
		case !list:
			if w, ok := pr.typeMismatch(label); ok {
				w.Message += s.betterColumn(ctx, by.AccountID, src, pr.spec.Type, counted.rowSource.(*columnReader).col)
				p.Warnings = append(p.Warnings, w)
			}
		default:
			if w, ok := pr.typeMismatch(label); ok {
				p.Warnings = append(p.Warnings, w)
			}
		}
	}
	close(stop)
	<-done
	state, reason := PreviewSucceeded, ""
	var result []byte
	var e *Error
	switch {
	case ctx.Err() != nil:
		state = PreviewCancelled
	case errors.As(err, &e):
		state, reason = PreviewFailed, e.Msg
	case err != nil:
		state, reason = PreviewFailed, "internal error; start the preview again"
		s.logger.Error("preview failed", "preview_id", id, "account_id", by.AccountID, "error", err)
	default:
		if result, err = json.Marshal(p); err != nil {
			state, reason = PreviewFailed, "internal error; start the preview again"
		}
	}
	final, cancelFinal := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancelFinal()
	if _, err := s.store.SavePreview(final, by.AccountID, id, state, read.Load(), result, reason); err != nil && !errors.Is(err, storage.ErrConflict) {
		s.logger.Warn("could not record a preview's end; watchers will see it lost", "preview_id", id, "error", err)
	}
}

// countingSource counts the rows read from a source.
type countingSource struct {
	rowSource
	n *atomic.Int64
}

func (c *countingSource) next() (int64, string, cellState, error) {
	num, v, state, err := c.rowSource.next()
	if err == nil {
		c.n.Add(1)
	}
	return num, v, state, err
}

// CancelPreview asks a running preview of the caller's account to stop;
// it stops within about a second.
func (s *Service) CancelPreview(ctx context.Context, by Caller, id string) error {
	if err := checkAccount(by.AccountID); err != nil {
		return err
	}
	return notFound(s.store.CancelPreview(ctx, by.AccountID, id), "preview", id)
}

// WatchPreview sends a preview's state at once, when it changes and at
// least once a second, until it ends; the last message holds the result.
func (s *Service) WatchPreview(ctx context.Context, by Caller, id string, send func(PreviewRun) error) error {
	if err := checkAccount(by.AccountID); err != nil {
		return err
	}
	var last PreviewRun
	lastSent := time.Time{}
	t := time.NewTicker(s.cfg.WatchPoll)
	defer t.Stop()
	for {
		rec, err := s.store.GetPreview(ctx, by.AccountID, id)
		if err != nil {
			return notFound(err, "preview", id)
		}
		run := PreviewRun{ID: rec.ID, State: rec.State, Rows: rec.Rows, Error: rec.Error}
		if _, here := s.previewsHere.Load(id); run.State == PreviewRunning && time.Since(rec.UpdatedAt) > previewLost && !here {
			run.State, run.Error = PreviewLost, "the preview stopped with the server that ran it; start it again"
		}
		if run.State == PreviewSucceeded {
			run.Result = new(Preview)
			if err := json.Unmarshal(rec.Result, run.Result); err != nil {
				return err
			}
			run.Result.Sections = visibleSections(by, run.Result.Sections)
		}
		if run.State != last.State || run.Rows != last.Rows || time.Since(lastSent) >= heartbeat {
			if err := send(run); err != nil {
				return err
			}
			last, lastSent = run, time.Now()
		}
		if run.State != PreviewRunning {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
