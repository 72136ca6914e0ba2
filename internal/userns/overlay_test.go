package userns

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/hardened-runtime/hardened/idmap"
)

// callerOverlay is an overlay mounted as an engine would: two lower
// layers, an upper layer holding files of container IDs 0 and 1000.
type callerOverlay struct {
	lower1, lower2, upper, work, merged string
}

func mountCallerOverlay(t *testing.T, extra string) callerOverlay {
	t.Helper()
	d := t.TempDir()
	o := callerOverlay{
		lower1: filepath.Join(d, "l1"), lower2: filepath.Join(d, "l2"),
		upper: filepath.Join(d, "diff"), work: filepath.Join(d, "work"), merged: filepath.Join(d, "merged"),
	}
	for _, p := range []string{o.lower1, o.lower2, o.upper, o.work, o.merged} {
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p string, uid int) {
		if err := os.WriteFile(p, []byte(filepath.Base(p)), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Lchown(p, uid, uid); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(o.lower1, "image-file"), 0)
	write(filepath.Join(o.lower2, "base-file"), 0)
	write(filepath.Join(o.upper, "root-file"), 0)
	write(filepath.Join(o.upper, "user-file"), 1000)
	// Podman's layout: the lower layers named by short symlinks.
	links := filepath.Join(d, "l")
	if err := os.Mkdir(links, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{"AAAA": "../l1", "BBBB": "../l2"} {
		if err := os.Symlink(target, filepath.Join(links, name)); err != nil {
			t.Fatal(err)
		}
	}
	data := "lowerdir=" + filepath.Join(links, "AAAA") + ":" + filepath.Join(links, "BBBB") +
		",upperdir=" + o.upper + ",workdir=" + o.work + extra
	if err := unix.Mount("overlay", o.merged, "overlay", 0, data); err != nil {
		t.Skipf("overlay mount (%s): %v", data, err)
	}
	t.Cleanup(func() { _ = idmap.Unmount(o.merged) })
	return o
}

// checkCallerBack fails unless the caller's own overlay is the top mount
// at merged, shows every layer, and the upper layer holds its files with
// stagingUserns returns the range the rebuild tests shift layers into
// and a user namespace mapping it; it skips without root.
func stagingUserns(t *testing.T) (idmap.Range, *os.File) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	rng := idmap.Range{Start: 3_000_000_000, Size: 65536}
	ns, err := idmap.UsernsFile(idmap.Mapping{ContainerID: 0, Host: rng})
	if err != nil {
		t.Skip(err)
	}
	t.Cleanup(func() { ns.Close() })
	return rng, ns
}

// newStagingDir makes a staging directory (with its rootfs directory)
// for a rebuild of the overlay o, and returns it with o's merged
// directory pinned.
func newStagingDir(t *testing.T, o callerOverlay) (string, *idmap.Pinned) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "stage")
	if err := os.Mkdir(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	pinned, err := idmap.PinDir(o.merged)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pinned.Close() })
	return dir, pinned
}

// the IDs they had, and nothing is left mounted in dir.
func (o callerOverlay) checkCallerBack(t *testing.T, dir string) {
	t.Helper()
	mounts, err := idmap.ReadMountInfo()
	if err != nil {
		t.Fatal(err)
	}
	top, ok := idmap.TopMount(mounts, o.merged)
	if !ok || top.FSType != "overlay" {
		t.Fatalf("%s: not an overlay mount point (%+v)", o.merged, top)
	}
	ov, err := idmap.ParseOverlayOptions(top.SuperOptions)
	if err != nil {
		t.Fatal(err)
	}
	if ov.Upper != o.upper || strings.HasPrefix(ov.Lower[0], dir) {
		t.Errorf("top mount at %s: %s, want the caller's layers", o.merged, top.SuperOptions)
	}
	for _, m := range mounts {
		if strings.HasPrefix(m.Mountpoint, dir+"/") {
			t.Errorf("left mounted: %s", m.Mountpoint)
		}
	}
	for name, uid := range map[string]uint32{"image-file": 0, "base-file": 0, "root-file": 0, "user-file": 1000} {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(o.merged, name), &st); err != nil {
			t.Errorf("%s through the caller's overlay: %v", name, err)
		} else if st.Uid != uid || st.Gid != uid {
			t.Errorf("%s: owner %d:%d, want %d", name, st.Uid, st.Gid, uid)
		}
	}
	for name, uid := range map[string]uint32{"root-file": 0, "user-file": 1000} {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(o.upper, name), &st); err != nil || st.Uid != uid {
			t.Errorf("upper layer %s: owner %d (%v), want %d", name, st.Uid, err, uid)
		}
	}
	// The caller's overlay is writable again.
	if err := os.WriteFile(filepath.Join(o.merged, "written-after"), nil, 0o644); err != nil {
		t.Errorf("write through the caller's overlay: %v", err)
	}
}

// TestStageOverlayFailureAtEachStep injects a failure at every step of
// the rebuild and checks that the caller's overlay is back at its path,
// its upper layer as it was, before the error is returned; then that a
// rebuild that succeeds is undone by unstage the same way.
func TestStageOverlayFailureAtEachStep(t *testing.T) {
	rng, ns := stagingUserns(t)
	steps := []string{stepRecord, stepShift, stepClone, stepClone + "#2", stepDetach, stepMount, stepBind}
	for layout, extra := range map[string]string{"docker": "", "podman": ",uuid=on,volatile"} {
		for _, failing := range append(steps, "") {
			name := failing
			if name == "" {
				name = "none"
			}
			t.Run(layout+"/fail="+name, func(t *testing.T) {
				o := mountCallerOverlay(t, extra)
				dir, pinned := newStagingDir(t, o)
				injected := errors.New("injected failure")
				seen := map[string]int{}
				b := overlayRebuild{failAt: func(step string) error {
					seen[step]++
					if n := seen[step]; step == failing || n > 1 && step+"#"+string(rune('0'+n)) == failing {
						return injected
					}
					return nil
				}}
				err := b.stageOverlay(pinned, dir, ns, rng)
				if failing == "" {
					if err != nil {
						t.Fatal(err)
					}
					var st unix.Stat_t
					if err := unix.Lstat(filepath.Join(o.merged, "image-file"), &st); err != nil || st.Uid != rng.Start {
						t.Errorf("rebuilt overlay at %s: image-file owner %d (%v), want %d", o.merged, st.Uid, err, rng.Start)
					}
					if err := unix.Lstat(filepath.Join(o.upper, "user-file"), &st); err != nil || st.Uid != rng.Start+1000 {
						t.Errorf("upper layer while staged: user-file owner %d (%v), want %d", st.Uid, err, rng.Start+1000)
					}
					if err := unstage(kernelMounts{}, dir); err != nil {
						t.Fatal(err)
					}
					o.checkCallerBack(t, dir)
					return
				}
				if !errors.Is(err, injected) {
					t.Fatalf("stageOverlay failing at %s: %v, want the injected failure", failing, err)
				}
				o.checkCallerBack(t, dir)
				// What create does next on failure leaves it so too.
				if err := unstage(kernelMounts{}, dir); err != nil {
					t.Fatal(err)
				}
				o.checkCallerBack(t, dir)
			})
		}
	}
}
