package deletion

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/erasure-dev/erasure/internal/job"
	"github.com/erasure-dev/erasure/internal/profile"
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
func (s *Service) Watch(ctx context.Context, by Caller, jobID string, send func(job.View) error) error {
	j, err := s.getJob(ctx, by.AccountID, jobID)
	if err != nil {
		return err
	}
	pos, err := s.queuePosition(ctx, j)
	if err != nil {
		return err
	}
	last := snapshot{job: j, queuePosition: pos}
	if err := send(s.viewOf(by, last)); err != nil {
		return err
	}
	if j.State.Terminal() {
		return nil
	}
	updates, unsubscribe := s.feeds.subscribe(s, by.AccountID, jobID)
	defer unsubscribe()
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
			if !changed(last, u.snapshot) && !u.job.State.Terminal() {
				continue
			}
			last = u.snapshot
		case <-beat.C:
		}
		if err := send(s.viewOf(by, last)); err != nil {
			return err
		}
		if last.job.State.Terminal() {
			return nil
		}
		beat.Reset(heartbeat)
	}
}

// snapshot is a job as read at one moment, with its place in the queue.
type snapshot struct {
	job           *job.Job
	queuePosition int64
}

// queuePosition returns a queued job's place in the queue (1 is next), or
// zero when it is not queued.
func (s *Service) queuePosition(ctx context.Context, j *job.Job) (int64, error) {
	if j.State != job.Queued {
		return 0, nil
	}
	return s.store.QueuePosition(ctx, j)
}

// view is the job as the caller sees it now.
func (s *Service) view(ctx context.Context, by Caller, j *job.Job) (job.View, error) {
	pos, err := s.queuePosition(ctx, j)
	if err != nil {
		return job.View{}, err
	}
	return s.viewOf(by, snapshot{job: j, queuePosition: pos}), nil
}

func (s *Service) viewOf(by Caller, sn snapshot) job.View {
	j := *sn.job
	if len(by.Sections) > 0 && len(j.Unsubscribe.Sections) > 0 {
		j.Unsubscribe.Sections = slices.DeleteFunc(slices.Clone(j.Unsubscribe.Sections), func(sec string) bool { return !by.CanSee(sec) })
	}
	return job.View{
		Job:           j,
		QueuePosition: sn.queuePosition,
		Progress:      sn.job.ProgressAt(time.Now()),
		Sections:      visibleSections(by, sn.job.Sections),
	}
}

// visibleSections returns the section counts the caller may see: all of
// them unless the caller's token lists its sections.
func visibleSections(by Caller, all []job.SectionCount) []job.SectionCount {
	if len(by.Sections) == 0 {
		return all
	}
	var out []job.SectionCount
	for _, c := range all {
		if by.CanSee(c.SectionID) {
			out = append(out, c)
		}
	}
	return out
}

// visibleConsents returns the consents the caller may see: all of them
// unless the caller's token lists its sections.
func visibleConsents(by Caller, all []profile.ConsentRef) []profile.ConsentRef {
	if len(by.Sections) == 0 {
		return all
	}
	return slices.DeleteFunc(slices.Clone(all), func(c profile.ConsentRef) bool { return !by.CanSee(c.SectionID) })
}

// update is what a feed hands its watchers: a snapshot, or the error that
// ended the feed.
type update struct {
	snapshot
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
		var pos int64
		if err == nil {
			pos, err = s.queuePosition(ctx, j)
		}
		cancel()
		var u update
		switch {
		case err == nil:
			u, reachable = update{snapshot: snapshot{job: j, queuePosition: pos}}, time.Now()
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
		done := u.err != nil || u.job.State.Terminal()
		if done {
			delete(fs.jobs, key)
		}
		fs.mu.Unlock()
		if done {
			return
		}
	}
}

func changed(a, b snapshot) bool {
	return a.job.State != b.job.State || a.job.Counts != b.job.Counts || a.job.CancelRequested != b.job.CancelRequested ||
		a.queuePosition != b.queuePosition
}
