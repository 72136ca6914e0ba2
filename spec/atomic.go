package spec

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// tempInfix is in the name of every temporary file of an atomic write:
// .<name>.tmp-<random>.
const tempInfix = ".tmp-"

// WriteFileAtomic replaces path with data so that a reader sees either the
// old content or the new one, never a mix, and the new content survives a
// crash once WriteFileAtomic returns: the data goes to a temporary file in
// the same directory, is fsynced, renamed over path, and the directory is
// fsynced so the rename itself is durable.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	return replaceFile(path, data, perm, true)
}

// ReplaceFile replaces path with data atomically, like WriteFileAtomic,
// but without fsync: for files that mean nothing after a reboot (a PID
// file), where two fsyncs would cost milliseconds on every container start.
func ReplaceFile(path string, data []byte, perm os.FileMode) error {
	return replaceFile(path, data, perm, false)
}

func replaceFile(path string, data []byte, perm os.FileMode, durable bool) (retErr error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+tempInfix+"*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	// Held until the file is renamed or removed: RemoveInterruptedWrites
	// leaves the temporary files of live writers alone.
	_ = unix.Flock(int(tmp.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	defer func() {
		if retErr != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(perm); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if durable {
		if err := tmp.Sync(); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if !durable {
		return nil
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// RemoveInterruptedWrites removes from dir the temporary files that the
// runtime's writes there left when a kill interrupted them: those of
// WriteFileAtomic and ReplaceFile for config.json and config.json.orig
// (.config.json.tmp-N) whose writer no longer holds their lock, and the
// temporary link of SaveRewritten (config.json.orig.tmp). Other files are
// not looked at: the bundle is the engine's. It returns what it could
// not remove.
func RemoveInterruptedWrites(dir string) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("bundle %s: %w", dir, err)
	}
	var errs []error
	for _, e := range ents {
		name := e.Name()
		path := filepath.Join(dir, name)
		switch {
		case name == OriginalConfigName+".tmp":
		case (strings.HasPrefix(name, "."+ConfigName+tempInfix) || strings.HasPrefix(name, "."+OriginalConfigName+tempInfix)) && e.Type().IsRegular():
			if !writerGone(path) {
				continue
			}
		default:
			continue
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("bundle %s: interrupted writes: %w", dir, err)
	}
	return nil
}

// writerGone reports whether no process holds the lock of a temporary
// file of an atomic write (its writer died). The lock taken to find out
// is dropped with the descriptor.
func writerGone(path string) bool {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return errors.Is(err, unix.ENOENT)
	}
	defer unix.Close(fd)
	return unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB) == nil
}
