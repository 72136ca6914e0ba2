package idmap

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// CountFiles counts the files of the tree at root (root itself
// included), without following symlinks or entering directories of
// another filesystem, and stops at the first file past limit (limit > 0)
// with ErrLayerTooLarge. It reads directories only (their entries' types
// come with the listing), so it costs far less a file than ShiftOwners,
// which stats and changes each: a caller that must not leave a layer half
// shifted counts first, up to its bound, and shifts only a layer within
// it.
func CountFiles(root string, limit int) (int, error) {
	fd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("count files of %s: %w", root, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return 0, fmt.Errorf("count files of %s: %w", root, err)
	}
	c := fileCount{dev: st.Dev, limit: limit, n: 1}
	if err := c.dir(fd); err != nil {
		return c.n, fmt.Errorf("count files of %s: %w", root, err)
	}
	return c.n, nil
}

// fileCount is one CountFiles walk.
type fileCount struct {
	dev      uint64
	limit, n int
}

// dir counts the entries of the directory open at fd, and those of its
// subdirectories on the same filesystem, and closes fd.
func (c *fileCount) dir(fd int) error {
	f := os.NewFile(uintptr(fd), "")
	defer f.Close()
	for {
		entries, err := f.ReadDir(walkBatch)
		for _, e := range entries {
			if c.n++; c.limit > 0 && c.n > c.limit {
				return fmt.Errorf("%w: more than %d files", ErrLayerTooLarge, c.limit)
			}
			if !e.IsDir() {
				continue
			}
			child, ok, err := openSubdir(fd, e.Name())
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			var st unix.Stat_t
			if err := unix.Fstat(child, &st); err != nil || st.Dev != c.dev {
				unix.Close(child)
				if err != nil {
					return err
				}
				continue
			}
			if err := c.dir(child); err != nil {
				return err
			}
		}
		if errors.Is(err, io.EOF) || err == nil && len(entries) == 0 {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
