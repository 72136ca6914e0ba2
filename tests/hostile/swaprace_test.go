package hostile

import (
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// swapHolds are how long each state of a swapped path is held, run after
// run: back-to-back swaps put the most changes inside one create (most
// runs refused), longer holds let some creates see one state from the
// check to the mount, so that both the refusal and the real directory
// are met on a fast or a slow machine alike.
var swapHolds = [...]time.Duration{0, 100 * time.Microsecond, time.Millisecond, 10 * time.Millisecond}

// pathSwapper exchanges a directory with a symlink beside it
// (renameat2 RENAME_EXCHANGE, atomic) in a loop: a writer of the bundle
// or of a volume racing the runtime between a check and a use.
type pathSwapper struct {
	t         *testing.T
	path, alt string
	hold      atomic.Int64
	stop      atomic.Bool
	swaps     atomic.Int64
	wg        sync.WaitGroup
}

// startSwapping starts exchanging path and alt until finish.
func startSwapping(t *testing.T, path, alt string) *pathSwapper {
	t.Helper()
	s := &pathSwapper{t: t, path: path, alt: alt}
	s.wg.Add(1)
	go s.loop()
	t.Cleanup(func() { s.finish() })
	return s
}

func (s *pathSwapper) loop() {
	defer s.wg.Done()
	for !s.stop.Load() {
		if err := unix.Renameat2(unix.AT_FDCWD, s.path, unix.AT_FDCWD, s.alt, unix.RENAME_EXCHANGE); err != nil {
			s.t.Errorf("swap %s and %s: %v", s.path, s.alt, err)
			return
		}
		s.swaps.Add(1)
		if d := time.Duration(s.hold.Load()); d > 0 {
			time.Sleep(d)
		}
	}
}

// holdForRun sets how long each state is held during run i (swapHolds,
// in turn).
func (s *pathSwapper) holdForRun(i int) {
	s.hold.Store(int64(swapHolds[i%len(swapHolds)]))
}

// finish stops the loop, puts the directory back at path (for the
// bundle's cleanup and the next run) and returns the number of swaps.
// It may be called more than once.
func (s *pathSwapper) finish() int64 {
	if !s.stop.Swap(true) {
		s.wg.Wait()
		if fi, err := os.Lstat(s.path); err == nil && fi.Mode()&os.ModeSymlink != 0 {
			if err := unix.Renameat2(unix.AT_FDCWD, s.path, unix.AT_FDCWD, s.alt, unix.RENAME_EXCHANGE); err != nil {
				s.t.Errorf("put %s back: %v", s.path, err)
			}
		}
	}
	return s.swaps.Load()
}

// swapRace is a swap race's runs and what each may show. run swaps path
// with alt while the bundle runs runs times.
type swapRace struct {
	path, alt string
	runs      int
	// global are the runtime's global flags, before "run".
	global []string
	// leaks are what a run's stdout shows when the swap brought the
	// host's files in, which leaked describes ("the host's /etc at
	// /mnt"): such a run fails the test.
	leaks  []string
	leaked string
	// want are the stdouts (trimmed) of a run that exited 0 and saw what
	// it should: each is counted.
	want []string
	// refusal reports whether a failed run's stderr is one of the
	// refusals the race may meet: such a run is counted as refused.
	refusal func(stderr string) bool
}

// swapRaceCounts is how the runs of a swapRace went.
type swapRaceCounts struct {
	// seen counts the runs that showed each of want.
	seen            map[string]int
	leaked, refused int
	swaps           int64
}

// run runs the race: a run that shows a leak, or neither one of want nor
// a refusal, fails the test. It logs the first refusal and the counts.
func (r swapRace) run(t *testing.T, rt *testutil.Runtime, b *testutil.Bundle) swapRaceCounts {
	t.Helper()
	c := swapRaceCounts{seen: map[string]int{}}
	swapper := startSwapping(t, r.path, r.alt)
	for i := 0; i < r.runs; i++ {
		swapper.holdForRun(i)
		args := append(append([]string{}, r.global...), "run", "--bundle", b.Dir, rt.NewID())
		out, errOut, exit := rt.Run(args...)
		got := strings.TrimSpace(out)
		switch {
		case slices.ContainsFunc(r.leaks, func(l string) bool { return strings.Contains(out, l) }):
			if c.leaked == 0 {
				t.Errorf("run %d showed %s (exit %d): %q", i, r.leaked, exit, out)
			}
			c.leaked++
		case exit == 0 && slices.Contains(r.want, got):
			c.seen[got]++
		case exit != 0 && r.refusal(errOut):
			if c.refused == 0 {
				t.Logf("run %d refused: %s", i, strings.TrimSpace(errOut))
			}
			c.refused++
		default:
			t.Errorf("run %d: exit %d, stdout %q, stderr %q: neither %q nor a refusal", i, exit, out, errOut, r.want)
		}
	}
	c.swaps = swapper.finish()
	t.Logf("%d runs: %v, %d refused, %d with %s; %d swaps", r.runs, c.seen, c.refused, c.leaked, r.leaked, c.swaps)
	if c.leaked > 1 {
		t.Errorf("%d of %d runs showed %s", c.leaked, r.runs, r.leaked)
	}
	return c
}
