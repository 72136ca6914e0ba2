package idmap

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// Pinned is a file or directory opened once, by an O_PATH descriptor,
// with the canonical host path it had when it was opened. A check made
// against Path holds for File whatever happens to the path afterwards (a
// directory renamed, a symlink swapped in): code that uses File rather
// than a fresh lookup of the path uses what was checked.
type Pinned struct {
	// File is the O_PATH descriptor.
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
func PinDir(path string) (*Pinned, error) {
	return pin(unix.AT_FDCWD, path, &unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC})
}

// PinPath is PinDir for a file of any type or a directory.
func PinPath(path string) (*Pinned, error) {
	return pin(unix.AT_FDCWD, path, &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC})
}

// PinInRoot pins rel inside the pinned directory root, resolved as if
// root were / (openat2 RESOLVE_IN_ROOT: ".." and absolute symlinks stay
// in root, no magic links), so the result never lies outside root.
func PinInRoot(root *Pinned, rel string) (*Pinned, error) {
	return pin(int(root.File.Fd()), rel, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
}

// PinInRootNoSymlinks is PinInRoot for a path that had no symlink on its
// way when it was checked: it follows none (RESOLVE_NO_SYMLINKS), so a
// directory swapped for a symlink since fails instead of leading
// elsewhere inside root.
func PinInRootNoSymlinks(root *Pinned, rel string) (*Pinned, error) {
	return pin(int(root.File.Fd()), rel, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
}

func pin(dirfd int, path string, how *unix.OpenHow) (*Pinned, error) {
	fd, err := unix.Openat2(dirfd, path, how)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	real, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: read back the opened file: %w", path, err)
	}
	d := &Pinned{File: f, Path: real}
	if !filepath.IsAbs(real) || filepath.Clean(real) != real {
		f.Close()
		return nil, fmt.Errorf("%s: opened file has no host path (%q)", path, real)
	}
	if err := d.Verify(); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}

// IsDir reports whether the pinned file is a directory.
func (d *Pinned) IsDir() (bool, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(d.File.Fd()), &st); err != nil {
		return false, fmt.Errorf("stat %s: %w", d.Path, err)
	}
	return st.Mode&unix.S_IFMT == unix.S_IFDIR, nil
}

// Verify checks that Path still names the file held by File (the same
// device and inode), with no symlink on the way.
func (d *Pinned) Verify() error {
	var held, now unix.Stat_t
	if err := unix.Fstat(int(d.File.Fd()), &held); err != nil {
		return fmt.Errorf("stat the opened file: %w", err)
	}
	fd, err := unix.Openat2(unix.AT_FDCWD, d.Path, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_NO_SYMLINKS,
	})
	if err != nil {
		return fmt.Errorf("%s no longer names the opened file: %w", d.Path, err)
	}
	defer unix.Close(fd)
	if err := unix.Fstat(fd, &now); err != nil {
		return fmt.Errorf("stat %s: %w", d.Path, err)
	}
	if held.Dev != now.Dev || held.Ino != now.Ino {
		return fmt.Errorf("%s no longer names the opened file", d.Path)
	}
	return nil
}

// Filesystem returns FilesystemOf for the pinned file itself.
func (d *Pinned) Filesystem() (FSType, error) {
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(d.File.Fd()), &st); err != nil {
		return "", fmt.Errorf("statfs %s: %w", d.Path, err)
	}
	if st.Type == unix.OVERLAYFS_SUPER_MAGIC {
		return FSOverlay, nil
	}
	return FSOther, nil
}

// Close closes the descriptor; a nil Pinned is fine.
func (d *Pinned) Close() error {
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
