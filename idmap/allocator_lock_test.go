package idmap

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// What update read and judged before the lock is used under the lock
// only for entry files whose bytes did not change meanwhile: an entry
// judged stale and then rewritten by a new create of its key is judged
// again, and kept.
func TestVerdictsBeforeLockOnlyForUnchangedFiles(t *testing.T) {
	t.Parallel()
	a := newTestAllocator(t, 8)
	self, _ := procStart(os.Getpid())
	r := func(i uint32) Range { return Range{Start: 1<<20 + i*DefaultRangeSize, Size: DefaultRangeSize} }
	gone := Entry{Range: r(0), Pid: 0}
	writeEntries(t, a, map[string]Entry{"rewritten": gone, "unchanged": {Range: r(1), Pid: 0}})
	seen := a.readBeforeLock(a.entriesDir())
	for _, k := range []string{"rewritten", "unchanged"} {
		if s, ok := seen[entryFileName(k)]; !ok || s.live {
			t.Fatalf("before the lock, %s: %+v, %v; want read and judged gone", k, s, ok)
		}
	}
	// A create of "rewritten" takes its key again between the two reads.
	if err := a.writeEntry(a.entriesDir(), "rewritten", Entry{Range: r(2), Pid: os.Getpid(), PidStart: self}); err != nil {
		t.Fatal(err)
	}
	unlock, err := a.lock()
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	onDisk, known, err := a.readEntryFiles(a.entriesDir(), seen, true)
	if err != nil {
		t.Fatal(err)
	}
	if live, ok := known["rewritten"]; ok {
		t.Errorf("the rewritten entry kept its verdict from before the lock (live %v)", live)
	}
	if live, ok := known["unchanged"]; !ok || live {
		t.Errorf("the unchanged entry's verdict: %v, %v; want gone, from before the lock", live, ok)
	}
	st := &state{Ranges: onDisk, known: known}
	a.reclaim(st)
	if e, ok := st.Ranges["rewritten"]; !ok || e.Range != r(2) {
		t.Errorf("the rewritten entry (its creator runs) was reclaimed: %v", st.Ranges)
	}
	if _, ok := st.Ranges["unchanged"]; ok {
		t.Errorf("the unchanged stale entry was kept: %v", st.Ranges)
	}
}

// A release unlinks its own entry file and reads no other: a damaged
// entry file of another container does not stop it (an allocation, which
// reads them all, still refuses).
func TestReleaseReadsOnlyItsOwnEntry(t *testing.T) {
	t.Parallel()
	a := newTestAllocator(t, 4)
	if _, err := a.Allocate("a", nil); err != nil {
		t.Fatal(err)
	}
	damaged := filepath.Join(a.entriesDir(), entryFileName("b"))
	if err := os.WriteFile(damaged, []byte(`{"key":"b","sta`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := a.Lookup("a"); err != nil || !ok {
		t.Fatalf("lookup of a beside a damaged entry: %v, %v", ok, err)
	}
	if err := a.Release("a"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(a.entriesDir(), entryFileName("a"))); !os.IsNotExist(err) {
		t.Errorf("a's entry file after its release: %v", err)
	}
	if _, err := a.Allocate("c", nil); err == nil {
		t.Error("an allocation beside a damaged entry file succeeded")
	}
}

func BenchmarkAllocateRelease50(b *testing.B) {
	a := NewAllocator(b.TempDir(), testPool(200), DefaultRangeSize)
	for i := range 50 {
		id := fmt.Sprint("c", i)
		if err := os.Mkdir(filepath.Join(a.Dir, id), 0o700); err != nil {
			b.Fatal(err)
		}
		if _, err := a.Allocate(id, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for range b.N {
		if _, err := a.Allocate("x", nil); err != nil {
			b.Fatal(err)
		}
		if err := a.Release("x"); err != nil {
			b.Fatal(err)
		}
	}
}
