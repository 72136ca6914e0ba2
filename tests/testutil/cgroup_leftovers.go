package testutil

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// cgroupRoot is where the host's cgroup hierarchies are mounted.
const cgroupRoot = "/sys/fs/cgroup"

// cgroupLeftovers are cgroups a test's daemon leaves in cgroupRoot: the
// parent cgroups it makes in every hierarchy and never removes (Podman's
// cgroupfs manager: libpod_parent/conmon; containerd: one per namespace,
// /<namespace>/<id>), and on a v1 host the directories of the
// controllers Podman's conmon expects (hugetlb, net_cls, perf_event...)
// that are not mounted, made as plain directories on cgroupRoot's tmpfs.
// libcontainer, runc's too, then reads the whole mount table for every
// container to find those controllers' mounts.
type cgroupLeftovers struct {
	// names are the parent cgroups' names.
	names []string
	// existed are the paths that were there before the daemon started:
	// the host's own or an earlier test's, never removed here.
	existed map[string]bool
}

// candidates lists what the daemon may leave: cgroupRoot/<h>/<name> and
// cgroupRoot/<name> for each name, and the directories in cgroupRoot.
func (l cgroupLeftovers) candidates() ([]string, error) {
	entries, err := os.ReadDir(cgroupRoot)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, name := range l.names {
		out = append(out, filepath.Join(cgroupRoot, name))
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		out = append(out, filepath.Join(cgroupRoot, e.Name()))
		for _, name := range l.names {
			out = append(out, filepath.Join(cgroupRoot, e.Name(), name))
		}
	}
	return out, nil
}

// noteCgroupLeftovers records what exists before a test's daemon, which
// makes parent cgroups named names, starts.
func noteCgroupLeftovers(names ...string) cgroupLeftovers {
	l := cgroupLeftovers{names: names, existed: map[string]bool{}}
	paths, _ := l.candidates()
	for _, p := range paths {
		if _, err := os.Lstat(p); err == nil {
			l.existed[p] = true
		}
	}
	return l
}

// remove removes what the daemon made since noteCgroupLeftovers: a new
// parent cgroup (deepest first: rmdir of an empty cgroup; one a process
// still uses stays, and is an error), and a new directory on
// cgroupRoot's tmpfs that is no mount point (with what is in it).
func (l cgroupLeftovers) remove() error {
	paths, err := l.candidates()
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range paths {
		if l.existed[p] {
			continue
		}
		if _, err := os.Lstat(p); err != nil {
			continue
		}
		if slices.Contains(l.names, filepath.Base(p)) {
			errs = append(errs, removeCgroupTree(p))
			continue
		}
		// Only a plain directory on cgroupRoot's tmpfs (a v1 host): on a
		// v2 host every directory there is a cgroup, maybe another's.
		var fs unix.Statfs_t
		if unix.Statfs(p, &fs) != nil || fs.Type != unix.TMPFS_MAGIC {
			continue
		}
		if mounted, err := mountinfo.Mounted(p); err != nil || mounted {
			continue
		}
		errs = append(errs, os.RemoveAll(p))
	}
	return errors.Join(errs...)
}

// removeCgroupTree removes the cgroup dir and its descendants, deepest
// first. On a plain directory (a controller conmon made on the tmpfs)
// its files are removed too.
func removeCgroupTree(dir string) error {
	var dirs []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	slices.Reverse(dirs)
	for _, d := range dirs {
		// A cgroup whose last process just exited answers EBUSY until
		// the kernel has released it.
		err := os.Remove(d)
		for i := 0; i < 40 && errors.Is(err, unix.EBUSY); i++ {
			time.Sleep(50 * time.Millisecond)
			err = os.Remove(d)
		}
		if err != nil {
			if mounted, _ := mountinfo.Mounted(filepath.Dir(dir)); mounted {
				return fmt.Errorf("cgroup %s left: %w", d, err)
			}
			if err := os.RemoveAll(d); err != nil {
				return err
			}
		}
	}
	return nil
}
