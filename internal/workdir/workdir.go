// Package workdir keeps the files a server writes for itself while it
// reads uploads — the copy of an upload a job or preview reads, a big
// XLSX's unpacked sheets — which hold identifiers in clear. They live in a
// directory of the service's own, readable only by it, one subdirectory per
// running instance; an instance's subdirectory is removed when it stops,
// and the subdirectories of instances that died (kill -9, a crash, a lost
// machine with a shared disk) are removed by the next instance that starts.
//
// Each instance holds an exclusive flock on its subdirectory's lock file for
// as long as it runs; the kernel releases it when the process ends, however
// it ends, which is how a starting instance tells a dead instance's files
// from a live one's.
package workdir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Dir is this instance's directory of temporary files.
type Dir struct {
	// Path is where this instance writes: a new directory, mode 0700.
	Path string
	lock *os.File
}

// lockSuffix names an instance's lock file: <instance dir>.lock beside it.
const lockSuffix = ".lock"

// prefix starts the name of every instance directory.
const prefix = "instance-"

// Open makes root (mode 0700; an existing root must belong to this user
// and be closed to others) and a new instance directory in it, and removes
// the directories of instances that no longer run. It returns how many it
// removed.
func Open(root string) (*Dir, int, error) {
	if err := ensureRoot(root); err != nil {
		return nil, 0, err
	}
	removed, err := sweep(root)
	if err != nil {
		return nil, 0, err
	}
	// The lock first, then the directory: a directory without a held lock
	// beside it is always a dead instance's.
	lock, err := os.CreateTemp(root, prefix+"*"+lockSuffix)
	if err != nil {
		return nil, removed, fmt.Errorf("work directory: %w", err)
	}
	path := strings.TrimSuffix(lock.Name(), lockSuffix)
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		os.Remove(lock.Name())
		return nil, removed, fmt.Errorf("work directory: lock %s: %w", lock.Name(), err)
	}
	if err := os.Mkdir(path, 0o700); err != nil {
		lock.Close()
		os.Remove(lock.Name())
		return nil, removed, fmt.Errorf("work directory: %w", err)
	}
	return &Dir{Path: path, lock: lock}, removed, nil
}

// Close removes the instance directory with everything in it.
func (d *Dir) Close() error {
	err := os.RemoveAll(d.Path)
	os.Remove(d.lock.Name())
	d.lock.Close()
	return err
}

// ensureRoot creates root for this user alone, or checks that an existing
// one is this user's and closed to others: the files in it hold personal
// data, and a directory someone else made (in a shared /tmp) could be read
// by them.
func ensureRoot(root string) error {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return fmt.Errorf("work directory: %w", err)
	}
	info, err := os.Stat(root)
	if err != nil {
		return fmt.Errorf("work directory: %w", err)
	}
	if !info.IsDir() {
		return fmt.Errorf("work directory %s is not a directory", root)
	}
	if st, ok := info.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Getuid() {
		return fmt.Errorf("work directory %s belongs to another user (uid %d): give the service a directory of its own", root, st.Uid)
	}
	if info.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(root, 0o700); err != nil {
			return fmt.Errorf("work directory %s is open to other users and could not be closed: %w", root, err)
		}
	}
	return nil
}

// sweep removes the instance directories whose lock no process holds, and
// those locks.
func sweep(root string) (int, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return 0, fmt.Errorf("work directory: %w", err)
	}
	removed := 0
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		path := filepath.Join(root, strings.TrimSuffix(name, lockSuffix))
		if e.IsDir() {
			// Its lock's entry decides, unless it has none.
			if _, err := os.Stat(path + lockSuffix); err == nil {
				continue
			}
		} else if !strings.HasSuffix(name, lockSuffix) {
			continue
		}
		dead, err := unlocked(path + lockSuffix)
		if err != nil {
			return removed, err
		}
		if !dead {
			continue
		}
		if _, err := os.Stat(path); err == nil {
			if err := os.RemoveAll(path); err != nil {
				return removed, fmt.Errorf("work directory: remove a stopped instance's files: %w", err)
			}
			removed++
		}
		os.Remove(path + lockSuffix)
	}
	return removed, nil
}

// unlocked says whether no process holds the lock file (or there is none:
// an instance killed between making its directory and its lock).
func unlocked(lockPath string) (bool, error) {
	f, err := os.OpenFile(lockPath, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("work directory: %w", err)
	}
	defer f.Close()
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("work directory: %w", err)
	}
	// Released when f closes; the directory goes before anyone could
	// reuse the name (MkdirTemp names are random).
	return true, nil
}
