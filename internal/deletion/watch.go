package deletion

import (
	"context"
	"sync"
	"time"

	"github.com/erasure-dev/erasure/storage"
)

// heartbeat is the longest a watcher goes without a message.
const heartbeat = time.Second

// watchOutage is how long a watcher waits out an unreachable store.
const watchOutage = 2 * time.Minute

// Watch sends snapshots of a job until it ends: at once, whenever it
// changes, and at least once a second. The last snapshot is the final
// report. The job runs on its own; ending the watch does not stop it.
//
// All watchers of one job on this instance share one poller (see feeds), so
// a thousand browser tabs on one job cost the store one read per interval.
func (s *Service) Watch(ctx context.Context, accountID, jobID string, send func(*storage.Job) error) error {
	j, err := s.GetJob(ctx, accountID, jobID)
	if err != nil {
		return err
	}
	if err := send(j); err != nil {
		return err
	}
	if j.Terminal() {
		return nil
	}
	updates, unsubscribe := s.feeds.subscribe(s, accountID, jobID)
	defer unsubscribe()
	last := j
	// The heartbeat restarts with every message sent.
	beat := time.NewTimer(heartbeat)
	defer beat.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case u := <-updates:
			if u.err != nil {
				return u.err
			}
			if !changed(last, u.job) && !u.job.Terminal() {
				continue
			}
			last = u.job
		case <-beat.C:
		}
		if err := send(last); err != nil {
			return err
		}
		if last.Terminal() {
			return nil
		}
		beat.Reset(heartbeat)
	}
}

// withQueuePosition fills in a queued job's place in the queue.
func (s *Service) withQueuePosition(ctx context.Context, j *storage.Job) error {
	if j.State != storage.JobQueued {
		return nil
	}
	n, err := s.store.QueuePosition(ctx, j)
	j.QueuePosition = n
	return err
}

// update is what a feed hands its watchers: a snapshot, or the error that
// ended the feed.
type update struct {
	job *storage.Job
	err error
}

// feeds runs one poller per watched job and fans its snapshots out.
type feeds struct {
	mu   sync.Mutex
	jobs map[string]*feed
}

type feed struct {
	subs map[chan update]struct{}
}

// subscribe returns a channel of the job's snapshots (each watcher sees the
// latest; a slow watcher skips intermediate ones) and a function to leave.
func (fs *feeds) subscribe(s *Service, accountID, jobID string) (<-chan update, func()) {
	key := accountID + "/" + jobID
	ch := make(chan update, 1)
	fs.mu.Lock()
	if fs.jobs == nil {
		fs.jobs = make(map[string]*feed)
	}
	f, ok := fs.jobs[key]
	if !ok {
		f = &feed{subs: make(map[chan update]struct{})}
		fs.jobs[key] = f
		go fs.poll(s, key, f, accountID, jobID)
	}
	f.subs[ch] = struct{}{}
	fs.mu.Unlock()
	return ch, func() {
		fs.mu.Lock()
		delete(f.subs, ch)
		fs.mu.Unlock()
	}
}

// poll reads the job every WatchPoll while it has watchers, until it ends.
func (fs *feeds) poll(s *Service, key string, f *feed, accountID, jobID string) {
	t := time.NewTicker(s.cfg.WatchPoll)
	defer t.Stop()
	reachable := time.Now()
	for range t.C {
		fs.mu.Lock()
		if len(f.subs) == 0 {
			delete(fs.jobs, key)
			fs.mu.Unlock()
			return
		}
		fs.mu.Unlock()

		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		j, err := s.store.GetJob(ctx, accountID, jobID)
		if err == nil {
			err = s.withQueuePosition(ctx, j)
		}
		cancel()
		var u update
		switch {
		case err == nil:
			u, reachable = update{job: j}, time.Now()
		case storage.IsTransient(err) && time.Since(reachable) < watchOutage:
			continue // the store is away for a moment; keep the watchers
		default:
			u = update{err: err}
		}
		fs.mu.Lock()
		for ch := range f.subs {
			select { // keep only the latest snapshot
			case <-ch:
			default:
			}
			ch <- u
		}
		done := u.err != nil || u.job.Terminal()
		if done {
			delete(fs.jobs, key)
		}
		fs.mu.Unlock()
		if done {
			return
		}
	}
}

func changed(a, b *storage.Job) bool {
	return a.State != b.State || a.Counts != b.Counts || a.CancelRequested != b.CancelRequested || a.QueuePosition != b.QueuePosition
}

// Progress is a running job's pace.
type Progress struct {
	Percent       float64
	RowsPerSecond float64
	// ETA is the estimated time left; zero when unknown.
	ETA time.Duration
}

// ProgressOf computes a job's progress at time now.
func ProgressOf(j *storage.Job, now time.Time) Progress {
	var p Progress
	c := j.Counts
	if j.Terminal() && j.State == storage.JobSucceeded {
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
	if !j.Terminal() && p.RowsPerSecond > 0 && c.TotalRows > c.Rows {
		p.ETA = time.Duration(float64(c.TotalRows-c.Rows) / p.RowsPerSecond * float64(time.Second))
	}
	return p
}
