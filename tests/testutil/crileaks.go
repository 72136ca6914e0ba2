package testutil

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/hardened-runtime/hardened/idmap"
)

// CheckGone fails the test if, with no pod left, anything of the pods
// run so far remains: the runtimes' state directories and ID ranges, the
// runtime's idmap staging, mounts naming a pod or container, processes or
// cgroups under CgroupParent, veths on the bridge, IPs held in the
// host-local IPAM directory.
func (c *CRI) CheckGone(tb testing.TB) {
	tb.Helper()
	c.mu.Lock()
	ids := append([]string(nil), c.ids...)
	live := len(c.pods)
	c.mu.Unlock()
	if live > 0 {
		return
	}
	for _, left := range c.leaks(ids) {
		tb.Error(left)
	}
}

// leaks lists what is left of the pods (see CheckGone).
func (c *CRI) leaks(ids []string) []string {
	var left []string
	for h := range c.Opts.Handlers {
		root := c.RuntimeRoot(h)
		if ents, err := os.ReadDir(root); err == nil {
			for _, e := range ents {
				if e.IsDir() {
					left = append(left, fmt.Sprintf("handler %s: runtime state %s left", h, filepath.Join(root, e.Name())))
				}
			}
		}
		a := &idmap.Allocator{Dir: root}
		if e, err := a.Entries(); err == nil && len(e) > 0 {
			left = append(left, fmt.Sprintf("handler %s: ID ranges still held: %v", h, e))
		}
		if e, err := idmap.NewHostAllocator(nil, 0).Entries(); err == nil {
			for k, r := range e {
				if strings.HasPrefix(k, root+"/") {
					left = append(left, fmt.Sprintf("handler %s: ID range %s still held in the host-wide registry by %s", h, r.Range, k))
				}
			}
		}
		sum := sha256.Sum256([]byte(root))
		staging := filepath.Join("/run/hardened-idmap", hex.EncodeToString(sum[:6]))
		if ents, err := os.ReadDir(staging); err == nil && len(ents) > 0 {
			left = append(left, fmt.Sprintf("handler %s: idmap staging directories left in %s: %d", h, staging, len(ents)))
		}
	}
	if mounts := leftoverMounts("", ids); len(mounts) > 0 {
		left = append(left, "mounts naming a pod or container left:\n"+strings.Join(mounts, "\n"))
	}
	if pids := c.cgroupPids(); len(pids) > 0 {
		left = append(left, fmt.Sprintf("processes left in the pods' cgroups under %s: %v", c.CgroupParent, pids))
	}
	if dirs := c.cgroupChildren(); len(dirs) > 0 {
		left = append(left, fmt.Sprintf("cgroups left under %s: %v", c.CgroupParent, dirs))
	}
	if c.Bridge != nil {
		if out, _ := exec.Command("ip", "-o", "link", "show", "master", c.Bridge.Name).CombinedOutput(); strings.TrimSpace(string(out)) != "" {
			left = append(left, fmt.Sprintf("interfaces left on bridge %s: %s", c.Bridge.Name, strings.TrimSpace(string(out))))
		}
	}
	ipam := filepath.Join(c.Dir, "cni", "ipam", c.network)
	if ents, err := os.ReadDir(ipam); err == nil {
		for _, e := range ents {
			if n := e.Name(); n != "lock" && !strings.HasPrefix(n, "last_reserved_ip") {
				left = append(left, fmt.Sprintf("pod IP %s still reserved in %s", n, ipam))
			}
		}
	}
	return left
}

// cgroupDirs returns CgroupParent in every mounted hierarchy.
func (c *CRI) cgroupDirs() []string {
	var dirs []string
	ctrls, err := os.ReadDir("/sys/fs/cgroup")
	if err != nil {
		return nil
	}
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		return []string{filepath.Join("/sys/fs/cgroup", c.CgroupParent)}
	}
	for _, e := range ctrls {
		dirs = append(dirs, filepath.Join("/sys/fs/cgroup", e.Name(), c.CgroupParent))
	}
	return dirs
}

// cgroupChildren returns the cgroups below CgroupParent.
func (c *CRI) cgroupChildren() []string {
	var found []string
	for _, d := range c.cgroupDirs() {
		filepath.WalkDir(d, func(p string, e os.DirEntry, err error) error {
			if err == nil && e.IsDir() && p != d {
				found = append(found, p)
			}
			return nil
		})
	}
	return found
}

// cgroupPids returns the live processes in any cgroup below CgroupParent.
func (c *CRI) cgroupPids() []int {
	seen := map[int]bool{}
	var pids []int
	for _, d := range c.cgroupDirs() {
		filepath.WalkDir(d, func(p string, e os.DirEntry, err error) error {
			if err != nil || e.IsDir() || e.Name() != "cgroup.procs" {
				return nil
			}
			data, _ := os.ReadFile(p)
			for _, f := range strings.Fields(string(data)) {
				if pid, err := strconv.Atoi(f); err == nil && !seen[pid] && alive(pid) {
					seen[pid] = true
					pids = append(pids, pid)
				}
			}
			return nil
		})
	}
	return pids
}

// removeCgroups removes CgroupParent and everything below it, deepest
// first.
func (c *CRI) removeCgroups() {
	children := c.cgroupChildren()
	sort.Slice(children, func(i, j int) bool { return len(children[i]) > len(children[j]) })
	for _, d := range children {
		os.Remove(d)
	}
	for _, d := range c.cgroupDirs() {
		os.Remove(d)
	}
}
