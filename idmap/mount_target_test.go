package idmap

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestMountOverlayFollowsNoSymlinkToTarget: a directory on the way to the
// target swapped for a symlink (by whoever owns it) makes the mount fail;
// it never lands where the symlink points.
func TestMountOverlayFollowsNoSymlinkToTarget(t *testing.T) {
	requireRoot(t)
	base := t.TempDir()
	p := func(n string) string { return filepath.Join(base, n) }
	for _, d := range []string{"lower", "upper", "work", "elsewhere", "elsewhere/rootfs"} {
		if err := os.MkdirAll(p(d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(p("elsewhere"), p("bundle")); err != nil {
		t.Fatal(err)
	}
	err := MountOverlay(Overlay{Lower: []string{p("lower")}, Upper: p("upper"), Work: p("work")}, filepath.Join(p("bundle"), "rootfs"))
	if err == nil {
		_ = unix.Unmount(p("elsewhere/rootfs"), unix.MNT_DETACH)
		t.Fatal("mounted through a symlink on the way to the target")
	}
	// The real directory takes it.
	if err := MountOverlay(Overlay{Lower: []string{p("lower")}, Upper: p("upper"), Work: p("work")}, p("elsewhere/rootfs")); err != nil {
		t.Fatal(err)
	}
	_ = unix.Unmount(p("elsewhere/rootfs"), unix.MNT_DETACH)
}
