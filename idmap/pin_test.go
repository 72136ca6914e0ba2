package idmap

import (
	"os"
	"path/filepath"
	"testing"
)

func TestPinDirResolvesAndVerifies(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	if err := os.Mkdir(real, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("real", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	d, err := PinDir(filepath.Join(dir, "link", "."))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	want, _ := filepath.EvalSymlinks(real)
	if d.Path != want {
		t.Errorf("Path = %q, want the resolved %q", d.Path, want)
	}
	if err := d.Verify(); err != nil {
		t.Errorf("Verify of an untouched directory: %v", err)
	}
	// Swap the directory for a symlink to /: the path no longer names it.
	if err := os.Rename(real, filepath.Join(dir, "moved")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/", real); err != nil {
		t.Fatal(err)
	}
	if err := d.Verify(); err == nil {
		t.Error("Verify passed after the directory was swapped for a symlink to /")
	}
	if _, err := PinDir(filepath.Join(dir, "missing")); err == nil {
		t.Error("PinDir of a missing path succeeded")
	}
	if _, err := PinDir("/proc/self/exe"); err == nil {
		t.Error("PinDir of a non-directory succeeded")
	}
}

// TestClonePinnedUsesTheDescriptor: the directory swapped for a symlink to /
// after it was pinned is not what ClonePinned mounts.
func TestClonePinnedUsesTheDescriptor(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "rootfs"), filepath.Join(dir, "dst")
	os.Mkdir(src, 0o755)
	os.Mkdir(dst, 0o755)
	os.WriteFile(filepath.Join(src, "marker"), nil, 0o644)
	d, err := PinDir(src)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	os.Rename(src, filepath.Join(dir, "elsewhere"))
	os.Symlink("/", src)
	if err := ClonePinned(d, dst, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = Unmount(dst) })
	if _, err := os.Stat(filepath.Join(dst, "marker")); err != nil {
		t.Errorf("clone lacks the pinned directory's file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dst, "etc", "passwd")); err == nil {
		t.Error("clone shows the host's /etc/passwd: it followed the swapped path")
	}
}

// TestPinInRootNoSymlinks: a path with a symlink on its way is not
// followed, not even to a directory inside root; a real path pins.
func TestPinInRootNoSymlinks(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, d := range []string{"etc", "tmp"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("/etc", filepath.Join(dir, "run")); err != nil {
		t.Fatal(err)
	}
	root, err := PinDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	p, err := PinInRootNoSymlinks(root, "tmp")
	if err != nil {
		t.Fatalf("a real directory: %v", err)
	}
	p.Close()
	if p, err := PinInRootNoSymlinks(root, "run"); err == nil {
		t.Errorf("a symlink to /etc pinned as %s", p.Path)
		p.Close()
	}
	if p, err := PinInRoot(root, "run"); err != nil || p.Path != filepath.Join(root.Path, "etc") {
		t.Errorf("PinInRoot follows it inside root: %v", err)
	} else {
		p.Close()
	}
}
