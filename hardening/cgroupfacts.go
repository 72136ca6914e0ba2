package hardening

import (
	"bufio"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

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
	for _, mnt := range cgroupMounts() {
		own := ownCgroup(mnt.controllers)
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
	// controllers is the hierarchy's key in /proc/self/cgroup: "" for v2,
	// else the comma-separated controllers ("cpu,cpuacct", "name=systemd").
	controllers string
}

// cgroupMounts lists the cgroup and cgroup2 mounts of /proc/self/mountinfo.
func cgroupMounts() []cgroupMount {
	fh, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer fh.Close()
	var out []cgroupMount
	seen := map[string]bool{}
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		fields, tail := strings.Fields(pre), strings.Fields(post)
		if !ok || len(fields) < 5 || len(tail) < 3 || fields[3] != "/" {
			continue
		}
		point := unescapeMountPath(fields[4])
		switch tail[0] {
		case "cgroup2":
			if !seen[point] {
				out = append(out, cgroupMount{point: point})
			}
		case "cgroup":
			var ctrls []string
			for _, o := range strings.Split(tail[2], ",") {
				if o == "rw" || o == "ro" || strings.HasPrefix(o, "release_agent=") || o == "clone_children" || o == "noprefix" || o == "xattr" || o == "nsdelegate" {
					continue
				}
				ctrls = append(ctrls, o)
			}
			if !seen[point] {
				out = append(out, cgroupMount{point: point, controllers: strings.Join(ctrls, ",")})
			}
		default:
			continue
		}
		seen[point] = true
	}
	return out
}

// unescapeMountPath undoes mountinfo's octal escapes (\040 for a space).
func unescapeMountPath(p string) string {
	if !strings.Contains(p, `\`) {
		return p
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] == '\\' && i+3 < len(p) {
			if n, err := strconv.ParseUint(p[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(p[i])
	}
	return b.String()
}

// ownCgroup returns the runtime's own cgroup in the hierarchy whose
// /proc/self/cgroup key is controllers ("" for v2).
func ownCgroup(controllers string) string {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(data), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[1] == controllers || (controllers != "" && sameControllers(parts[1], controllers)) {
			return parts[2]
		}
	}
	return ""
}

// sameControllers compares two comma-separated controller lists as sets.
func sameControllers(a, b string) bool {
	as, bs := strings.Split(a, ","), strings.Split(b, ",")
	if len(as) != len(bs) {
		return false
	}
	for _, x := range as {
		found := false
		for _, y := range bs {
			found = found || x == y
		}
		if !found {
			return false
		}
	}
	return true
}

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
