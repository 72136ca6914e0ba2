package testutil

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// CgroupRoot is where the host mounts its cgroup hierarchies.
const CgroupRoot = "/sys/fs/cgroup"

// cgroupV1Unlimited is what cgroup v1 reports for "no memory limit"
// (LONG_MAX rounded down to the page size).
const cgroupV1Unlimited = "9223372036854771712"

// Cgroup is a process's cgroup as the host sees it, on either layout: on
// a cgroup v2 (unified) host one directory holds every controller; on a
// cgroup v1 or hybrid host each controller has its own directory. Paths
// come from /proc/<pid>/cgroup read in the host's cgroup namespace, so
// they hold for the cgroupfs and the systemd drivers alike (a systemd
// scope is just a directory like system.slice/docker-<id>.scope).
type Cgroup struct {
	// Pid is the process it was read for.
	Pid int
	// Unified is true on a cgroup v2 only host.
	Unified bool
	// dirs maps a v1 controller ("memory", "name=systemd") to its
	// directory; on a unified host the key "" holds the one directory.
	dirs map[string]string
}

// CgroupV2Host reports whether the host runs cgroup v2 only (the root is
// a cgroup2 file system, not v1 controllers or hybrid).
func CgroupV2Host() bool {
	_, err := os.Stat(filepath.Join(CgroupRoot, "cgroup.controllers"))
	return err == nil
}

// CgroupValue reads one value of pid's cgroup, as the host sees it, with
// read (a Cgroup method: either cgroup layout); an error fails the test.
func CgroupValue(tb testing.TB, pid int, read func(*Cgroup) (string, error)) string {
	tb.Helper()
	cg, err := ProcessCgroup(pid)
	if err != nil {
		tb.Fatal(err)
	}
	v, err := read(cg)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// ProcessCgroup reads the cgroup of pid from /proc/<pid>/cgroup.
func ProcessCgroup(pid int) (*Cgroup, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return nil, fmt.Errorf("cgroup of pid %d: %w", pid, err)
	}
	cg := &Cgroup{Pid: pid, Unified: CgroupV2Host(), dirs: map[string]string{}}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			if cg.Unified {
				cg.dirs[""] = filepath.Join(CgroupRoot, parts[2])
			}
			continue // hybrid: the unified tree holds no controller here
		}
		for _, ctrl := range strings.Split(parts[1], ",") {
			// A comma-joined hierarchy (cpu,cpuacct) is mounted under its
			// joined name, with a symlink per controller.
			cg.dirs[ctrl] = filepath.Join(CgroupRoot, strings.TrimPrefix(ctrl, "name="), parts[2])
		}
	}
	if cg.Unified && cg.dirs[""] == "" {
		return nil, fmt.Errorf("cgroup of pid %d: no unified entry in %q", pid, data)
	}
	return cg, nil
}

// Dir returns the directory of controller (a v1 name: "memory", "pids",
// "freezer", "cpu") holding pid; on a unified host the one directory.
func (cg *Cgroup) Dir(controller string) (string, error) {
	if cg.Unified {
		return cg.dirs[""], nil
	}
	if d, ok := cg.dirs[controller]; ok {
		return d, nil
	}
	return "", fmt.Errorf("pid %d has no %s cgroup", cg.Pid, controller)
}

// Read returns the trimmed content of v1File of controller on a v1 host,
// or of v2File on a unified host.
func (cg *Cgroup) Read(controller, v1File, v2File string) (string, error) {
	dir, err := cg.Dir(controller)
	if err != nil {
		return "", err
	}
	file := v1File
	if cg.Unified {
		file = v2File
	}
	data, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		return "", fmt.Errorf("pid %d: %w", cg.Pid, err)
	}
	return strings.TrimSpace(string(data)), nil
}

// MemoryLimit returns the memory limit in bytes, or "max" for none
// (memory.limit_in_bytes on v1, memory.max on v2).
func (cg *Cgroup) MemoryLimit() (string, error) {
	v, err := cg.Read("memory", "memory.limit_in_bytes", "memory.max")
	if v == cgroupV1Unlimited {
		v = "max"
	}
	return v, err
}

// MemorySwapLimit returns the limit of memory plus swap in bytes, or
// "max" (memory.memsw.limit_in_bytes on v1; memory.max + memory.swap.max
// on v2, where the swap limit is kept apart).
func (cg *Cgroup) MemorySwapLimit() (string, error) {
	if !cg.Unified {
		v, err := cg.Read("memory", "memory.memsw.limit_in_bytes", "")
		if v == cgroupV1Unlimited {
			v = "max"
		}
		return v, err
	}
	mem, err := cg.MemoryLimit()
	if err != nil {
		return "", err
	}
	swap, err := cg.Read("memory", "", "memory.swap.max")
	if err != nil || mem == "max" || swap == "max" {
		return "max", err
	}
	m, err1 := strconv.ParseInt(mem, 10, 64)
	s, err2 := strconv.ParseInt(swap, 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return "", fmt.Errorf("pid %d: memory.max %q, memory.swap.max %q: %w", cg.Pid, mem, swap, err)
	}
	return strconv.FormatInt(m+s, 10), nil
}

// PidsLimit returns pids.max ("max" for none) on either layout.
func (cg *Cgroup) PidsLimit() (string, error) {
	return cg.Read("pids", "pids.max", "pids.max")
}

// CPUQuota returns the CFS quota and period in cgroup v2's cpu.max form,
// "<quota> <period>" or "max <period>" (cpu.cfs_quota_us and
// cpu.cfs_period_us on v1, where -1 means no quota).
func (cg *Cgroup) CPUQuota() (string, error) {
	if cg.Unified {
		return cg.Read("cpu", "", "cpu.max")
	}
	quota, err := cg.Read("cpu", "cpu.cfs_quota_us", "")
	if err != nil {
		return "", err
	}
	period, err := cg.Read("cpu", "cpu.cfs_period_us", "")
	if err != nil {
		return "", err
	}
	if quota == "-1" {
		quota = "max"
	}
	return quota + " " + period, nil
}

// Frozen reports whether the cgroup is frozen: freezer.state FROZEN on
// v1, "frozen 1" in cgroup.events on v2 (cgroup.freeze is what was
// asked, cgroup.events what the kernel reached).
func (cg *Cgroup) Frozen() (bool, error) {
	if !cg.Unified {
		v, err := cg.Read("freezer", "freezer.state", "")
		if err != nil {
			return false, err
		}
		switch v {
		case "FROZEN":
			return true, nil
		case "THAWED":
			return false, nil
		}
		return false, fmt.Errorf("pid %d: freezer.state %q (in transition)", cg.Pid, v)
	}
	events, err := cg.Read("", "", "cgroup.events")
	if err != nil {
		return false, err
	}
	for _, line := range strings.Split(events, "\n") {
		if k, v, ok := strings.Cut(line, " "); ok && k == "frozen" {
			return v == "1", nil
		}
	}
	return false, fmt.Errorf("pid %d: no frozen line in cgroup.events %q", cg.Pid, events)
}

// CgroupsNamed returns the cgroup directories on the host whose name is
// name or is a systemd unit for it (<prefix>-<name>.scope or .slice), on
// either layout and under any parent (docker/<id> with the cgroupfs
// driver, system.slice/docker-<id>.scope with the systemd one,
// <namespace>/<id> for containerd): what a leak check looks for once a
// container is gone. The walk stops at depth 4 below each hierarchy.
func CgroupsNamed(name string) []string {
	var found []string
	match := func(base string) bool {
		if base == name {
			return true
		}
		for _, suffix := range []string{".scope", ".slice"} {
			if strings.HasSuffix(base, "-"+name+suffix) {
				return true
			}
		}
		return false
	}
	var roots []string
	if CgroupV2Host() {
		roots = []string{CgroupRoot}
	} else if ents, err := os.ReadDir(CgroupRoot); err == nil {
		for _, e := range ents {
			// Each hierarchy once: skip the per-controller symlinks
			// (cpu -> cpu,cpuacct).
			if e.IsDir() && e.Type()&fs.ModeSymlink == 0 {
				roots = append(roots, filepath.Join(CgroupRoot, e.Name()))
			}
		}
	}
	for _, root := range roots {
		filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return nil
			}
			rel, _ := filepath.Rel(root, path)
			if rel != "." && match(d.Name()) {
				found = append(found, path)
				return filepath.SkipDir
			}
			if rel != "." && strings.Count(rel, "/") >= 3 {
				return filepath.SkipDir
			}
			return nil
		})
	}
	return found
}

// RequireSystemd skips the test unless systemd runs as PID 1 (its
// runtime directory /run/systemd/system exists, as sd_booted(3) checks).
func RequireSystemd(tb testing.TB) {
	tb.Helper()
	if _, err := os.Stat("/run/systemd/system"); err != nil {
		tb.Skip("systemd is not PID 1 on this host (make test-vm runs this in a guest where it is)")
	}
}

// AppArmorEnabled reports whether the host's kernel enforces AppArmor
// (the module is enabled and its security file system is there).
func AppArmorEnabled() bool {
	b, err := os.ReadFile("/sys/module/apparmor/parameters/enabled")
	if err != nil || strings.TrimSpace(string(b)) != "Y" {
		return false
	}
	_, err = os.Stat("/sys/kernel/security/apparmor/profiles")
	return err == nil
}

// RequireAppArmor skips the test unless AppArmor is enabled on the host.
func RequireAppArmor(tb testing.TB) {
	tb.Helper()
	if !AppArmorEnabled() {
		tb.Skip("AppArmor is not enabled on this host (make test-vm runs this in a guest where it is)")
	}
}

// AppArmorLabel returns the AppArmor label of process pid as the host
// sees it ("docker-default (enforce)", "unconfined").
func AppArmorLabel(pid int) (string, error) {
	dir := "/proc/" + strconv.Itoa(pid) + "/attr/"
	b, err := os.ReadFile(dir + "apparmor/current")
	if err != nil {
		b, err = os.ReadFile(dir + "current")
	}
	if err != nil {
		return "", fmt.Errorf("AppArmor label of pid %d: %w", pid, err)
	}
	return strings.TrimRight(string(b), "\x00\n"), nil
}
