package hostile

import (
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
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
