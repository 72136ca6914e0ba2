package hardening

import (
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/opencontainers/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// maxCgroupProcs is how many PIDs of one cgroup directory the facts keep:
// enough to name them in a refusal.
const maxCgroupProcs = 5

// GatherCgroupFacts fills f.CgroupProcs: for linux.cgroupsPath, the
// directories it names on every mounted cgroup hierarchy (and all below
// them) that already hold processes. A path of the form
// "slice:prefix:name" is read both as systemd's (the scope
// <prefix>-<name>.scope in the expanded slice) and as a plain path; a
// relative path both from the hierarchy's root and from the runtime's own
// cgroup, as libcontainer resolves it for cgroupfs.
func GatherCgroupFacts(s *specs.Spec, f *HostFacts) {
	if s == nil || s.Linux == nil || s.Linux.CgroupsPath == "" {
		return
	}
	paths := cgroupCandidates(s.Linux.CgroupsPath)
	// The runtime's own cgroup by controller ("" for v2, "name=systemd"
	// for a named hierarchy), for a relative path.
	owns, _ := cgroups.ParseCgroupFile("/proc/self/cgroup")
	for _, mnt := range cgroupMounts() {
		own := owns[mnt.key]
		for _, p := range paths {
			bases := []string{p}
			if !filepath.IsAbs(p) && own != "" {
				bases = append(bases, filepath.Join(own, p))
			}
			for _, b := range bases {
				// The mount's root is the hierarchy's root here (the
				// runtime runs in the host's cgroup namespace).
				dir := filepath.Join(mnt.point, filepath.Clean("/"+b))
				if !strings.HasPrefix(dir, mnt.point+"/") {
					continue
				}
				collectCgroupProcs(dir, f)
			}
		}
	}
}

// cgroupCandidates returns the cgroup paths cgroupsPath may name.
func cgroupCandidates(p string) []string {
	out := []string{p}
	parts := strings.Split(p, ":")
	if len(parts) != 3 {
		return out
	}
	slice, prefix, name := parts[0], parts[1], parts[2]
	if slice == "" {
		slice = "system.slice"
	}
	unit := prefix + "-" + name + ".scope"
	if strings.HasSuffix(name, ".slice") {
		unit = ""
		slice = name
	}
	if dir, ok := expandSlice(slice); ok {
		out = append(out, filepath.Join(dir, unit))
	}
	return out
}

// expandSlice turns a systemd slice name into its cgroup path:
// "a-b.slice" is /a.slice/a-b.slice.
func expandSlice(slice string) (string, bool) {
	name, ok := strings.CutSuffix(slice, ".slice")
	if !ok || strings.Contains(slice, "/") {
		return "", false
	}
	if name == "-" || name == "" {
		return "/", true
	}
	path, prefix := "", ""
	for _, comp := range strings.Split(name, "-") {
		if comp == "" {
			return "", false
		}
		path += "/" + prefix + comp + ".slice"
		prefix += comp + "-"
	}
	return path, true
}

// cgroupMount is one mounted cgroup hierarchy.
type cgroupMount struct {
	point string
	// key is the hierarchy's key in /proc/self/cgroup as
	// cgroups.ParseCgroupFile gives it: "" for v2, else one of its
	// controllers ("cpu" for "cpu,cpuacct", "name=systemd").
	key string
}

// cgroupMounts lists the mounted cgroup hierarchies a container is placed
// in: the mounts of the cgroup v1 hierarchies' roots, from the cgroups
// package, whose one read of /proc/self/mountinfo libcontainer's cgroup
// manager then reuses (it reads it too on this kind of host: a second read
// cost ~3 ms per create at 50-way, the table holding every staged mount of
// every container in flight), and the cgroup v2 mount libcontainer uses,
// /sys/fs/cgroup (unified) or /sys/fs/cgroup/unified (hybrid).
func cgroupMounts() []cgroupMount {
	if cgroups.IsCgroup2UnifiedMode() {
		return []cgroupMount{{point: unifiedCgroupMountpoint}}
	}
	var out []cgroupMount
	seen := map[string]bool{}
	mounts, _ := cgroups.GetCgroupMounts(true)
	owns, _ := cgroups.ParseCgroupFile("/proc/self/cgroup")
	for _, m := range mounts {
		if m.Root != "/" || len(m.Subsystems) == 0 || seen[m.Mountpoint] {
			continue
		}
		seen[m.Mountpoint] = true
		// The package drops the "name=" of a named hierarchy.
		key := m.Subsystems[0]
		if _, ok := owns[key]; !ok {
			key = cgroups.CgroupNamePrefix + key
		}
		out = append(out, cgroupMount{point: m.Mountpoint, key: key})
	}
	if cgroups.IsCgroup2HybridMode() {
		out = append(out, cgroupMount{point: hybridCgroupMountpoint})
	}
	return out
}

// The cgroup v2 mount points libcontainer uses (the cgroups package's).
const (
	unifiedCgroupMountpoint = "/sys/fs/cgroup"
	hybridCgroupMountpoint  = "/sys/fs/cgroup/unified"
)

// collectCgroupProcs records the processes of dir and of every cgroup
// below it in f.CgroupProcs.
func collectCgroupProcs(dir string, f *HostFacts) {
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if _, done := f.CgroupProcs[path]; done {
			return fs.SkipDir
		}
		pids := readCgroupProcs(filepath.Join(path, "cgroup.procs"))
		if len(pids) > 0 {
			if f.CgroupProcs == nil {
				f.CgroupProcs = map[string][]int{}
			}
			f.CgroupProcs[path] = pids
		}
		return nil
	})
}

// readCgroupProcs returns up to maxCgroupProcs PIDs of a cgroup.procs file.
func readCgroupProcs(path string) []int {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var pids []int
	for _, l := range strings.Fields(string(data)) {
		if pid, err := strconv.Atoi(l); err == nil {
			pids = append(pids, pid)
			if len(pids) == maxCgroupProcs {
				break
			}
		}
	}
	return pids
}
