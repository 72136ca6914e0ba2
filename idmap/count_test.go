package idmap

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestCountFiles: every file of the tree is counted once (root
// included), a symlink to a directory is one file, a directory of
// another filesystem one too, and a tree past the limit stops with
// ErrLayerTooLarge.
func TestCountFiles(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	for _, d := range []string{"a", "a/b", "c", "mnt"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"f", "a/f", "a/b/f", "a/b/g", "c/f"} {
		if err := os.WriteFile(filepath.Join(root, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"x", "y", "z"} {
		if err := os.WriteFile(filepath.Join(outside, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	// root, 4 directories, 5 files, the symlink.
	want := 11
	if os.Geteuid() == 0 {
		if err := unix.Mount("tmpfs", filepath.Join(root, "mnt"), "tmpfs", 0, ""); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = unix.Unmount(filepath.Join(root, "mnt"), unix.MNT_DETACH) })
		if err := os.WriteFile(filepath.Join(root, "mnt", "other-fs"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		limit, want int
		tooLarge    bool
	}{
		{0, want, false},
		{want, want, false},
		{want - 1, want, true},
		{1, 2, true},
	} {
		n, err := CountFiles(root, tc.limit)
		if n != tc.want || errors.Is(err, ErrLayerTooLarge) != tc.tooLarge || err != nil && !tc.tooLarge {
			t.Errorf("CountFiles limit %d: %d, %v; want %d, too large %v", tc.limit, n, err, tc.want, tc.tooLarge)
		}
	}
}
