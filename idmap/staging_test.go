package idmap

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStagingDirDetachesEverythingOnIt(t *testing.T) {
	requireRoot(t)
	dir := filepath.Join(t.TempDir(), "stage")
	src := filepath.Join(t.TempDir(), "src")
	for _, d := range []string{dir, src} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if whole, err := DetachStagingDir(dir); err != nil || whole {
		t.Fatalf("DetachStagingDir of a plain directory: %v, %v; want false, nil", whole, err)
	}
	if err := MountStagingDir(dir, -1); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = DetachStagingDir(dir) })
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o711 {
		t.Fatalf("staging dir: %v, %v; want mode 0711", fi.Mode(), err)
	}
	for _, name := range []string{"rootfs", "bind1"} {
		dst := filepath.Join(dir, name)
		if err := os.Mkdir(dst, 0o755); err != nil {
			t.Fatal(err)
		}
		p, err := PinDir(src)
		if err != nil {
			t.Fatal(err)
		}
		err = ClonePinned(p, dst, nil)
		p.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := mountsUnder(t, dir); n != 3 {
		t.Fatalf("%d mounts at and under %s, want 3", n, dir)
	}
	whole, err := DetachStagingDir(dir)
	if err != nil || !whole {
		t.Fatalf("DetachStagingDir: %v, %v; want true, nil", whole, err)
	}
	if n := mountsUnder(t, dir); n != 0 {
		t.Errorf("%d mounts left at and under %s", n, dir)
	}
	// The directories made on the tmpfs went with it.
	if ents, err := os.ReadDir(dir); err != nil || len(ents) != 0 {
		t.Errorf("%s after the detach: %d entries, %v; want empty", dir, len(ents), err)
	}
	if err := os.Remove(dir); err != nil {
		t.Error(err)
	}
	if whole, err := DetachStagingDir(dir); err != nil || whole {
		t.Errorf("DetachStagingDir of a missing directory: %v, %v; want false, nil", whole, err)
	}
}

func mountsUnder(t *testing.T, dir string) int {
	t.Helper()
	ms, err := ReadMountInfo()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range ms {
		if m.Mountpoint == dir || strings.HasPrefix(m.Mountpoint, dir+"/") {
			n++
		}
	}
	return n
}
