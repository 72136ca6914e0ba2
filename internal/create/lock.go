package create

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"
)

// createLock keeps two creates of one container ID apart while they
// stage: each would otherwise clear the other's staging directory, and
// the loser's cleanup would undo the winner's. It is an exclusive flock
// on <root>/.<id>.creating, which list and delete ignore.
type createLock struct {
	file *os.File
	path string
}

// lockCreate takes the create lock of container id, or fails with
// libcontainer.ErrExist while another create of that ID holds it.
func lockCreate(root, id string) (*createLock, error) {
	path := filepath.Join(root, "."+id+".creating")
	for try := 0; try < 8; try++ {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW, 0o600)
		if err != nil {
			return nil, fmt.Errorf("create lock: %w", err)
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
			f.Close()
			if errors.Is(err, unix.EWOULDBLOCK) {
				return nil, fmt.Errorf("%w: another create of it is under way", libcontainer.ErrExist)
			}
			return nil, fmt.Errorf("create lock %s: %w", path, err)
		}
		// The holder before us removes the file before it unlocks: the
		// lock counts only while the file is still the one at path.
		var held, now unix.Stat_t
		if unix.Fstat(int(f.Fd()), &held) == nil && unix.Lstat(path, &now) == nil && held.Dev == now.Dev && held.Ino == now.Ino {
			return &createLock{file: f, path: path}, nil
		}
		f.Close()
	}
	return nil, fmt.Errorf("create lock %s: the file keeps changing", path)
}

// release removes the lock file and unlocks; a nil lock is fine.
func (l *createLock) release() {
	if l == nil || l.file == nil {
		return
	}
	_ = os.Remove(l.path)
	_ = l.file.Close()
	l.file = nil
}
