package deletion

import (
	"context"
	"errors"
	"io"
	"strconv"
	"time"

	"github.com/erasure-dev/erasure/internal/job"
	"github.com/erasure-dev/erasure/storage"
)

// StartFile validates a job by a file and queues it. The file, sheet and
// column are checked here, so a mistake is an error now rather than a
// failed job later.
//
// A retry of the call (the same by.Request) gets the job the first call
// started; see startOnce.
func (s *Service) StartFile(ctx context.Context, by Caller, src FileSource, spec Spec, task Task) (*job.Job, error) {
	return s.startOnce(ctx, by, func(jobID string) (*job.Job, error) { return s.startFile(ctx, by, src, spec, task, jobID) })
}

func (s *Service) startFile(ctx context.Context, by Caller, src FileSource, spec Spec, task Task, jobID string) (*job.Job, error) {
	accountID := by.AccountID
	task, err := s.admit(ctx, by, task, job.FromFile)
	if err != nil {
		return nil, err
	}
	m, err := s.keyMatcher(spec)
	if err != nil {
		return nil, err
	}
	fs, err := s.openFileColumn(ctx, accountID, src, m)
	if err != nil {
		return nil, err
	}
	// A file with no data row would run a job that deletes nothing: say so
	// now. (Whether later rows can be read is checked by the worker's
	// count pass, before anything is deleted.)
	_, _, _, err = fs.next()
	fs.close()
	if errors.Is(err, io.EOF) {
		return nil, noRows(fs.sh.hasHeader)
	}

	j := &job.Job{
		ID:             jobID,
		AccountID:      accountID,
		Kind:           job.FromFile,
		Action:         task.Action,
		Unsubscribe:    task.Unsubscribe,
		State:          job.Queued,
		IdentifierType: spec.Type,
		DefaultRegion:  spec.DefaultRegion,
		File: job.File{
			UploadID: src.UploadID,
			Filename: fs.owned.upload.Filename,
			Sheet:    fs.sh.name,
			// The decision, not the request: the worker reads the file the same way.
			Header:       headerModeOf(fs.sh.hasHeader),
			ColumnName:   src.ColumnName,
			ColumnNumber: src.ColumnNumber,
		},
		Column:    fs.label,
		CreatedBy: by.Actor,
	}
	// The claim comes first: an upload feeds one job only, and a job
	// never becomes visible without its upload. Neither step is cut short
	// by the caller leaving: the pair completes or the sweeper cleans up.
	ctx = context.WithoutCancel(ctx)
	if err := s.store.ClaimUpload(ctx, accountID, src.UploadID, j.ID); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return nil, preconditionf("upload %q is already used by a job: each upload is deleted with its job, so upload the file again to run another deletion", src.UploadID).because("UPLOAD_IN_USE", "upload_id", src.UploadID).at("source.upload_id")
		}
		return nil, notFound(err, "upload", src.UploadID)
	}
	if err := s.queue(ctx, j, nil); err != nil {
		return nil, err
	}
	return j, nil
}

// admit checks that the caller may start a job of this task and kind now,
// and returns the task checked.
func (s *Service) admit(ctx context.Context, by Caller, task Task, kind job.Kind) (Task, error) {
	if err := checkAccount(by.AccountID); err != nil {
		return Task{}, err
	}
	task, err := task.check(by)
	if err != nil {
		return Task{}, err
	}
	if err := s.requireFeature(ctx, by.AccountID, task.feature(kind)); err != nil {
		return Task{}, err
	}
	return task, s.checkJobLimit(ctx, by.AccountID)
}

// queue stores a new job, records its start in the audit trail and wakes
// a worker. The worker records the start again before deleting anything
// (the record is stored once), so a job never deletes unrecorded even if
// this call's record failed.
func (s *Service) queue(ctx context.Context, j *job.Job, items []string) error {
	if err := s.store.CreateJob(ctx, j, items); err != nil {
		return err
	}
	if err := s.record(ctx, job.Started, j.CreatedBy, j); err != nil {
		s.logger.WarnContext(ctx, "could not record the job's start; its worker will", "job_id", j.ID, "error", err)
	}
	s.logger.InfoContext(ctx, "job queued", "job_id", j.ID, "account_id", j.AccountID, "kind", j.Kind.String(), "action", j.Action.String(),
		"identifier_type", j.IdentifierType.String(), "rows", j.Counts.TotalRows)
	s.notify()
	return nil
}

func headerModeOf(hasHeader bool) job.HeaderMode {
	if hasHeader {
		return job.HeaderPresent
	}
	return job.HeaderAbsent
}

// StartList queues a job by an inline list of identifiers; a retry of the
// call gets the job the first call started (see startOnce).
func (s *Service) StartList(ctx context.Context, by Caller, values []string, spec Spec, task Task) (*job.Job, error) {
	return s.startOnce(ctx, by, func(jobID string) (*job.Job, error) { return s.startList(ctx, by, values, spec, task, jobID) })
}

func (s *Service) startList(ctx context.Context, by Caller, values []string, spec Spec, task Task, jobID string) (*job.Job, error) {
	accountID := by.AccountID
	task, err := s.admit(ctx, by, task, job.FromList)
	if err != nil {
		return nil, err
	}
	if _, err := spec.normalizer(); err != nil {
		return nil, err
	}
	if err := s.checkList(values); err != nil {
		return nil, err
	}
	j := &job.Job{
		ID:             jobID,
		AccountID:      accountID,
		Kind:           job.FromList,
		Action:         task.Action,
		Unsubscribe:    task.Unsubscribe,
		State:          job.Queued,
		IdentifierType: spec.Type,
		DefaultRegion:  spec.DefaultRegion,
		Column:         "list",
		Counts:         job.Counts{TotalRows: int64(len(values))},
		CreatedBy:      by.Actor,
	}
	if err := s.queue(ctx, j, values); err != nil {
		return nil, err
	}
	return j, nil
}

// checkList checks an inline list's size.
func (s *Service) checkList(values []string) error {
	if len(values) == 0 {
		return invalidf("values is empty: give at least one identifier").because("VALUES_REQUIRED").at("values")
	}
	if len(values) > s.cfg.MaxListItems {
		return tooLargef("%d values is more than the %d a list may hold; upload a file instead", len(values), s.cfg.MaxListItems).because("LIST_TOO_LONG", "limit", strconv.Itoa(s.cfg.MaxListItems)).at("values")
	}
	return nil
}

// RunProfile runs a task on one profile by id (deleting it is a GDPR
// erasure) and returns the finished job. The job is queued and run by a
// worker like any other, so it is recorded, resumed after a crash and
// reported the same way; this call waits for it. A retry of the call gets
// the job the first call started (see startOnce).
func (s *Service) RunProfile(ctx context.Context, by Caller, profileID string, task Task) (job.View, error) {
	j, err := s.startOnce(ctx, by, func(jobID string) (*job.Job, error) { return s.startProfile(ctx, by, profileID, task, jobID) })
	if err != nil {
		return job.View{}, err
	}
	var last job.View
	err = s.Watch(ctx, by, j.ID, func(v job.View) error { last = v; return nil })
	return last, err
}

func (s *Service) startProfile(ctx context.Context, by Caller, profileID string, task Task, jobID string) (*job.Job, error) {
	accountID := by.AccountID
	task, err := s.admit(ctx, by, task, job.FromProfile)
	if err != nil {
		return nil, err
	}
	if _, err := (profileIDs{}).Normalize(profileID); err != nil {
		// The value is not echoed: callers paste e-mail addresses here.
		return nil, invalidf("profile_id is not a profile id: it has 24 hexadecimal digits, as shown on the profile").because("INVALID_ID").at("profile_id")
	}
	// A profile that does not exist is an answer, not a job: nothing is
	// queued, run or recorded as a deletion.
	if err := s.requireProfile(ctx, accountID, profileID); err != nil {
		return nil, err
	}
	j := &job.Job{
		ID:          jobID,
		AccountID:   accountID,
		Kind:        job.FromProfile,
		Action:      task.Action,
		Unsubscribe: task.Unsubscribe,
		State:       job.Queued,
		ProfileID:   profileID,
		Column:      "profile id",
		Counts:      job.Counts{TotalRows: 1},
		CreatedBy:   by.Actor,
	}
	if err := s.queue(ctx, j, nil); err != nil {
		return nil, err
	}
	return j, nil
}

// GetJob returns a job of the caller's account, as the caller sees it.
func (s *Service) GetJob(ctx context.Context, by Caller, jobID string) (job.View, error) {
	j, err := s.getJob(ctx, by.AccountID, jobID)
	if err != nil {
		return job.View{}, err
	}
	return s.view(ctx, by, j)
}

func (s *Service) getJob(ctx context.Context, accountID, jobID string) (*job.Job, error) {
	if err := checkAccount(accountID); err != nil {
		return nil, err
	}
	j, err := s.store.GetJob(ctx, accountID, jobID)
	if err != nil {
		return nil, notFound(err, "job", jobID)
	}
	return j, nil
}

// ListJobs returns a page of the account's jobs, newest first, and the token
// of the next page ("" on the last).
func (s *Service) ListJobs(ctx context.Context, by Caller, pageSize int, pageToken string) ([]job.View, string, error) {
	accountID := by.AccountID
	if err := checkAccount(accountID); err != nil {
		return nil, "", err
	}
	pageSize, err := clampPageSize(pageSize)
	if err != nil {
		return nil, "", err
	}
	before := ""
	if pageToken != "" {
		pos, err := s.openPage(accountID, "jobs", pageToken)
		if err != nil || !storage.ValidID(string(pos)) {
			return nil, "", badPageToken()
		}
		before = string(pos)
	}
	// One more than asked tells whether another page exists.
	jobs, err := s.store.ListJobs(ctx, accountID, pageSize+1, before)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(jobs) > pageSize {
		jobs = jobs[:pageSize]
		next = s.sealPage(accountID, "jobs", []byte(jobs[pageSize-1].ID))
	}
	views := make([]job.View, len(jobs))
	for i := range jobs {
		if views[i], err = s.view(ctx, by, &jobs[i]); err != nil {
			return nil, "", err
		}
	}
	return views, next, nil
}

// Cancel asks a job to stop (see erasure.v1 CancelJob).
func (s *Service) Cancel(ctx context.Context, by Caller, jobID string) (job.View, error) {
	accountID := by.AccountID
	if err := checkAccount(accountID); err != nil {
		return job.View{}, err
	}
	// The request is recorded in the trail before the job can see it, so
	// the trail never shows a job finished by a cancel before the cancel
	// (the worker records the finish). The first request is the one
	// recorded; a job that has ended already is returned unchanged.
	before, err := s.store.GetJob(ctx, accountID, jobID)
	if err != nil {
		return job.View{}, notFound(err, "job", jobID)
	}
	if !before.State.Terminal() && !before.CancelRequested {
		if err := s.record(ctx, job.CancelRequested, by.Actor, before); err != nil {
			return job.View{}, err
		}
	}
	j, err := s.store.RequestCancel(ctx, accountID, jobID)
	if err != nil {
		return job.View{}, notFound(err, "job", jobID)
	}
	if j.CancelRequested {
		if j.State == job.Cancelled && j.StartedAt == nil {
			// Ended before any worker took it: no worker records its end.
			if err := s.record(ctx, job.Finished, j.CreatedBy, j); err != nil {
				return job.View{}, err
			}
			if err := s.queueDelivery(ctx, j); err != nil {
				s.logger.WarnContext(ctx, "could not queue the job's webhook delivery", "job_id", j.ID, "error", err)
			}
		}
	}
	if j.State == job.Cancelled && j.StartedAt == nil && j.File.UploadID != "" {
		// Cancelled while queued: no worker will delete its upload.
		if err := s.store.DeleteUpload(ctx, accountID, j.File.UploadID); err != nil {
			s.logger.WarnContext(ctx, "could not delete a cancelled job's upload; the sweeper will", "job_id", jobID, "error", err)
		}
	}
	s.logger.InfoContext(ctx, "job cancel requested", "job_id", jobID, "account_id", accountID, "state", j.State.String())
	v, err := s.view(ctx, by, j)
	if err != nil {
		// The cancel is recorded; only its place in the queue is unknown.
		s.logger.WarnContext(ctx, "could not read a cancelled job's place in the queue", "job_id", jobID, "error", err)
		return s.viewOf(by, snapshot{job: j}), nil
	}
	return v, nil
}

// outcomePage is how many outcomes are read per round trip when streaming.
const outcomePage = 1000

// outcomeEnd is the last row of an ended job, which bounds the reads of
// its outcomes (storage.ListOutcomes); 0 (no bound) while it runs, and for
// jobs stored before the last row was kept.
func outcomeEnd(j *job.Job) int64 {
	if j.State.Terminal() {
		return j.LastRow
	}
	return 0
}

// ListOutcomes sends the job's outcomes in row order, a page at a time.
func (s *Service) ListOutcomes(ctx context.Context, by Caller, jobID string, only []job.Outcome, send func([]job.RowOutcome) error) error {
	j, err := s.getJob(ctx, by.AccountID, jobID)
	if err != nil {
		return err
	}
	if err := s.outcomesKept(j); err != nil {
		return err
	}
	return s.eachOutcomePage(ctx, by, j, only, send)
}

// outcomesKept refuses a job whose per-row outcomes the retention policy
// deleted.
func (s *Service) outcomesKept(j *job.Job) error {
	if !j.OutcomesPurged {
		return nil
	}
	return preconditionf("the row outcomes of job %s were deleted on %s, %s after it ended, as the retention policy says; its counts remain in GetJob",
		j.ID, j.OutcomesExpireAt.Format(time.DateOnly), s.cfg.OutcomeRetention).because("OUTCOMES_PURGED", "job_id", j.ID)
}

// eachOutcomePage sends the job's outcomes in row order, outcomePage at a
// time, as the caller may see them.
func (s *Service) eachOutcomePage(ctx context.Context, by Caller, j *job.Job, only []job.Outcome, send func([]job.RowOutcome) error) error {
	var after int64
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		page, err := s.store.ListOutcomes(ctx, j.AccountID, j.ID, after, outcomeEnd(j), outcomePage, only)
		if err != nil {
			return err
		}
		if len(page) == 0 {
			return nil
		}
		for i := range page {
			// The consents of sections the caller may not see stay unseen.
			page[i].Consents = visibleConsents(by, page[i].Consents)
		}
		if err := send(page); err != nil {
			return err
		}
		after = page[len(page)-1].Row
		if len(page) < outcomePage {
			return nil
		}
	}
}
