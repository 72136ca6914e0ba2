package spec

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// DefaultMaxConfigSize is the largest config.json (and exec --process or
// update --resources document) read when the policy sets no other cap:
// 4 MiB, about a hundred times Docker's or Kubernetes' largest.
const DefaultMaxConfigSize = 4 << 20

// ErrTooLarge classifies a file refused for its size.
var ErrTooLarge = errors.New("file too large")

// ReadRegularFile reads path, at most limit bytes (DefaultMaxConfigSize
// when limit is not positive). It opens path without following a symlink
// in its last component and without blocking (O_PATH), checks the inode is
// a regular file, and only then opens it for reading, through the checked
// descriptor, so a FIFO, a socket or a device node is refused before any
// read or real open: a FIFO would block the runtime, a device's open may
// have side effects. A larger file is refused (wrapping ErrTooLarge)
// without being read whole.
func ReadRegularFile(path string, limit int64) ([]byte, error) {
	return readRegularFileNamed(path, path, limit)
}

// readRegularFileNamed is ReadRegularFile of the file at path, named
// name in errors (path may be a /proc/self/fd link of a held directory).
func readRegularFileNamed(path, name string, limit int64) ([]byte, error) {
	if limit <= 0 {
		limit = DefaultMaxConfigSize
	}
	pathFd, err := unix.Open(path, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	defer unix.Close(pathFd)
	var st unix.Stat_t
	if err := unix.Fstat(pathFd, &st); err != nil {
		return nil, &os.PathError{Op: "stat", Path: name, Err: err}
	}
	if err := checkRegular(name, st, limit); err != nil {
		return nil, err
	}
	// Reopen the inode just checked, not the path, which may have changed.
	f, err := os.OpenFile("/proc/self/fd/"+strconv.Itoa(pathFd), os.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("reopen %s: %w", name, err)
	}
	defer f.Close()
	var again unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &again); err != nil {
		return nil, &os.PathError{Op: "stat", Path: name, Err: err}
	}
	if again.Dev != st.Dev || again.Ino != st.Ino {
		return nil, fmt.Errorf("%s changed while it was opened", name)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%w: %s grew past %d bytes while it was read", ErrTooLarge, name, limit)
	}
	return data, nil
}

// checkRegular refuses what is not a regular file of at most limit bytes.
func checkRegular(path string, st unix.Stat_t, limit int64) error {
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
	case unix.S_IFLNK:
		return fmt.Errorf("%s is a symlink, which is not allowed", path)
	case unix.S_IFIFO:
		return fmt.Errorf("%s is a FIFO, not a regular file", path)
	case unix.S_IFDIR:
		return fmt.Errorf("%s is a directory, not a regular file", path)
	default:
		return fmt.Errorf("%s is not a regular file (mode %#o)", path, st.Mode&unix.S_IFMT)
	}
	if st.Size > limit {
		return fmt.Errorf("%w: %s is %d bytes, more than the %d allowed (policy key \"maxConfigSize\")", ErrTooLarge, path, st.Size, limit)
	}
	return nil
}

// ReadLimited reads r to its end, at most limit bytes (DefaultMaxConfigSize
// when limit is not positive); more is an error wrapping ErrTooLarge. It
// is for standard input, which cannot be checked like a file.
func ReadLimited(r io.Reader, what string, limit int64) ([]byte, error) {
	if limit <= 0 {
		limit = DefaultMaxConfigSize
	}
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%w: %s is more than the %d bytes allowed (policy key \"maxConfigSize\")", ErrTooLarge, what, limit)
	}
	return data, nil
}
