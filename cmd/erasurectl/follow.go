package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	erasurev1 "github.com/erasure-dev/erasure/gen/erasure/v1"
)

// jobStream is the next message of a stream of job snapshots.
type jobStream func() (*erasurev1.Job, error)

// jobStreamOf reads the jobs of a stream whose messages each carry one.
func jobStreamOf[M interface{ GetJob() *erasurev1.Job }](recv func() (M, error)) jobStream {
	return func() (*erasurev1.Job, error) {
		m, err := recv()
		return m.GetJob(), err
	}
}

// start starts the job the request asks for and returns its first snapshot.
func (c *cli) start(ctx context.Context, r *request, src *erasurev1.FileSource, values []string, spec *erasurev1.DeletionSpec) (*erasurev1.Job, jobStream, error) {
	var recv jobStream
	switch {
	case !r.unsubscribe && src != nil:
		s, err := c.svc.ExecuteDeletion(ctx, &erasurev1.ExecuteDeletionRequest{AccountId: c.account, Source: src, Spec: spec, RequestId: r.requestID})
		if err != nil {
			return nil, nil, err
		}
		recv = jobStreamOf(s.Recv)
	case !r.unsubscribe:
		s, err := c.svc.DeleteIdentifiers(ctx, &erasurev1.DeleteIdentifiersRequest{AccountId: c.account, Spec: spec, Values: values, RequestId: r.requestID})
		if err != nil {
			return nil, nil, err
		}
		recv = jobStreamOf(s.Recv)
	case src != nil:
		s, err := c.svc.ExecuteUnsubscribe(ctx, &erasurev1.ExecuteUnsubscribeRequest{AccountId: c.account, Source: src, Spec: spec, Unsubscribe: r.unsubscribeSpec(), RequestId: r.requestID})
		if err != nil {
			return nil, nil, err
		}
		recv = jobStreamOf(s.Recv)
	default:
		s, err := c.svc.UnsubscribeIdentifiers(ctx, &erasurev1.UnsubscribeIdentifiersRequest{AccountId: c.account, Spec: spec, Unsubscribe: r.unsubscribeSpec(), Values: values, RequestId: r.requestID})
		if err != nil {
			return nil, nil, err
		}
		recv = jobStreamOf(s.Recv)
	}
	first, err := recv()
	if err != nil {
		return nil, nil, err
	}
	return first, recv, nil
}

// maxReattach bounds how often a broken stream is re-attached in a row
// (with the backoff of pause, about a minute: long enough for a server to
// restart or hand the job to another instance).
const maxReattach = 8

// retryable says whether a broken stream is worth re-attaching: the server
// went away or is shutting down; the job goes on.
func retryable(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.Internal, codes.Unknown, codes.DeadlineExceeded:
		return true
	}
	return false
}

// pause waits before re-attaching attempt n: 0.5 s, 1 s, 2 s … at most 15 s.
func pause(ctx context.Context, n int) error {
	d := min(time.Duration(1<<min(n, 5))*250*time.Millisecond, 15*time.Second)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// ended says whether a job is in an end state.
func ended(j *erasurev1.Job) bool {
	switch j.GetState() {
	case erasurev1.JobState_JOB_STATE_SUCCEEDED, erasurev1.JobState_JOB_STATE_CANCELLED, erasurev1.JobState_JOB_STATE_FAILED:
		return true
	}
	return false
}

// follow shows a job's progress until it ends, re-attaching with WatchJob
// when the stream breaks. Ctrl-C asks whether to cancel the job, leave it
// running, or go on watching; without a terminal to ask on, it leaves the
// job running. It returns the job as it ended.
func (c *cli) follow(ctx context.Context, interrupts <-chan os.Signal, j *erasurev1.Job, recv jobStream) (*erasurev1.Job, error) {
	type update struct {
		job *erasurev1.Job
		err error
	}
	ctx, stopStreams := context.WithCancel(ctx)
	defer stopStreams()
	id := j.GetJobId()
	updates := make(chan update, 1)
	send := func(u update) bool {
		select {
		case updates <- u:
			return true
		case <-ctx.Done():
			return false
		}
	}
	go func() {
		for attempt := 0; ; {
			j, err := recv()
			if err == nil {
				attempt = 0
				if !send(update{job: j}) || ended(j) {
					return
				}
				continue
			}
			if ctx.Err() != nil {
				return
			}
			if !retryable(err) || attempt >= maxReattach {
				send(update{err: err})
				return
			}
			attempt++
			if pause(ctx, attempt) != nil {
				return
			}
			if s, werr := c.svc.WatchJob(ctx, &erasurev1.WatchJobRequest{AccountId: c.account, JobId: id}); werr == nil {
				recv = jobStreamOf(s.Recv)
			}
		}
	}()
	d := c.newJobDisplay()
	defer d.stop()
	d.show(j)
	if ended(j) {
		return j, nil
	}
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case u := <-updates:
			if u.err != nil {
				return nil, fmt.Errorf("following job %s: %w\n(the job may still run: erasurectl watch %s)", id, u.err, id)
			}
			j = u.job
			d.show(j)
			if ended(j) {
				return j, nil
			}
		case <-interrupts:
			d.stop()
			leave := fmt.Sprintf("Job %s goes on running on the server. Follow it with: erasurectl watch %s; stop it with: erasurectl cancel %s", id, id, id)
			if !c.tio.inTerminal {
				return nil, &exitStatus{code: exitDetached, msg: leave}
			}
			switch c.ask(ctx, interrupts, fmt.Sprintf("Job %s is %s. Cancel it (c), leave it running (l), or go on watching (w)? [c/l/w] ", id, stateWord(j))) {
			case "c", "cancel":
				cj, err := c.svc.CancelJob(ctx, &erasurev1.CancelJobRequest{AccountId: c.account, JobId: id})
				if err != nil {
					return nil, err
				}
				fmt.Fprintf(c.tio.err, "Cancel requested: the job stops after the batch it is running (nothing is deleted after it).\n")
				j = cj.GetJob()
				if ended(j) {
					return j, nil
				}
			case "l", "leave", interrupted:
				return nil, &exitStatus{code: exitDetached, msg: leave}
			}
			d = c.newJobDisplay()
			d.show(j)
		}
	}
}

// catchInterrupts delivers Ctrl-C to the returned channel instead of
// stopping erasurectl, until stop is called. Commands catch it before they
// start a job, so no interrupt between the start and follow goes unasked.
func catchInterrupts() (<-chan os.Signal, func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt)
	return ch, func() { signal.Stop(ch) }
}

// stateWord is a job's state in lower case, with its place in the queue.
func stateWord(j *erasurev1.Job) string {
	s := strings.ToLower(strings.TrimPrefix(j.GetState().String(), "JOB_STATE_"))
	if j.GetState() == erasurev1.JobState_JOB_STATE_QUEUED && j.GetQueuePosition() > 0 {
		s += fmt.Sprintf(" (position %d)", j.GetQueuePosition())
	}
	return s
}
