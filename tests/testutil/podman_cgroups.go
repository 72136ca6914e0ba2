package testutil

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/moby/sys/mountinfo"
)

// cgroupRoot is where the host's cgroup hierarchies are mounted.
const cgroupRoot = "/sys/fs/cgroup"

// podmanCgroupLeftovers is what Podman's cgroupfs manager leaves in
// cgroupRoot: conmon's cgroup libpod_parent/conmon in every hierarchy,
// which Podman never removes, and on a v1 host the directories of the
// controllers it expects (hugetlb, net_cls, perf_event...) that are not
// mounted, which conmon makes as plain directories on cgroupRoot's
// tmpfs. libcontainer, runc's too, then reads the whole mount table for
// every container to find those controllers' mounts.
type podmanCgroupLeftovers struct {
	// existed are the paths that were there before this podman started:
	// the host's own Podman or an earlier test's, never removed here.
	existed map[string]bool
}

// podmanCgroupCandidates lists what Podman may leave: every
// cgroupRoot/<name>/libpod_parent and cgroupRoot/libpod_parent, and the
// unmounted directories in cgroupRoot.
func podmanCgroupCandidates() ([]string, error) {
	entries, err := os.ReadDir(cgroupRoot)
	if err != nil {
		return nil, err
	}
	out := []string{filepath.Join(cgroupRoot, "libpod_parent")}
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, filepath.Join(cgroupRoot, e.Name()), filepath.Join(cgroupRoot, e.Name(), "libpod_parent"))
		}
	}
	return out, nil
}

// notePodmanCgroups records what exists before a test's podman starts.
func notePodmanCgroups() podmanCgroupLeftovers {
	l := podmanCgroupLeftovers{existed: map[string]bool{}}
	paths, _ := podmanCgroupCandidates()
	for _, p := range paths {
		if _, err := os.Lstat(p); err == nil {
			l.existed[p] = true
		}
	}
	return l
}

// remove removes what Podman made since notePodmanCgroups: a new
// libpod_parent cgroup (deepest first: rmdir of an empty cgroup; one a
// process still uses stays, and is an error), and a new directory on
// cgroupRoot's tmpfs that is no mount point (with what conmon made in it).
func (l podmanCgroupLeftovers) remove() error {
	paths, err := podmanCgroupCandidates()
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
		if filepath.Base(p) == "libpod_parent" {
			errs = append(errs, removeCgroupTree(p))
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
		if err := os.Remove(d); err != nil {
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
