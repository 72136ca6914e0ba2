package idmap

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// TestMountOverlayAttr: the mount attributes asked for are on the
// overlay as it appears at target (mountinfo's per-mount options); one
// it cannot set is refused before anything is mounted.
func TestMountOverlayAttr(t *testing.T) {
	dir := t.TempDir()
	l1, l2, target := filepath.Join(dir, "l1"), filepath.Join(dir, "l2"), filepath.Join(dir, "merged")
	for _, d := range []string{l1, l2, target} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ov := Overlay{Lower: []string{l1, l2}}
	if err := MountOverlayAttr(ov, target, unix.MOUNT_ATTR_IDMAP); err == nil || !strings.Contains(err.Error(), "not supported") {
		Unmount(target)
		t.Fatalf("MountOverlayAttr with MOUNT_ATTR_IDMAP: %v, want it refused", err)
	}
	requireRoot(t)
	for _, c := range []struct {
		attr uint64
		want []string
	}{
		{unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV, []string{"ro", "nosuid", "nodev"}},
		{unix.MOUNT_ATTR_NOEXEC, []string{"noexec"}},
	} {
		if err := MountOverlayAttr(ov, target, c.attr); err != nil {
			t.Fatal(err)
		}
		ms, err := mountinfo.GetMounts(mountinfo.SingleEntryFilter(target))
		Unmount(target)
		if err != nil || len(ms) != 1 {
			t.Fatalf("mountinfo of %s: %d mounts, %v", target, len(ms), err)
		}
		opts := strings.Split(ms[0].Options, ",")
		for _, w := range c.want {
			if !slices.Contains(opts, w) {
				t.Errorf("attributes %#x: mounted %s, want %s", c.attr, ms[0].Options, w)
			}
		}
	}
}
