package create

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/manager"
	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"

	"github.com/hardened-runtime/hardened/internal/userns"
	"github.com/hardened-runtime/hardened/spec"
)

// createRecord is what a create in progress writes into its create lock
// file (<root>/.<id>.creating) before it makes anything that only its
// saved state would otherwise name: the bundle (whose temporary files a
// killed rewrite leaves) before config.json is rewritten, and the cgroup
// before libcontainer creates it. A create killed before libcontainer
// saved state.json leaves the lock file with this record, from which
// delete finds what to remove.
type createRecord struct {
	// Bundle is the bundle's absolute path.
	Bundle string `json:"bundle,omitempty"`
	// Cgroup is the container's cgroup as libcontainer will create it
	// (path or parent/prefix/name, driver), without its resources.
	Cgroup *cgroups.Cgroup `json:"cgroup,omitempty"`
}

// record writes rec into the lock file. The bytes are written over the
// old ones before the file is cut to their length, so a kill in between
// leaves the new record followed by the old one's tail, which the reader
// (one JSON value) ignores.
func (l *createLock) record(rec createRecord) error {
	if l == nil || l.file == nil {
		return nil
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if _, err := l.file.WriteAt(data, 0); err != nil {
		return fmt.Errorf("create lock %s: %w", l.path, err)
	}
	if err := l.file.Truncate(int64(len(data))); err != nil {
		return fmt.Errorf("create lock %s: %w", l.path, err)
	}
	return nil
}

// cgroupRecord copies what names cfg's cgroup, not its limits.
func cgroupRecord(c *cgroups.Cgroup) *cgroups.Cgroup {
	if c == nil {
		return nil
	}
	return &cgroups.Cgroup{Name: c.Name, Parent: c.Parent, Path: c.Path, ScopePrefix: c.ScopePrefix, Systemd: c.Systemd, Rootless: c.Rootless, OwnerUID: c.OwnerUID}
}

// leftoverLock is a create lock that delete found and holds.
type leftoverLock struct {
	file *os.File
	path string
	rec  createRecord
}

// takeLeftoverLock takes the create lock of container id to clean up after
// a create that died: ErrExist while a create of it is under way; nil and
// no error when there is no lock file and none can be made (create false,
// or a read-only or full root: no create can run there either). A lock
// file made here keeps a create from starting while delete cleans up. It
// waits up to wait for a holder to let go.
func takeLeftoverLock(root, id string, create bool, wait time.Duration) (*leftoverLock, error) {
	path := filepath.Join(root, "."+id+".creating")
	flags := os.O_RDWR | unix.O_NOFOLLOW
	if create {
		flags |= os.O_CREATE
	}
	f, err := os.OpenFile(path, flags, 0o600)
	if errors.Is(err, unix.EROFS) || errors.Is(err, unix.EACCES) || errors.Is(err, unix.ENOSPC) {
		f, err = os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	}
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("create lock: %w", err)
	}
	// A create that was just killed may hold the lock a moment longer
	// (a child of it that had not yet exec'd or been reaped).
	deadline := time.Now().Add(wait)
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("create lock %s: %w", path, err)
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("%w: a create of it is under way", libcontainer.ErrExist)
		}
		time.Sleep(10 * time.Millisecond)
	}
	l := &leftoverLock{file: f, path: path}
	// A torn or empty record (an older version's lock) names nothing.
	_ = json.NewDecoder(f).Decode(&l.rec)
	return l, nil
}

// release removes the lock file, if it is still the one held, and
// unlocks. A nil lock is fine.
func (l *leftoverLock) release() error {
	if l == nil {
		return nil
	}
	defer l.file.Close()
	var held, now unix.Stat_t
	if unix.Fstat(int(l.file.Fd()), &held) != nil || unix.Lstat(l.path, &now) != nil || held.Dev != now.Dev || held.Ino != now.Ino {
		return nil
	}
	if err := os.Remove(l.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("create lock: %w", err)
	}
	return nil
}

// ErrStateSaved means that a create finished while delete waited for it.
var ErrStateSaved = errors.New("state saved")

// RemoveLeftover removes what a create of container id that died before
// libcontainer saved its state may have made: the processes and
// directories of its cgroup, its state directory, its staged rootfs and
// ID range, the temporary files of its bundle, and its create lock. It
// returns what it could not remove, or ErrStateSaved when the container
// turned out to exist.
func RemoveLeftover(root, id string) error {
	lock, err := takeLeftoverLock(root, id, true, 10*time.Second)
	if err != nil {
		// A create under way owns all of it.
		return fmt.Errorf("container %s: %w", id, err)
	}
	// The create we waited for may have finished: its container is
	// deleted as such.
	if _, err := os.Lstat(filepath.Join(root, id, "state.json")); err == nil {
		_ = lock.release()
		return ErrStateSaved
	}
	var errs []error
	cgroupGone := true
	if lock != nil && lock.rec.Cgroup != nil {
		if err := removeCgroup(lock.rec.Cgroup); err != nil {
			errs = append(errs, err)
			cgroupGone = false
		}
	}
	if err := os.RemoveAll(filepath.Join(root, id)); err != nil {
		errs = append(errs, fmt.Errorf("state directory: %w", err))
	}
	// The range goes back only when no process of the container is left.
	if cgroupGone {
		if err := userns.Release(root, id); err != nil {
			errs = append(errs, err)
		}
	}
	if lock != nil && lock.rec.Bundle != "" {
		if err := spec.RemoveInterruptedWrites(lock.rec.Bundle); err != nil {
			errs = append(errs, err)
		}
	}
	if err := lock.release(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("container %s: delete: %w", id, err)
	}
	return nil
}

// removeCgroup kills what runs in the cgroup c names and removes it
// (every controller's directory, or the systemd unit).
func removeCgroup(c *cgroups.Cgroup) error {
	cfg := *c
	cfg.Resources = &cgroups.Resources{}
	m, err := manager.New(&cfg)
	if err != nil {
		return fmt.Errorf("cgroup: %w", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		pids, err := m.GetAllPids()
		if err != nil || len(pids) == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cgroup: processes %v still running 10s after SIGKILL", pids)
		}
		for _, pid := range pids {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := m.Destroy(); err != nil {
		return fmt.Errorf("cgroup: %w", err)
	}
	return nil
}

// RemoveStaleCreateLock removes the create lock of a container whose
// state was saved when the create that held it died: nothing if a live
// process (a create, or a foreground run) holds it.
func RemoveStaleCreateLock(root, id string) error {
	lock, err := takeLeftoverLock(root, id, false, 0)
	if errors.Is(err, libcontainer.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if lock != nil && lock.rec.Bundle != "" {
		if err := spec.RemoveInterruptedWrites(lock.rec.Bundle); err != nil {
			_ = lock.release()
			return err
		}
	}
	return lock.release()
}
