package deletion

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/erasure-dev/erasure/internal/job"
	"github.com/erasure-dev/erasure/internal/profile"
	"github.com/erasure-dev/erasure/internal/segment"
	"github.com/erasure-dev/erasure/storage"
)

// Deleting from a segment takes two calls, as a file does: the preview
// freezes the profiles the segment matches now in a snapshot, and the
// execution deletes from that snapshot, never from the segment as it is
// later. When a profile's batch runs, the profile is read and checked
// against the segment again, at the snapshot's evaluation time: a profile
// whose data changed so that it no longer matches (or can no longer be
// read) is left alone with its own outcome, and a profile that began to
// match after the freeze is not in the snapshot, so it stays too.

// PreviewSegmentDeletion freezes the profiles seg matches at now in a
// snapshot that ExecuteSegmentDeletion can delete until it expires
// (Config.SnapshotTTL). Nothing is deleted. The account must have the
// segment_deletion feature; a segment that matches no profile is refused,
// since there is nothing to delete.
func (s *Service) PreviewSegmentDeletion(ctx context.Context, c Caller, seg segment.Segment, now time.Time) (*job.Snapshot, error) {
	if err := checkAccount(c.AccountID); err != nil {
		return nil, err
	}
	if err := s.requireFeature(ctx, c.AccountID, SegmentDeletion); err != nil {
		return nil, err
	}
	e, err := s.newSegmentEval(ctx, c, seg, now)
	if err != nil {
		return nil, err
	}
	def, err := segment.Marshal(seg)
	if err != nil {
		return nil, err
	}
	sn := &job.Snapshot{
		ID:          storage.NewID(),
		AccountID:   c.AccountID,
		Definition:  def,
		EvaluatedAt: e.now,
		CreatedAt:   s.now().UTC(),
		CreatedBy:   c.Actor,
		Scope:       c.Sections,
	}
	sn.ExpiresAt = sn.CreatedAt.Add(s.cfg.SnapshotTTL)
	// The parts are stored as the scan goes, so a snapshot of millions of
	// profiles never sits in memory; the header, stored last, makes it
	// exist.
	ids := make([]string, 0, storage.SnapshotChunkSize)
	flush := func() error {
		if len(ids) == 0 {
			return nil
		}
		err := s.store.AddSnapshotPart(ctx, c.AccountID, sn.ID, sn.Chunks, ids, sn.ExpiresAt)
		sn.Chunks++
		ids = ids[:0]
		return err
	}
	count, err := s.countSegment(ctx, c.AccountID, e, func(p *profile.Profile) error {
		ids = append(ids, p.ID)
		if len(ids) < storage.SnapshotChunkSize {
			return nil
		}
		return flush()
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return nil, err
	}
	if count.Profiles == 0 {
		return nil, preconditionf("the segment matches no profiles, so there is nothing to delete; check its conditions").because("SEGMENT_EMPTY", "undecided", strconv.FormatInt(count.Undecided, 10))
	}
	sn.Profiles, sn.Sections, sn.Undecided = count.Profiles, count.Sections, count.Undecided
	if err := s.store.CreateSnapshot(ctx, sn); err != nil {
		return nil, err
	}
	s.logger.InfoContext(ctx, "segment snapshot stored", "snapshot_id", sn.ID, "account_id", sn.AccountID, "profiles", sn.Profiles, "undecided", sn.Undecided)
	return sn, nil
}

// ExecuteSegmentDeletion queues a job that deletes the profiles of the
// snapshot snapshotID. expected is the count the caller confirmed: a
// different count, an expired snapshot or one already executed is refused,
// so that a stale or repeated confirmation never deletes (a retry of the
// call with its request id gets the job the first call started).
func (s *Service) ExecuteSegmentDeletion(ctx context.Context, c Caller, snapshotID string, expected int64) (*job.Job, error) {
	return s.startOnce(ctx, c, func(jobID string) (*job.Job, error) {
		return s.executeSegmentDeletion(ctx, c, snapshotID, expected, jobID)
	})
}

func (s *Service) executeSegmentDeletion(ctx context.Context, c Caller, snapshotID string, expected int64, jobID string) (*job.Job, error) {
	if _, err := s.admit(ctx, c, Delete, job.FromSegment); err != nil {
		return nil, err
	}
	sn, err := s.store.GetSnapshot(ctx, c.AccountID, snapshotID)
	if err != nil {
		return nil, s.snapshotError(err, snapshotID, nil)
	}
	if err := s.checkSnapshot(sn, expected); err != nil {
		return nil, err
	}
	j := &job.Job{
		ID:         jobID,
		AccountID:  c.AccountID,
		Kind:       job.FromSegment,
		Action:     job.Delete,
		State:      job.Queued,
		SnapshotID: sn.ID,
		Column:     "profile id",
		Counts:     job.Counts{TotalRows: sn.Profiles},
		CreatedBy:  c.Actor,
	}
	// As with an upload: the claim first, so a snapshot feeds one job, and
	// neither step is cut short by the caller leaving.
	ctx = context.WithoutCancel(ctx)
	if err := s.store.ClaimSnapshot(ctx, c.AccountID, sn.ID, j.ID, s.now()); err != nil {
		return nil, s.snapshotError(err, snapshotID, sn)
	}
	if err := s.queue(ctx, j, nil); err != nil {
		return nil, err
	}
	return j, nil
}

// checkSnapshot refuses a snapshot that cannot be executed with the count
// expected.
func (s *Service) checkSnapshot(sn *job.Snapshot, expected int64) error {
	if err := s.snapshotUsable(sn); err != nil {
		return err
	}
	if expected != sn.Profiles {
		return preconditionf("the snapshot holds %d profiles, not the %d confirmed; show the user the preview's count and confirm that", sn.Profiles, expected).
			because("SNAPSHOT_COUNT_MISMATCH", "snapshot_id", sn.ID, "profiles", strconv.FormatInt(sn.Profiles, 10)).at("expected_profiles")
	}
	return nil
}

// snapshotUsable refuses a snapshot already executed or expired.
func (s *Service) snapshotUsable(sn *job.Snapshot) error {
	switch {
	case sn.JobID != "":
		return preconditionf("snapshot %s was already executed by job %s; preview the segment again to delete what it matches now", sn.ID, sn.JobID).
			because("SNAPSHOT_ALREADY_USED", "snapshot_id", sn.ID, "job_id", sn.JobID).at("snapshot_id")
	case !s.now().Before(sn.ExpiresAt):
		return preconditionf("snapshot %s expired at %s; preview the segment again", sn.ID, sn.ExpiresAt.Format(time.RFC3339)).
			because("SNAPSHOT_EXPIRED", "snapshot_id", sn.ID).at("snapshot_id")
	}
	return nil
}

// snapshotError explains a failed read or claim of a snapshot; sn is the
// snapshot as read before a claim failed.
func (s *Service) snapshotError(err error, snapshotID string, sn *job.Snapshot) error {
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return &Error{Kind: NotFound, Reason: "SNAPSHOT_NOT_FOUND", Field: "snapshot_id", Meta: map[string]string{"snapshot_id": clip(snapshotID)},
			Msg: fmt.Sprintf("snapshot %q not found: it expired and was deleted, or was never made; preview the segment's deletion first", clip(snapshotID))}
	case errors.Is(err, storage.ErrConflict) && sn != nil:
		// Claimed or expired in between: say which, as read now.
		if now, gerr := s.store.GetSnapshot(context.Background(), sn.AccountID, sn.ID); gerr == nil {
			if cerr := s.snapshotUsable(now); cerr != nil {
				return cerr
			}
		}
		return preconditionf("snapshot %s was executed or expired meanwhile; preview the segment again", sn.ID).because("SNAPSHOT_ALREADY_USED", "snapshot_id", sn.ID).at("snapshot_id")
	}
	return err
}

// segmentMatcher reads a segment job's snapshot and returns how its rows,
// profile ids, are matched: a profile that still exists is matched when
// the segment still matches it.
func (s *Service) segmentMatcher(ctx context.Context, j *job.Job) (matcher, *job.Snapshot, error) {
	sn, err := s.store.GetSnapshot(ctx, j.AccountID, j.SnapshotID)
	if errors.Is(err, storage.ErrNotFound) {
		return matcher{}, nil, &Error{Kind: FailedPrecondition, Reason: "SNAPSHOT_NOT_FOUND", Msg: "the job's segment snapshot is gone; preview the segment again and start a new deletion"}
	}
	if err != nil {
		return matcher{}, nil, err
	}
	seg, err := segment.Unmarshal(sn.Definition)
	if err != nil {
		return matcher{}, nil, err
	}
	e := segmentEval{seg: seg, now: sn.EvaluatedAt, scope: Caller{AccountID: sn.AccountID, Sections: sn.Scope}}
	return matcher{norm: profileIDs{}, resolve: func(ctx context.Context, accountID string, batch []row, _, consents bool) error {
		return s.recheck(ctx, accountID, e, batch)
	}}, sn, nil
}

// The reasons of a NoLongerMatches row.
const (
	reasonNoLongerMatches  = "the profile no longer matches the segment: its data changed after the preview"
	reasonNoLongerReadable = "part of the profile's data can no longer be read, so it could not be checked against the segment"
)

// recheck reads the profiles of a batch's undecided rows in one query and
// checks each against the segment: one that matches is the row's match,
// one that is gone is not found, and one that no longer matches is left.
func (s *Service) recheck(ctx context.Context, accountID string, e segmentEval, batch []row) error {
	var ids []string
	for _, r := range batch {
		if r.outcome == 0 {
			ids = append(ids, r.normalized)
		}
	}
	found, err := s.store.ProfilesByID(ctx, accountID, ids)
	if err != nil {
		return err
	}
	for i := range batch {
		r := &batch[i]
		if r.outcome != 0 {
			continue
		}
		p, ok := found[r.normalized]
		if !ok {
			r.outcome = job.NotFound
			continue
		}
		switch e.eval(p) {
		case segment.Yes:
			r.match = &profile.Match{ID: p.ID, Key: p.Key, Sections: sectionIDs(&p)}
		case segment.No:
			r.outcome, r.reason = job.NoLongerMatches, reasonNoLongerMatches
		default:
			r.outcome, r.reason = job.NoLongerMatches, reasonNoLongerReadable
		}
	}
	return nil
}

// snapshotSource yields a snapshot's profile ids, one stored part at a
// time.
type snapshotSource struct {
	ctx   context.Context
	s     *Service
	sn    *job.Snapshot
	part  int
	items []string
	i     int
	row   int64
}

func (src *snapshotSource) next() (int64, string, cellState, error) {
	for src.i >= len(src.items) {
		if src.part >= src.sn.Chunks {
			return 0, "", cellMissing, io.EOF
		}
		items, err := src.s.store.SnapshotPart(src.ctx, src.sn.AccountID, src.sn.ID, src.part)
		if err != nil {
			return 0, "", cellMissing, fmt.Errorf("read snapshot part %d: %w", src.part, err)
		}
		src.items, src.i = items, 0
		src.part++
	}
	src.i++
	src.row++
	return src.row, src.items[src.i-1], cellPresent, nil
}

func (src *snapshotSource) close() {}
