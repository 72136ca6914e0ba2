package idmap

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// newTestRegistry is a host-wide allocator in a temporary directory, with
// two runtime roots beside it.
func newTestRegistry(t *testing.T, n uint32) (a *Allocator, rootA, rootB string) {
	t.Helper()
	a = NewHostAllocator(testPool(n), DefaultRangeSize)
	a.Dir = t.TempDir()
	rootA, rootB = t.TempDir(), t.TempDir()
	return a, rootA, rootB
}

// Container IDs are unique per root only: the same ID under two roots
// gets two disjoint ranges, and releasing one keeps the other.
func TestRegistrySameIDTwoRoots(t *testing.T) {
	t.Parallel()
	a, rootA, rootB := newTestRegistry(t, 4)
	ra, err := a.Allocate(Key(rootA, "web"), nil)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := a.Allocate(Key(rootB, "web"), &ra)
	if err != nil {
		t.Fatal(err)
	}
	if ra.Overlaps(rb) {
		t.Fatalf("two roots got overlapping ranges %s and %s", ra, rb)
	}
	if err := a.Release(Key(rootA, "web")); err != nil {
		t.Fatal(err)
	}
	if got, ok, _ := a.Lookup(Key(rootB, "web")); !ok || got != rb {
		t.Errorf("release under root A dropped root B's range: %s %v", got, ok)
	}
}

func TestRegistryReserve(t *testing.T) {
	t.Parallel()
	a, root, other := newTestRegistry(t, 4)
	sandbox := Key(root, "sandbox")
	rs, err := a.Allocate(sandbox, nil)
	if err != nil {
		t.Fatal(err)
	}
	outside := Range{Start: 65536 * 3, Size: DefaultRangeSize}
	tests := []struct {
		name   string
		key    string
		ranges []Range
		shares string
		want   error
	}{
		{"joins the sandbox's namespace", Key(root, "app1"), []Range{rs}, sandbox, nil},
		{"second app shares with the sandbox too", Key(root, "app2"), []Range{rs}, sandbox, nil},
		{"the sandbox's range without the relation", Key(other, "intruder"), []Range{rs}, "", ErrHeld},
		{"the sandbox's range sharing with someone else", Key(other, "intruder2"), []Range{rs}, Key(other, "x"), ErrHeld},
		{"a kubelet range outside the pool", Key(other, "pod"), []Range{outside}, "", nil},
		{"the same kubelet range for another pod", Key(other, "pod2"), []Range{outside}, "", ErrHeld},
		{"nothing", Key(other, "empty"), nil, "", nil},
	}
	for _, tt := range tests {
		err := a.Reserve(tt.key, tt.ranges, tt.shares)
		switch {
		case tt.want != nil && !errors.Is(err, tt.want):
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		case tt.want == nil && len(tt.ranges) > 0 && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case len(tt.ranges) == 0 && err == nil:
			t.Errorf("%s: an empty reservation was accepted", tt.name)
		}
	}
	// A reserved range outside the pool is never allocated, even once the
	// pool's own ranges run out; the sandbox's range stays held while the
	// apps that share it live, after the sandbox's own release.
	if err := a.Release(sandbox); err != nil {
		t.Fatal(err)
	}
	a.Pool = append(a.Pool, outside)
	got := map[Range]bool{}
	for i := range 5 {
		r, err := a.Allocate(Key(other, "n"+string(rune('0'+i))), nil)
		if err != nil {
			break
		}
		got[r] = true
	}
	if got[outside] || got[rs] {
		t.Errorf("allocated a reserved range: %v (reserved %s and %s)", got, outside, rs)
	}
}

// A version-1 file of the default root in RegistryDir, and a version-1
// file under another root, are read as the registry's entries of their
// roots, so live containers of the previous version keep their ranges.
func TestRegistryReadsVersion1Files(t *testing.T) {
	t.Parallel()
	a, root, _ := newTestRegistry(t, 8)
	self, _ := procStart(os.Getpid())
	r := func(i uint32) Range { return Range{Start: 1<<20 + i*DefaultRangeSize, Size: DefaultRangeSize} }
	write := func(dir string, entries map[string]Entry) {
		data, _ := json.Marshal(state{Version: 1, Ranges: entries})
		if err := os.WriteFile(filepath.Join(dir, StateName), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(a.Dir, map[string]Entry{"old-default": {Range: r(0), Pid: os.Getpid(), PidStart: self}})
	write(root, map[string]Entry{"old-other": {Range: r(1), Pid: os.Getpid(), PidStart: self}})
	got, err := a.Allocate(Key(root, "new"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got != r(2) {
		t.Errorf("new container got %s, want %s (the first two are held by the old files' containers)", got, r(2))
	}
	entries, err := a.Entries()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{Key(a.Dir, "old-default"), Key(root, "old-other"), Key(root, "new")} {
		if _, ok := entries[k]; !ok {
			t.Errorf("registry lacks %s: %v", k, entries)
		}
	}
	if _, err := os.Stat(filepath.Join(root, StateName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the root's old file was not moved into the registry: %v", err)
	}
	if _, err := os.Stat(filepath.Join(a.Dir, StateName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the registry's old-format file was not moved into entry files: %v", err)
	}
	if onDisk, err := a.readEntries(a.entriesDir()); err != nil || len(onDisk) != 3 {
		t.Errorf("entry files: %v, %v; want 3", onDisk, err)
	}
	// Release under the old root works for the imported entry.
	if err := a.Release(Key(root, "old-other")); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := a.Lookup(Key(root, "old-other")); ok {
		t.Error("imported entry not released")
	}
}

// The registry's containers exist while their state directories do,
// whichever root they are under.
func TestRegistryReclaimPerRoot(t *testing.T) {
	t.Parallel()
	a, rootA, rootB := newTestRegistry(t, 4)
	for _, k := range []string{Key(rootA, "c"), Key(rootB, "c")} {
		if _, err := a.Allocate(k, nil); err != nil {
			t.Fatal(err)
		}
	}
	// Make the creator look gone: only the state directory keeps an entry.
	entries, _ := a.Entries()
	for k, e := range entries {
		e.Pid = 0
		entries[k] = e
	}
	writeEntries(t, a, entries)
	if err := os.Mkdir(Key(rootB, "c"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := a.Reclaim(); err != nil {
		t.Fatal(err)
	}
	got, _ := a.Entries()
	if _, ok := got[Key(rootA, "c")]; ok {
		t.Error("root A's container has no state directory and was not reclaimed")
	}
	if _, ok := got[Key(rootB, "c")]; !ok {
		t.Error("root B's container exists and was reclaimed")
	}
}
