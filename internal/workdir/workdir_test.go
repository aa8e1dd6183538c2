package workdir

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestInstancesKeepTheirFilesAndSweepTheDead(t *testing.T) {
	root := filepath.Join(t.TempDir(), "work")
	a, removed, err := Open(root)
	if err != nil || removed != 0 {
		t.Fatalf("Open on a new root: %v, removed %d", err, removed)
	}
	if info, err := os.Stat(root); err != nil || info.Mode().Perm() != 0o700 {
		t.Fatalf("root %v: %v, want mode 0700", info.Mode(), err)
	}
	if err := os.WriteFile(filepath.Join(a.Path, "erasure-upload-1"), []byte("person@example.com"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A dead instance: its lock file is there, nobody holds it.
	dead := filepath.Join(root, prefix+"dead")
	if err := os.MkdirAll(filepath.Join(dead, "tabular-xlsx-1"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dead+lockSuffix, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// One killed before it locked: a directory without a lock.
	unlockedDir := filepath.Join(root, prefix+"nolock")
	if err := os.Mkdir(unlockedDir, 0o700); err != nil {
		t.Fatal(err)
	}
	// A lock left by an instance killed after it removed its directory.
	if err := os.WriteFile(filepath.Join(root, prefix+"gone"+lockSuffix), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// Not ours: left alone.
	other := filepath.Join(root, "README")
	if err := os.WriteFile(other, nil, 0o600); err != nil {
		t.Fatal(err)
	}

	b, removed, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if removed != 2 {
		t.Errorf("removed %d directories of dead instances, want 2", removed)
	}
	for _, gone := range []string{dead, dead + lockSuffix, unlockedDir, filepath.Join(root, prefix+"gone"+lockSuffix)} {
		if _, err := os.Stat(gone); !os.IsNotExist(err) {
			t.Errorf("%s of a dead instance is still there: %v", gone, err)
		}
	}
	// The live instance's file stays: its lock is held.
	for _, kept := range []string{filepath.Join(a.Path, "erasure-upload-1"), other} {
		if _, err := os.Stat(kept); err != nil {
			t.Errorf("%s was removed: %v", kept, err)
		}
	}
	if a.Path == b.Path || !strings.HasPrefix(filepath.Base(b.Path), prefix) {
		t.Errorf("instance directories %s and %s", a.Path, b.Path)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(a.Path); !os.IsNotExist(err) {
		t.Errorf("Close left %s: %v", a.Path, err)
	}
	if _, err := os.Stat(a.Path + lockSuffix); !os.IsNotExist(err) {
		t.Errorf("Close left the lock: %v", err)
	}
	b.Close()
}

func TestRootMustBeTheServicesOwn(t *testing.T) {
	root := filepath.Join(t.TempDir(), "work")
	if err := os.Mkdir(root, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(root, 0o777) // past the umask
	d, _, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	if info, _ := os.Stat(root); info.Mode().Perm() != 0o700 {
		t.Errorf("an open root stays %v, want 0700", info.Mode().Perm())
	}
	if os.Getuid() != 0 {
		t.Skip("changing a directory's owner needs root")
	}
	if err := os.Chown(root, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Open(root); err == nil || !strings.Contains(err.Error(), "belongs to another user") {
		t.Errorf("Open on another user's root: %v", err)
	}
}
