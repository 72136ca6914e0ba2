package idmap

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// PinnedDir is a directory opened once, by an O_PATH descriptor, with the
// canonical host path it had when it was opened. A check made against
// Path holds for File whatever happens to the path afterwards (a
// directory renamed, a symlink swapped in): code that uses File rather
// than a fresh lookup of the path uses what was checked.
type PinnedDir struct {
	// File is the O_PATH descriptor of the directory.
	File *os.File
	// Path is where File was when it was opened: absolute, clean, no
	// symlink, read back from the descriptor (/proc/self/fd) and
	// confirmed to name the same directory.
	Path string
}

// PinDir opens the directory at path, following symlinks as mount(2)
// would, and returns it with the canonical path the kernel reports for
// the descriptor. It fails when that path is not absolute (the directory
// was deleted or lies outside this process's root) or no longer names
// the opened directory (it moved while we looked).
func PinDir(path string) (*PinnedDir, error) {
	fd, err := unix.Open(path, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	real, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: read back the opened directory: %w", path, err)
	}
	d := &PinnedDir{File: f, Path: real}
	if !filepath.IsAbs(real) || filepath.Clean(real) != real {
		f.Close()
		return nil, fmt.Errorf("%s: opened directory has no host path (%q)", path, real)
	}
	if err := d.Verify(); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}

// Verify checks that Path still names the directory held by File (the
// same device and inode), with no symlink on the way.
func (d *PinnedDir) Verify() error {
	var held, now unix.Stat_t
	if err := unix.Fstat(int(d.File.Fd()), &held); err != nil {
		return fmt.Errorf("stat the opened directory: %w", err)
	}
	fd, err := unix.Openat2(unix.AT_FDCWD, d.Path, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_NO_SYMLINKS,
	})
	if err != nil {
		return fmt.Errorf("%s no longer names the opened directory: %w", d.Path, err)
	}
	defer unix.Close(fd)
	if err := unix.Fstat(fd, &now); err != nil {
		return fmt.Errorf("stat %s: %w", d.Path, err)
	}
	if held.Dev != now.Dev || held.Ino != now.Ino {
		return fmt.Errorf("%s no longer names the opened directory", d.Path)
	}
	return nil
}

// Filesystem returns FilesystemOf for the pinned directory itself.
func (d *PinnedDir) Filesystem() (FSType, error) {
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(d.File.Fd()), &st); err != nil {
		return "", fmt.Errorf("statfs %s: %w", d.Path, err)
	}
	if st.Type == unix.OVERLAYFS_SUPER_MAGIC {
		return FSOverlay, nil
	}
	return FSOther, nil
}

// Close closes the descriptor; a nil PinnedDir is fine.
func (d *PinnedDir) Close() error {
	if d == nil || d.File == nil {
		return nil
	}
	err := d.File.Close()
	d.File = nil
	if errors.Is(err, os.ErrClosed) {
		return nil
	}
	return err
}
