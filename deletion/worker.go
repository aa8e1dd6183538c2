package deletion

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/erasure-dev/erasure/identifier"
	"github.com/erasure-dev/erasure/storage"
)

// Run runs the workers and the sweeper until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for i := range s.cfg.Workers {
		owner := fmt.Sprintf("%s-%d", s.owner, i)
		wg.Go(func() { s.work(ctx, owner) })
	}
	wg.Go(func() { s.sweep(ctx) })
	wg.Wait()
	return nil
}

func (s *Service) notify() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// work claims and runs queued jobs one after another, as owner.
func (s *Service) work(ctx context.Context, owner string) {
	t := time.NewTicker(s.cfg.QueuePoll)
	defer t.Stop()
	for ctx.Err() == nil {
		j, err := s.store.ClaimJob(ctx, owner)
		switch {
		case err == nil:
			s.runJob(ctx, j, owner)
			// Another job may be waiting: look again at once.
			continue
		case errors.Is(err, storage.ErrNotFound):
		case ctx.Err() == nil:
			s.logger.ErrorContext(ctx, "could not claim a job", "error", err)
		}
		select {
		case <-ctx.Done():
		case <-s.wake:
		case <-t.C:
		}
	}
}

// runJob processes a claimed job to its end and logs the result.
func (s *Service) runJob(ctx context.Context, j *storage.Job, owner string) {
	log := s.logger.With("job_id", j.ID.Hex(), "account_id", j.AccountID)
	log.InfoContext(ctx, "job started", "kind", j.Kind, "identifier_type", j.IdentifierType)
	state, reason, err := s.process(ctx, j, owner)
	if ctx.Err() != nil {
		// Shutting down: the job stays running under this owner.
		log.WarnContext(ctx, "job interrupted by shutdown", "rows", j.Counts.Rows)
		return
	}
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			reason = e.Msg
		} else {
			reason = "internal error; the counts show what was done before it"
			log.ErrorContext(ctx, "job failed", "error", err)
		}
		state = storage.JobFailed
	}
	done, err := s.store.FinishJob(ctx, j, owner, state, reason, s.cfg.OutcomeRetention)
	if err != nil {
		log.ErrorContext(ctx, "could not finish job", "error", err)
		return
	}
	if j.UploadID != "" {
		if err := s.store.DeleteUpload(ctx, j.AccountID, j.UploadID); err != nil {
			log.WarnContext(ctx, "could not delete the job's upload; the sweeper will", "error", err)
		}
	}
	c := done.Counts
	log.InfoContext(ctx, "job finished", "state", done.State, "rows", c.Rows, "deleted", c.Deleted,
		"not_found", c.NotFound, "invalid", c.Invalid, "duplicate", c.Duplicate)
}

// process runs a job's rows and returns the state it ends in.
func (s *Service) process(ctx context.Context, j *storage.Job, owner string) (state, reason string, err error) {
	t, err := identifier.ParseType(j.IdentifierType)
	if err != nil {
		return "", "", fmt.Errorf("job identifier type: %w", err)
	}
	spec := Spec{Type: t, DefaultRegion: j.DefaultRegion}
	norm, err := spec.normalizer()
	if err != nil {
		return "", "", err
	}
	src, err := s.jobSource(ctx, j, owner)
	if err != nil {
		return "", "", err
	}
	defer src.close()
	cancel := s.cancelCheck(j)

	sections := sectionMap(j.Sections)
	c := newClassifier(norm, j.Column)
	batch := make([]row, 0, s.cfg.BatchSize)
	for {
		var readErr error
		batch, readErr = readBatch(src, c, batch, s.cfg.BatchSize)
		if readErr != nil && !errors.Is(readErr, io.EOF) {
			return "", "", readErr
		}
		if err := s.deleteBatch(ctx, j, spec.Type, batch, sections); err != nil {
			return "", "", err
		}
		if readErr != nil {
			return storage.JobSucceeded, "", nil
		}
		if j.CancelRequested, err = cancel(ctx); err != nil {
			return "", "", err
		}
		if j.CancelRequested {
			return storage.JobCancelled, "", nil
		}
		if err := s.store.SaveProgress(ctx, j, owner); err != nil {
			return "", "", fmt.Errorf("save progress: %w", err)
		}
	}
}

// cancelCheckInterval bounds how often a running job asks the store whether
// it was cancelled: often enough that a cancel takes effect within a batch
// or two, rarely enough to cost nothing per batch.
const cancelCheckInterval = 250 * time.Millisecond

// cancelCheck returns a function reporting whether the job was asked to
// stop, which reads the store at most once per cancelCheckInterval.
func (s *Service) cancelCheck(j *storage.Job) func(context.Context) (bool, error) {
	var last time.Time
	return func(ctx context.Context) (bool, error) {
		if time.Since(last) < cancelCheckInterval {
			return false, nil
		}
		last = time.Now()
		return s.store.CancelRequested(ctx, j)
	}
}

// deleteBatch resolves a batch, records every row's outcome, then deletes
// the matched profiles. Outcomes go first: if the delete is interrupted, the
// report already says what the batch was meant to do.
func (s *Service) deleteBatch(ctx context.Context, j *storage.Job, t identifier.Type, batch []row, sections map[string]int64) error {
	if len(batch) == 0 {
		return nil
	}
	if err := s.resolve(ctx, j.AccountID, t, batch, !s.cfg.DisableHints); err != nil {
		return err
	}
	outcomes := make([]storage.Outcome, len(batch))
	var ids []string
	for i, r := range batch {
		outcomes[i] = outcomeOf(r, j.ID.Hex(), j.AccountID)
		if r.match != nil {
			ids = append(ids, r.match.ID)
		}
	}
	if err := s.store.InsertOutcomes(ctx, outcomes); err != nil {
		return err
	}
	n, err := s.store.DeleteByIDs(ctx, j.AccountID, ids)
	if err != nil {
		return err
	}
	if n != int64(len(ids)) {
		// Someone else deleted some of them in between: they are gone
		// either way, and the counts say how many this job deleted.
		s.logger.WarnContext(ctx, "fewer profiles deleted than matched", "job_id", j.ID.Hex(), "matched", len(ids), "deleted", n)
	}
	tally(&j.Counts, sections, batch)
	j.Counts.Deleted += n
	j.Sections = sectionList(sections)
	return nil
}

// jobSource opens a job's rows. For a file it first reads the whole file
// once to count its rows: a file that cannot be read to the end fails here,
// before anything is deleted, and progress can be given as a percentage.
func (s *Service) jobSource(ctx context.Context, j *storage.Job, owner string) (rowSource, error) {
	switch j.Kind {
	case storage.KindList:
		items, err := s.store.LoadItems(ctx, j)
		if err != nil {
			return nil, err
		}
		j.Counts.TotalRows = int64(len(items))
		return &listSource{items: items}, nil
	case storage.KindFile:
		src := FileSource{
			UploadID:     j.UploadID,
			Options:      FileOptions{Sheet: j.Sheet, Header: parseHeaderMode(j.HeaderMode)},
			ColumnName:   j.ColumnName,
			ColumnNumber: j.ColumnNumber,
		}
		total, err := s.countRows(ctx, j.AccountID, src)
		if err != nil {
			return nil, err
		}
		j.Counts.TotalRows = total
		if err := s.store.SaveProgress(ctx, j, owner); err != nil {
			return nil, err
		}
		f, rows, _, err := s.openSource(ctx, j.AccountID, src)
		if err != nil {
			return nil, err
		}
		return &fileSource{sheetSource: rows, file: f}, nil
	}
	return nil, fmt.Errorf("job kind %q cannot be run by a worker", j.Kind)
}

// fileSource closes the file with the sheet.
type fileSource struct {
	*sheetSource
	file *openedFile
}

func (f *fileSource) close() {
	f.sheetSource.close()
	f.file.Close()
}

func (s *Service) countRows(ctx context.Context, accountID string, src FileSource) (int64, error) {
	f, rows, _, err := s.openSource(ctx, accountID, src)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	defer rows.close()
	var n int64
	for {
		_, _, _, err := rows.next()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return 0, err
		}
		n++
		if n%10_000 == 0 && ctx.Err() != nil {
			return 0, ctx.Err()
		}
	}
}

func parseHeaderMode(s string) HeaderMode {
	switch s {
	case "present":
		return HeaderPresent
	case "absent":
		return HeaderAbsent
	}
	return HeaderAuto
}

// sweep deletes expired uploads and expired per-row outcomes.
func (s *Service) sweep(ctx context.Context) {
	t := time.NewTicker(s.cfg.SweepInterval)
	defer t.Stop()
	for {
		if err := s.SweepOnce(ctx); err != nil && ctx.Err() == nil {
			s.logger.WarnContext(ctx, "sweep failed; retrying at the next interval", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// SweepOnce deletes what has expired now: uploads no job took, and per-row
// outcomes past their retention.
func (s *Service) SweepOnce(ctx context.Context) error {
	now := time.Now()
	n, err := s.store.DeleteExpiredUploads(ctx, now)
	if err != nil {
		return err
	}
	if n > 0 {
		s.logger.InfoContext(ctx, "expired uploads deleted", "uploads", n)
	}
	for {
		jobs, err := s.store.JobsWithExpiredOutcomes(ctx, now, 100)
		if err != nil {
			return err
		}
		for i := range jobs {
			if err := s.store.DeleteOutcomes(ctx, jobs[i].AccountID, jobs[i].ID.Hex()); err != nil {
				return err
			}
			if err := s.store.MarkOutcomesPurged(ctx, &jobs[i]); err != nil {
				return err
			}
		}
		if len(jobs) > 0 {
			s.logger.InfoContext(ctx, "expired row outcomes deleted", "jobs", len(jobs))
		}
		if len(jobs) < 100 {
			return nil
		}
	}
}
