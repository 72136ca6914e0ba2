package idmap

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// smallTmpfs mounts a tmpfs of 16 pages for the test, or skips without
// the privilege to.
func smallTmpfs(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=64k,nr_inodes=64"); err != nil {
		t.Skipf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
	return dir
}

// fill takes every free block of the file system of dir.
func fill(t *testing.T, dir string) {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			break
		}
	}
	// Also the inodes.
	for i := 0; ; i++ {
		g, err := os.Create(filepath.Join(dir, "inode-"+string(rune('a'+i%26))+string(rune('a'+i/26%26))+string(rune('a'+i/676))))
		if err != nil {
			break
		}
		g.Close()
	}
}

// A full registry still releases and reclaims: both only unlink.
func TestReleaseOnFullRegistry(t *testing.T) {
	dir := smallTmpfs(t)
	a := NewAllocator(dir, testPool(4), DefaultRangeSize)
	for _, id := range []string{"a", "b", "gone"} {
		if _, err := a.Allocate(id, nil); err != nil {
			t.Fatal(err)
		}
	}
	// "gone" looks like a container whose creator died and whose state
	// directory is not there.
	e, _ := a.Entries()
	g := e["gone"]
	g.Pid = 0
	if err := a.writeEntry(a.entriesDir(), "gone", g); err != nil {
		t.Fatal(err)
	}
	fill(t, dir)
	if err := os.WriteFile(filepath.Join(dir, "probe"), []byte("x"), 0o600); err == nil {
		t.Fatal("the registry's file system is not full")
	}
	if err := a.Release("a"); err != nil {
		t.Fatalf("release on a full registry: %v", err)
	}
	if err := a.Reclaim(); err != nil {
		t.Fatalf("reclaim on a full registry: %v", err)
	}
	got, err := a.Entries()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got["a"]; ok {
		t.Error("released entry still there")
	}
	if _, ok := got["gone"]; ok {
		t.Error("entry of a gone container not reclaimed")
	}
	if _, ok := got["b"]; !ok {
		t.Error("live entry lost")
	}
	assertNoTemps(t, a)
}

// A read-only registry is read; a release there fails and says so, and
// succeeds once the file system is writable again.
func TestReleaseOnReadOnlyRegistry(t *testing.T) {
	dir := smallTmpfs(t)
	a := NewAllocator(dir, testPool(4), DefaultRangeSize)
	r, err := a.Allocate("a", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("", dir, "", unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := a.Lookup("a"); err != nil || !ok || got != r {
		t.Errorf("lookup on a read-only registry: %s %v %v", got, ok, err)
	}
	if err := a.Release("never-allocated"); err != nil {
		t.Errorf("release of nothing on a read-only registry: %v", err)
	}
	if err := a.Release("a"); !errors.Is(err, unix.EROFS) {
		t.Errorf("release on a read-only registry: %v, want EROFS", err)
	}
	if err := unix.Mount("", dir, "", unix.MS_REMOUNT, ""); err != nil {
		t.Fatal(err)
	}
	if err := a.Release("a"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := a.Lookup("a"); ok {
		t.Error("not released")
	}
}

// An entry file a writer killed mid-write left is removed by the next
// update that reads the registry (an allocation; a release unlinks its
// own file only), and never read as an entry.
func TestTempEntryFilesRemoved(t *testing.T) {
	a := newTestAllocator(t, 4)
	if _, err := a.Allocate("a", nil); err != nil {
		t.Fatal(err)
	}
	torn := filepath.Join(a.entriesDir(), tempPrefix+"123")
	if err := os.WriteFile(torn, []byte(`{"key":"x","sta`), 0o600); err != nil {
		t.Fatal(err)
	}
	if e, err := a.Entries(); err != nil || len(e) != 1 {
		t.Errorf("entries with a torn temp file: %v %v", e, err)
	}
	if err := a.Release("a"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Allocate("b", nil); err != nil {
		t.Fatal(err)
	}
	assertNoTemps(t, a)
}

func assertNoTemps(t *testing.T, a *Allocator) {
	t.Helper()
	ents, _ := os.ReadDir(a.entriesDir())
	for _, d := range ents {
		if d.Name()[0] == '.' {
			t.Errorf("temporary entry file %s left", d.Name())
		}
	}
}
