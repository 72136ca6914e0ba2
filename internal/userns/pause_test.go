package userns

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestShowLayerAtRest: at pause the caller's path shows the layer at
// rest, read-only; a failure at any step leaves the rebuilt overlay there
// and the layer in the container's range; resume and delete (also of a
// container still paused) undo it.
func TestShowLayerAtRest(t *testing.T) {
	rng, ns := stagingUserns(t)
	owners := func(t *testing.T, o callerOverlay, base uint32) {
		t.Helper()
		for _, p := range []struct {
			path string
			uid  uint32
		}{
			{filepath.Join(o.merged, "image-file"), base},
			{filepath.Join(o.merged, "user-file"), base + 1000},
			{filepath.Join(o.upper, "user-file"), base + 1000},
		} {
			var st unix.Stat_t
			if err := unix.Lstat(p.path, &st); err != nil || st.Uid != p.uid {
				t.Errorf("%s: owner %d (%v), want %d", p.path, st.Uid, err, p.uid)
			}
		}
	}
	for _, c := range []struct{ layout, extra, failing string }{
		{"docker", "", stepShift}, {"docker", "", stepDetach}, {"docker", "", stepMount},
		{"docker", "", ""}, {"docker", "", "delete while paused"},
		{"podman", ",uuid=on,volatile", stepMount}, {"podman", ",uuid=on,volatile", ""},
	} {
		failing := c.failing
		name := failing
		if name == "" {
			name = "none"
		}
		t.Run(c.layout+"/fail="+name, func(t *testing.T) {
			o := mountCallerOverlay(t, c.extra)
			dir, pinned := newStagingDir(t, o)
			if err := (overlayRebuild{}).stageOverlay(pinned, dir, ns, rng); err != nil {
				t.Fatal(err)
			}
			injected := errors.New("injected failure")
			err := showLayerAtRest(kernelMounts{}, dir, func(step string) error {
				if step == failing {
					return injected
				}
				return nil
			})
			switch failing {
			case "", "delete while paused":
				if err != nil {
					t.Fatal(err)
				}
				owners(t, o, 0)
				if err := os.WriteFile(filepath.Join(o.merged, "new"), nil, 0o644); !errors.Is(err, unix.EROFS) {
					t.Errorf("write through the view at rest: %v, want EROFS", err)
				}
				if failing == "" {
					if err := showLiveLayer(kernelMounts{}, dir); err != nil {
						t.Fatal(err)
					}
					owners(t, o, rng.Start)
				}
			default:
				if !errors.Is(err, injected) {
					t.Fatalf("failing at %s: %v, want the injected failure", failing, err)
				}
				owners(t, o, rng.Start)
				// Resume finds nothing to undo.
				if err := showLiveLayer(kernelMounts{}, dir); err != nil {
					t.Fatal(err)
				}
				owners(t, o, rng.Start)
			}
			if err := unstage(kernelMounts{}, dir); err != nil {
				t.Fatal(err)
			}
			o.checkCallerBack(t, dir)
		})
	}
}
