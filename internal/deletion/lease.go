package deletion

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/erasure-dev/erasure/storage"
)

// errInterrupted ends a job's run on shutdown, after a checkpoint.
var errInterrupted = errors.New("interrupted by shutdown")

// errLeaseLost ends a job's run when its lease ran out (the store could not
// be reached to renew it): another worker may own the job now.
var errLeaseLost = errors.New("lease lost")

// errHandBack means a batch failed after its outcomes were stored, with an
// error that retrying at once did not fix: the job is left to be redone when
// its lease expires, instead of failing with a report that is not true.
var errHandBack = errors.New("batch left unfinished")

// handBack turns a lasting error into errHandBack; transient ones are left
// for withRetry.
func handBack(err error) error {
	if storage.IsTransient(err) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return err
	}
	return fmt.Errorf("%w: %w", errHandBack, err)
}

// withRetry runs f until it succeeds, fails for good, or the job's lease
// (which cannot be renewed while the store is away) is about to run out.
// Each try is bounded by that moment, so nothing this worker sends can land
// after another worker may have taken the job over.
func (r *run) withRetry(f func(context.Context) error) error {
	backoff := 100 * time.Millisecond
	for {
		deadline, ok := r.leaseDeadline()
		if !ok || time.Until(deadline) <= 0 {
			return errLeaseLost
		}
		ctx, cancel := context.WithDeadline(r.ops, deadline)
		err := f(ctx)
		cancel()
		if err == nil || r.ops.Err() != nil || !(storage.IsTransient(err) || errors.Is(err, context.DeadlineExceeded)) {
			return err
		}
		if time.Until(deadline) <= 0 {
			return errLeaseLost
		}
		r.s.cfg.Metrics.StoreRetry()
		r.log.WarnContext(r.ops, "store unavailable; retrying", "retry_in", backoff.String(), "error", err)
		select {
		case <-r.ops.Done():
			return r.ops.Err()
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// leaseDeadline is when this worker must stop writing for its job: a
// quarter of the lease before it expires, a margin for clock skew between
// instances and for calls still in flight. False when it holds no lease.
func (r *run) leaseDeadline() (time.Time, bool) {
	exp := r.job.Lease.ExpiresAt
	if exp == nil {
		return time.Time{}, false
	}
	return exp.Add(-r.s.cfg.Lease / 4), true
}

// leaseHalfGone reports whether less than half of the lease is left.
func (r *run) leaseHalfGone() bool {
	exp := r.job.Lease.ExpiresAt
	return exp == nil || time.Until(*exp) <= r.s.cfg.Lease/2
}

// keepLease renews the job's lease when less than half of it is left; long
// reads between batches (counting or skipping rows) call it.
func (r *run) keepLease() error {
	if !r.leaseHalfGone() {
		return nil
	}
	return r.checkpoint()
}

// checkpoint saves the job's counts and renews its lease, retrying while
// the lease lasts.
func (r *run) checkpoint() error {
	return r.withRetry(func(ctx context.Context) error {
		return r.s.store.SaveProgress(ctx, r.job, r.s.cfg.Lease)
	})
}
