package idmap

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// The layer walks (ShiftOwners, AdoptHostWrites, CountFiles) list each
// directory through a descriptor and open its subdirectories beneath
// that descriptor following no symlink, so that a directory swapped for
// a symlink while they run takes none of them out of the layer.

// walkBatch is how many entries of a directory are read at once.
const walkBatch = 256

// eachName calls visit for the name of every entry of the directory open
// at fd, a batch at a time, and closes fd.
func eachName(fd int, visit func(name string) error) error {
	f := os.NewFile(uintptr(fd), "")
	defer f.Close()
	for {
		names, err := f.Readdirnames(walkBatch)
		for _, name := range names {
			if err := visit(name); err != nil {
				return err
			}
		}
		if errors.Is(err, io.EOF) || err == nil && len(names) == 0 {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// openSubdir opens the directory name beneath the directory open at
// dirFd, following no symlink. ok is false, with no error, when name is
// gone or is no longer a directory (a symlink now).
func openSubdir(dirFd int, name string) (fd int, ok bool, err error) {
	fd, err = unix.Openat(dirFd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	switch {
	case errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP):
		return -1, false, nil
	case err != nil:
		return -1, false, err
	}
	return fd, true, nil
}

// wrapPath names path in err; nil stays nil.
func wrapPath(path string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", path, err)
}
