package userns

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hardened-runtime/hardened/idmap"
)

// stagingLockFree reports whether the staging directory dir's lock can
// be taken shared now (as exec's adoption takes it): false while a
// pause, resume or delete holds it.
func stagingLockFree(t *testing.T, dir string) bool {
	t.Helper()
	fd, err := unix.Open(filepath.Join(dir, stagingLockName), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("lock file: %v", err)
	}
	defer unix.Close(fd)
	err = unix.Flock(fd, unix.LOCK_SH|unix.LOCK_NB)
	if err != nil && !errors.Is(err, unix.EWOULDBLOCK) {
		t.Fatal(err)
	}
	return err == nil
}

// TestStagingLockHeld: pause, resume and delete change the owners of the
// container's layer only under the staging directory's lock, held
// exclusively, so that no exec's adoption of the engine's writes walks
// the layer meanwhile.
func TestStagingLockHeld(t *testing.T) {
	o := newFakeOverlay(t, "docker")
	if err := o.rebuild(""); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name string
		run  func() error
	}{
		{"pause", func() error { return showLayerAtRest(o.host, o.dir, nil) }},
		{"resume", func() error { return showLiveLayer(o.host, o.dir) }},
		{"pause again", func() error { return showLayerAtRest(o.host, o.dir, nil) }},
		{"delete while paused", func() error { return unstage(o.host, o.dir) }},
	}
	for _, s := range steps {
		o.host.calls = nil
		var unlocked []string
		o.host.during = func(desc string) {
			// The lock file goes with the staging tmpfs.
			if _, err := os.Lstat(filepath.Join(o.dir, stagingLockName)); errors.Is(err, os.ErrNotExist) {
				return
			}
			if stagingLockFree(t, o.dir) {
				unlocked = append(unlocked, desc)
			}
		}
		if err := s.run(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if len(o.host.calls) < 2 {
			t.Fatalf("%s: calls %q, want it to change the host", s.name, o.host.calls)
		}
		if len(unlocked) > 0 {
			t.Errorf("%s: %q without the staging directory's lock", s.name, unlocked)
		}
	}
	o.host.during = nil
	o.checkUnstaged(t)
}

// TestAdoptRacingPause: an exec's adoption of the engine's writes and a
// pause run at the same time (engines do not serialize them). Whichever
// starts first, the pause leaves the layer at rest with container IDs:
// an adoption under way finishes before the pause shifts the layer, and
// one that comes while the pause is under way waits for it and then
// leaves the layer at rest alone. Once resumed, what the engine wrote is
// adopted again.
func TestAdoptRacingPause(t *testing.T) {
	rng, ns := stagingUserns(t)
	// How long a pause that does not wait for the adoption (or an
	// adoption that does not wait for the pause) would take at most.
	const window = time.Second
	atRest := func(t *testing.T, o callerOverlay, base uint32) {
		t.Helper()
		for name, id := range map[string]uint32{"": 0, "root-file": 0, "user-file": 1000} {
			var st unix.Stat_t
			if err := unix.Lstat(filepath.Join(o.upper, name), &st); err != nil || st.Uid != base+id || st.Gid != base+id {
				t.Errorf("%s of the layer: owner %d:%d (%v), want %d", name, st.Uid, st.Gid, err, base+id)
			}
		}
	}
	for _, first := range []string{"pause", "adoption"} {
		t.Run(first+" first", func(t *testing.T) {
			o := mountCallerOverlay(t, "")
			dir, pinned := newStagingDir(t, o)
			if err := (overlayRebuild{}).stageOverlay(pinned, dir, ns, rng); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = unstage(kernelMounts{}, dir) })
			walked := 0
			walk := func(upper, root string, r idmap.Range, limit int) (int, error) {
				walked++
				return idmap.AdoptHostWrites(upper, root, r, limit)
			}
			// other runs f at the same time as what called it, and
			// reports whether f finished within the window.
			other := func(f func()) (finished bool, wait func()) {
				done := make(chan struct{})
				go func() { defer close(done); f() }()
				select {
				case <-done:
					return true, func() {}
				case <-time.After(window):
					return false, func() { <-done }
				}
			}
			var pauseErr error
			switch first {
			case "pause":
				// The adoption comes once the pause shifted the layer.
				adopted, wait := false, func() {}
				pauseErr = showLayerAtRest(kernelMounts{}, dir, func(step string) error {
					if step == stepDetach {
						adopted, wait = other(func() { adoptEngineWrites(dir, "test", walk) })
					}
					return nil
				})
				if adopted {
					t.Errorf("the adoption ran while the pause was under way")
				}
				wait()
				if walked != 0 {
					t.Errorf("the adoption walked the layer at rest")
				}
			case "adoption":
				// The pause comes once the adoption walks the layer.
				paused, wait := false, func() {}
				adoptEngineWrites(dir, "test", func(upper, root string, r idmap.Range, limit int) (int, error) {
					paused, wait = other(func() { pauseErr = showLayerAtRest(kernelMounts{}, dir, nil) })
					return walk(upper, root, r, limit)
				})
				if paused {
					t.Errorf("the pause ran while the adoption walked the layer")
				}
				wait()
			}
			if pauseErr != nil {
				t.Fatal(pauseErr)
			}
			atRest(t, o, 0)
			if err := showLiveLayer(kernelMounts{}, dir); err != nil {
				t.Fatal(err)
			}
			atRest(t, o, rng.Start)
			// docker cp, as host root through the engine's path.
			copied := filepath.Join(o.merged, "copied")
			if err := os.WriteFile(copied, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			adoptEngineWrites(dir, "test", walk)
			var st unix.Stat_t
			if err := unix.Lstat(copied, &st); err != nil || st.Uid != rng.Start {
				t.Errorf("a file the engine wrote, after an exec of the resumed container: owner %d (%v), want %d", st.Uid, err, rng.Start)
			}
			if err := unstage(kernelMounts{}, dir); err != nil {
				t.Fatal(err)
			}
		})
	}
}
