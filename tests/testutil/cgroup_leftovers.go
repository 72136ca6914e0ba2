package testutil

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
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

// RemoveCgroupLeftovers is for a test that starts an engine itself, not
// through NewContainerd, NewDockerd or NewPodman: it notes what is in
// cgroupRoot now and, when the test ends, removes the parent cgroups
// named names (CtrNamespace for containerd, DockerCgroupParent for
// dockerd) and the plain controller directories that appeared since; one
// that cannot be removed fails the test. Call it before the engine
// starts, so that the removal runs after the engine's stop.
func RemoveCgroupLeftovers(tb testing.TB, names ...string) {
	tb.Helper()
	l := noteCgroupLeftovers(names...)
	tb.Cleanup(func() {
		if err := l.remove(); err != nil {
			tb.Errorf("cgroups left by the test's engine: %v", err)
		}
	})
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

// cgroupTops lists the directories a test run may leave in cgroupRoot: on
// a v1 host (cgroupRoot is a tmpfs) the directories on it, mounted
// hierarchies or not, and the top-level cgroups of each; on a v2 host the
// top-level cgroups.
func cgroupTops() map[string]bool {
	tops := map[string]bool{}
	entries, err := os.ReadDir(cgroupRoot)
	if err != nil {
		return tops
	}
	var st unix.Statfs_t
	v1 := unix.Statfs(cgroupRoot, &st) == nil && st.Type == unix.TMPFS_MAGIC
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(cgroupRoot, e.Name())
		tops[dir] = true
		if !v1 {
			continue
		}
		subs, _ := os.ReadDir(dir)
		for _, sub := range subs {
			if sub.IsDir() {
				tops[filepath.Join(dir, sub.Name())] = true
			}
		}
	}
	return tops
}

// cgroupInUse reports whether a process is in the cgroup dir or below it.
func cgroupInUse(dir string) bool {
	inUse := false
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if !d.IsDir() && d.Name() == "cgroup.procs" {
			if data, _ := os.ReadFile(p); len(strings.TrimSpace(string(data))) > 0 {
				inUse = true
				return filepath.SkipAll
			}
		}
		return nil
	})
	return inUse
}

// cgroupLeftoversSince returns the entries of cgroupTops that were not in
// before and hold no process, sorted, after waiting up to wait for them
// to go (an engine's cleanup may still be under way). A cgroup holding a
// process belongs to something still running (another test run on the
// machine, or a leaked process, which the daemons' Close reports).
func cgroupLeftoversSince(before map[string]bool, wait time.Duration) []string {
	deadline := time.Now().Add(wait)
	for {
		var left []string
		for p := range cgroupTops() {
			if !before[p] && !cgroupInUse(p) {
				left = append(left, p)
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			slices.Sort(left)
			return left
		}
		time.Sleep(250 * time.Millisecond)
	}
}
