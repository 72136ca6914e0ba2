package userns

import (
	"path/filepath"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// TestResumeAfterInterruptedPause: a pause killed midway (by the
// engine's timeout, the OOM killer) after it shifted the layer to
// container IDs, before or after it detached the rebuilt rootfs from the
// caller's path, has no chance to undo it; resume must, or the container
// is thawed with its whole layer owned by IDs it does not map (nobody's,
// read-only to its root) and the engine's path empty.
func TestResumeAfterInterruptedPause(t *testing.T) {
	rng, ns := stagingUserns(t)
	for _, c := range []struct {
		killedAt string
		resume   bool
	}{{stepDetach, true}, {stepMount, true}, {stepMount, false}} {
		killedAt := c.killedAt
		t.Run("killed before "+killedAt+"/resume="+strconv.FormatBool(c.resume), func(t *testing.T) {
			o := mountCallerOverlay(t, "")
			dir, pinned := newStagingDir(t, o)
			if err := (overlayRebuild{}).stageOverlay(pinned, dir, ns, rng); err != nil {
				t.Fatal(err)
			}
			// A panic stands for the kill: the deferred undo sees no
			// error and does nothing, as a killed process would.
			func() {
				defer func() { _ = recover() }()
				_ = showLayerAtRest(kernelMounts{}, dir, func(step string) error {
					if step == killedAt {
						panic("killed")
					}
					return nil
				})
			}()
			if !c.resume {
				// Deleted while paused: the caller's overlay is back.
				if err := unstage(kernelMounts{}, dir); err != nil {
					t.Fatal(err)
				}
				o.checkCallerBack(t, dir)
				return
			}
			if err := showLiveLayer(kernelMounts{}, dir); err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{filepath.Join(o.merged, "image-file"), filepath.Join(o.upper, "user-file")} {
				var st unix.Stat_t
				if err := unix.Lstat(p, &st); err != nil {
					t.Errorf("after resume: %v", err)
				} else if st.Uid < rng.Start {
					t.Errorf("after resume %s is owned by %d, outside the container's range", p, st.Uid)
				}
			}
			if err := unstage(kernelMounts{}, dir); err != nil {
				t.Fatal(err)
			}
			o.checkCallerBack(t, dir)
		})
	}
}
