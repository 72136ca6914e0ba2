package runtimeconfig

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/hardened-runtime/hardened/spec"
)

// File is a configuration file as read from the host, with what Replace
// needs to keep: its owner and mode.
type File struct {
	// Path is the file written: the configured path with symlinks
	// resolved, so a symlinked daemon.json keeps pointing at its target.
	Path string
	// Data is the content; empty when the file does not exist.
	Data []byte
	// Exists is false for a file that is not there yet.
	Exists bool
	// Mode, UID and GID are the file's permission bits and owner, or
	// 0644 root:root for a new file.
	Mode     fs.FileMode
	UID, GID int
}

// ReadFile reads path. A missing file is not an error: it is returned
// empty with Exists false, and Replace creates it (and its directory).
func ReadFile(path string) (*File, error) {
	f := &File{Path: path, Mode: 0o644}
	if resolved, err := filepath.EvalSymlinks(path); err == nil {
		f.Path = resolved
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	info, err := os.Stat(f.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("read %s: not a regular file", path)
	}
	f.Data, err = os.ReadFile(f.Path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	f.Exists = true
	f.Mode = info.Mode().Perm()
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		f.UID, f.GID = int(st.Uid), int(st.Gid)
	}
	return f, nil
}

// BackupPath is where Replace keeps the previous content when it runs at
// now: beside the file, with a UTC timestamp (and a counter if that name
// is taken), so that no edit overwrites an earlier backup.
func (f *File) BackupPath(now time.Time) string {
	base := f.Path + ".bak-" + now.UTC().Format("20060102T150405Z")
	path := base
	for i := 1; ; i++ {
		if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
			return path
		}
		path = fmt.Sprintf("%s.%d", base, i)
	}
}

// Replace writes data in place of the file, atomically (temporary file,
// fsync, rename, fsync of the directory), with the file's mode and owner.
// An existing file is first copied to BackupPath(now), with the same mode
// and owner; its path is returned ("" for a new file).
//
// The owner is set right after the rename: in between, the new file is
// owned by the caller (root), which is no wider access than before.
func (f *File) Replace(data []byte, now time.Time) (backup string, err error) {
	if f.Exists {
		backup = f.BackupPath(now)
		if err := writeOwned(backup, f.Data, f); err != nil {
			return "", fmt.Errorf("back up %s: %w", f.Path, err)
		}
	} else if err := os.MkdirAll(filepath.Dir(f.Path), 0o755); err != nil {
		return "", fmt.Errorf("write %s: %w", f.Path, err)
	}
	if err := writeOwned(f.Path, data, f); err != nil {
		return backup, err
	}
	return backup, nil
}

func writeOwned(path string, data []byte, f *File) error {
	if err := spec.WriteFileAtomic(path, data, f.Mode); err != nil {
		return err
	}
	if !f.Exists {
		return nil
	}
	if err := os.Lchown(path, f.UID, f.GID); err != nil {
		return fmt.Errorf("write %s: keep owner %d:%d: %w", path, f.UID, f.GID, err)
	}
	return nil
}
