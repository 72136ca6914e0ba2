package userns

import (
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// mountFlags returns the per-mount flags (unix.ST_*) of the mount at path.
func mountFlags(t *testing.T, path string) int64 {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Flags
}

// TestEngineBindNosuidNodev: the rebuilt overlay bound at the engine's
// path is nosuid and nodev (the container's layer holds host-range owned
// files the container may make set-user-ID), at create and again after a
// pause and resume bound it anew; the container's own rootfs, the
// rebuilt overlay in the staging directory, keeps its flags.
func TestEngineBindNosuidNodev(t *testing.T) {
	rng, ns := stagingUserns(t)
	o := mountCallerOverlay(t, "")
	dir, pinned := newStagingDir(t, o)
	if err := (overlayRebuild{}).stageOverlay(pinned, dir, ns, rng); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := unstage(kernelMounts{}, dir); err != nil {
			t.Error(err)
		}
	})
	staged := filepath.Join(dir, "rootfs")
	check := func(when string) {
		t.Helper()
		if f := mountFlags(t, o.merged); f&unix.ST_NOSUID == 0 || f&unix.ST_NODEV == 0 {
			t.Errorf("%s: the engine's path %s is mounted with flags %#x, want nosuid and nodev", when, o.merged, f)
		}
		if f := mountFlags(t, staged); f&(unix.ST_NOSUID|unix.ST_NODEV|unix.ST_RDONLY) != 0 {
			t.Errorf("%s: the container's rootfs %s is mounted with flags %#x, want neither nosuid, nodev nor ro", when, staged, f)
		}
	}
	check("after create")
	if err := showLayerAtRest(kernelMounts{}, dir, nil); err != nil {
		t.Fatal(err)
	}
	if err := showLiveLayer(kernelMounts{}, dir); err != nil {
		t.Fatal(err)
	}
	check("after pause and resume")
}
