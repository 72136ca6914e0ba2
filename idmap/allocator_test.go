package idmap

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// testPool holds exactly n ranges of DefaultRangeSize.
func testPool(n uint32) []Range {
	return []Range{{Start: 1 << 20, Size: n * DefaultRangeSize}}
}

func newTestAllocator(t *testing.T, n uint32) *Allocator {
	t.Helper()
	return NewAllocator(t.TempDir(), testPool(n), DefaultRangeSize)
}

func TestAllocateSequential(t *testing.T) {
	t.Parallel()
	a := newTestAllocator(t, 3)
	var got []Range
	for i := range 3 {
		r, err := a.Allocate(fmt.Sprintf("c%d", i), nil)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	for i, r := range got {
		want := Range{Start: 1<<20 + uint32(i)*DefaultRangeSize, Size: DefaultRangeSize}
		if r != want {
			t.Errorf("c%d got %s, want %s", i, r, want)
		}
	}
	_, err := a.Allocate("c3", nil)
	if !errors.Is(err, ErrExhausted) {
		t.Fatalf("fourth allocation: %v, want ErrExhausted", err)
	}
	for _, s := range []string{"c3", "exhausted", "3 ranges", "userNamespace.pool"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
	if err := a.Release("c1"); err != nil {
		t.Fatal(err)
	}
	r, err := a.Allocate("c3", nil)
	if err != nil || r != got[1] {
		t.Fatalf("after release: %s, %v; want the released %s", r, err, got[1])
	}
	before, _ := os.Stat(a.entriesDir())
	if err := a.Release("never-allocated"); err != nil {
		t.Errorf("release of unknown id: %v", err)
	}
	// Nothing to release, nothing written (delete releases for every
	// container, also those without a user namespace).
	if after, _ := os.Stat(a.entriesDir()); !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("release of unknown id wrote to the registry")
	}
}

func TestAllocateWanted(t *testing.T) {
	t.Parallel()
	a := newTestAllocator(t, 4)
	second := Range{Start: 1<<20 + DefaultRangeSize, Size: DefaultRangeSize}
	tests := []struct {
		name string
		want *Range
		got  Range
	}{
		{"free range in pool kept", &second, second},
		{"same range again: taken, first free instead", &second, Range{Start: 1 << 20, Size: DefaultRangeSize}},
		{"outside pool replaced", &Range{Start: 100000, Size: DefaultRangeSize}, Range{Start: 1<<20 + 2*DefaultRangeSize, Size: DefaultRangeSize}},
		{"wrong size replaced", &Range{Start: 1<<20 + 3*DefaultRangeSize, Size: 1000}, Range{Start: 1<<20 + 3*DefaultRangeSize, Size: DefaultRangeSize}},
	}
	for i, tt := range tests {
		r, err := a.Allocate("w"+strconv.Itoa(i), tt.want)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if r != tt.got {
			t.Errorf("%s: got %s, want %s", tt.name, r, tt.got)
		}
	}
}

func TestAllocateTwiceWhileLive(t *testing.T) {
	t.Parallel()
	a := newTestAllocator(t, 4)
	if _, err := a.Allocate("dup", nil); err != nil {
		t.Fatal(err)
	}
	// This process (the creator) still runs: the second create is refused
	// and the first keeps its range.
	if _, err := a.Allocate("dup", nil); !errors.Is(err, ErrInUse) {
		t.Fatalf("second allocation for a live id: %v, want ErrInUse", err)
	}
}

// writeEntries replaces the entry files with entries (test set-up).
func writeEntries(t *testing.T, a *Allocator, entries map[string]Entry) {
	t.Helper()
	if err := os.RemoveAll(a.entriesDir()); err != nil {
		t.Fatal(err)
	}
	for k, e := range entries {
		if err := a.writeEntry(a.entriesDir(), k, e); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReclaim(t *testing.T) {
	t.Parallel()
	a := newTestAllocator(t, 8)
	self, _ := procStart(os.Getpid())
	r := func(i uint32) Range { return Range{Start: 1<<20 + i*DefaultRangeSize, Size: DefaultRangeSize} }
	// A dead creator: a process that ran and was reaped.
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(a.Dir, "has-state"), 0o700); err != nil {
		t.Fatal(err)
	}
	writeEntries(t, a, map[string]Entry{
		"has-state":         {Range: r(0), Pid: dead.Process.Pid},            // container exists (e.g. killed, not deleted)
		"creating":          {Range: r(1), Pid: os.Getpid(), PidStart: self}, // create in progress
		"killed-mid-create": {Range: r(2), Pid: dead.Process.Pid},            // runtime killed before its state dir
		"pid-reused":        {Range: r(3), Pid: os.Getpid(), PidStart: self + 1},
		"no-pid":            {Range: r(4)},
	})
	if err := a.Reclaim(); err != nil {
		t.Fatal(err)
	}
	got, err := a.Entries()
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"has-state", "creating"} {
		if _, ok := got[id]; !ok {
			t.Errorf("%s was reclaimed", id)
		}
	}
	for _, id := range []string{"killed-mid-create", "pid-reused", "no-pid"} {
		if _, ok := got[id]; ok {
			t.Errorf("%s was not reclaimed", id)
		}
	}
	// Allocation reclaims too: the lowest free slot is the reclaimed r(2).
	n, err := a.Allocate("new", nil)
	if err != nil || n != r(2) {
		t.Errorf("allocation after reclaim: %s, %v; want %s", n, err, r(2))
	}
}

func TestAllocatorRejectsBadSetup(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, a := range []*Allocator{
		{Dir: dir, Pool: testPool(1)},
		{Dir: dir, RangeSize: DefaultRangeSize},
		{Dir: dir, Pool: []Range{{Start: 0, Size: 1 << 20}}, RangeSize: DefaultRangeSize},
	} {
		if _, err := a.Allocate("x", nil); err == nil {
			t.Errorf("allocator %+v: no error", a)
		}
	}
	// A corrupt state file is an error, not an empty state.
	a := NewAllocator(dir, testPool(2), DefaultRangeSize)
	os.WriteFile(filepath.Join(dir, StateName), []byte("{"), 0o600)
	if _, err := a.Allocate("x", nil); err == nil {
		t.Error("corrupt state file: no error")
	}
}

// The state is not fsynced, so a power loss may leave it empty; nothing
// runs after one, and the allocator starts afresh.
func TestAllocatorEmptyStateAfterCrash(t *testing.T) {
	t.Parallel()
	a := newTestAllocator(t, 2)
	if err := os.WriteFile(filepath.Join(a.Dir, StateName), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := a.Allocate("x", nil)
	if err != nil {
		t.Fatalf("allocate over an empty state file: %v", err)
	}
	if got, ok, err := a.Lookup("x"); err != nil || !ok || got != r {
		t.Errorf("lookup after allocate: %s %v %v, want %s", got, ok, err, r)
	}
}

// assertDisjoint checks that ranges are pairwise disjoint, inside the
// pool and never contain host ID 0.
func assertDisjoint(t *testing.T, pool []Range, got map[string]Range) {
	t.Helper()
	ids := make([]string, 0, len(got))
	for id := range got {
		ids = append(ids, id)
	}
	for i, a := range ids {
		ra := got[a]
		if !WithinAny(ra, pool) || ra.Start == 0 || ra.Size != DefaultRangeSize {
			t.Errorf("%s: %s outside pool or wrong size", a, ra)
		}
		for _, b := range ids[i+1:] {
			if ra.Overlaps(got[b]) {
				t.Errorf("%s %s overlaps %s %s", a, ra, b, got[b])
			}
		}
	}
}

func TestAllocateParallelGoroutines(t *testing.T) {
	t.Parallel()
	a := newTestAllocator(t, 60)
	var mu sync.Mutex
	got := map[string]Range{}
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			id := fmt.Sprintf("g%02d", i)
			// Each goroutine uses its own Allocator value: separate lock
			// file descriptions, as separate processes would have.
			r, err := NewAllocator(a.Dir, a.Pool, a.RangeSize).Allocate(id, nil)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			got[id] = r
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(got) != 50 {
		t.Fatalf("%d allocations, want 50", len(got))
	}
	assertDisjoint(t, a.Pool, got)
	entries, _ := a.Entries()
	if len(entries) != 50 {
		t.Errorf("state file holds %d entries, want 50", len(entries))
	}
}

// envHelper makes the test binary act as one allocating process.
const envHelper = "IDMAP_TEST_ALLOCATE"

func TestMain(m *testing.M) {
	if spec := os.Getenv(envHelper); spec != "" {
		dir, id, _ := strings.Cut(spec, ":")
		r, err := NewAllocator(dir, testPool(60), DefaultRangeSize).Allocate(id, nil)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Printf("%d %d\n", r.Start, r.Size)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestAllocateParallelProcesses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// The helpers exit at once, so their entries would be reclaimed by the
	// next allocation: make each one's container "exist".
	for i := range 50 {
		os.Mkdir(filepath.Join(dir, fmt.Sprintf("p%02d", i)), 0o700)
	}
	var mu sync.Mutex
	got := map[string]Range{}
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			id := fmt.Sprintf("p%02d", i)
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), envHelper+"="+dir+":"+id)
			out, err := cmd.Output()
			if err != nil {
				t.Errorf("%s: %v", id, err)
				return
			}
			var r Range
			if _, err := fmt.Sscanf(string(out), "%d %d", &r.Start, &r.Size); err != nil {
				t.Errorf("%s: output %q: %v", id, out, err)
				return
			}
			mu.Lock()
			got[id] = r
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(got) != 50 {
		t.Fatalf("%d allocations, want 50", len(got))
	}
	assertDisjoint(t, testPool(60), got)
	// Every container removed: the next allocation reclaims all 50.
	for id := range got {
		os.Remove(filepath.Join(dir, id))
	}
	a := NewAllocator(dir, testPool(60), DefaultRangeSize)
	if err := a.Reclaim(); err != nil {
		t.Fatal(err)
	}
	if e, _ := a.Entries(); len(e) != 0 {
		t.Errorf("%d entries left after their containers went", len(e))
	}
}
