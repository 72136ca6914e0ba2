package testutil

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"

	"github.com/hardened-runtime/hardened/idmap"
)

// cleanup force-deletes every container in the root, then checks that
// nothing of them is left and removes what is (so one failing test does not
// break the next).
func (rt *Runtime) cleanup() {
	tb := rt.tb
	rt.mu.Lock()
	ids := make([]string, 0, len(rt.ids))
	trackedIDs := map[string]*tracked{}
	for id, tr := range rt.ids {
		ids = append(ids, id)
		trackedIDs[id] = tr
	}
	rt.mu.Unlock()
	if out, _, code := rt.runQuiet("list", "-q"); code == 0 {
		for _, id := range strings.Fields(out) {
			if _, ok := trackedIDs[id]; !ok {
				ids = append(ids, id)
				trackedIDs[id] = &tracked{}
			}
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		if _, errOut, code := rt.runQuiet("delete", "--force", id); code != 0 && !strings.Contains(errOut, "does not exist") && !strings.Contains(errOut, "not exist") {
			tb.Errorf("cleanup: delete --force %s: exit %d: %s", id, code, strings.TrimSpace(errOut))
		}
	}

	// Processes: give a killed init a moment to go away.
	for _, id := range ids {
		tr := trackedIDs[id]
		if tr.pid > 0 && !waitGone(tr.pid, tr.cgroups, 5*time.Second) {
			tb.Errorf("cleanup: container %s: init pid %d still running after delete --force", id, tr.pid)
			syscall.Kill(tr.pid, syscall.SIGKILL)
		}
		if pids := pidsInCgroupOf(id); len(pids) > 0 {
			tb.Errorf("cleanup: container %s: processes %v still in its cgroups", id, pids)
			for _, p := range pids {
				syscall.Kill(p, syscall.SIGKILL)
			}
			for _, p := range pids {
				waitGone(p, nil, 5*time.Second)
			}
		}
	}

	// State directories.
	if ents, err := os.ReadDir(rt.Root); err == nil {
		for _, e := range ents {
			if e.IsDir() {
				tb.Errorf("cleanup: state directory %s left in the root", filepath.Join(rt.Root, e.Name()))
			}
		}
	}

	// ID ranges: no container of the root may still hold one in the
	// host-wide registry.
	reg := idmap.NewHostAllocator(nil, 0)
	if entries, err := reg.Entries(); err != nil {
		tb.Errorf("cleanup: ID range registry: %v", err)
	} else {
		for _, id := range ids {
			key := idmap.Key(rt.Root, id)
			if e, ok := entries[key]; ok {
				tb.Errorf("cleanup: container %s: still holds host IDs %v in %s after delete --force", id, e.Holds(), filepath.Join(idmap.RegistryDir, idmap.EntriesName))
				reg.Release(key)
			}
		}
	}

	// Mounts under the test's directories or naming a container.
	if left := leftoverMounts(rt.scope, ids); len(left) > 0 {
		tb.Errorf("cleanup: mounts left behind:\n%s", strings.Join(left, "\n"))
		for i := len(left) - 1; i >= 0; i-- {
			unix.Unmount(strings.Fields(left[i])[0], unix.MNT_DETACH)
		}
	}

	// Cgroups: the init's directories and any named after the container
	// (either layout, systemd scopes included).
	for _, id := range ids {
		dirs := append(append([]string(nil), trackedIDs[id].cgroups...), CgroupsNamed(id)...)
		seen := map[string]bool{}
		for _, d := range dirs {
			if seen[d] {
				continue
			}
			seen[d] = true
			if _, err := os.Stat(d); err == nil {
				tb.Errorf("cleanup: container %s: cgroup %s left behind", id, d)
				os.Remove(d)
			}
		}
	}
}

// waitGone waits until pid no longer runs (a zombie counts as gone) or no
// longer is in the container's cgroups (the pid was reused).
func waitGone(pid int, cgroups []string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		if !alive(pid) {
			return true
		}
		if len(cgroups) > 0 {
			now := procCgroupDirs(pid)
			if len(now) == 0 || now[0] != cgroups[0] {
				return true
			}
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return false
	}
	return s[i+2] != 'Z' && s[i+2] != 'X'
}

// pidsInCgroupOf returns live processes whose cgroup path has a component
// equal to id.
func pidsInCgroupOf(id string) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/cgroup")
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n") {
			parts := strings.SplitN(line, ":", 3)
			if len(parts) == 3 && hasComponent(parts[2], id) && alive(pid) {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

func hasComponent(path, name string) bool {
	for _, c := range strings.Split(path, "/") {
		if c == name {
			return true
		}
	}
	return false
}

// leftoverMounts returns "mountpoint root source" for each mount of this
// mount namespace whose mount point or root lies under scope or whose mount
// point has a component equal to one of ids, in mountinfo order.
func leftoverMounts(scope string, ids []string) []string {
	mounts, err := mountinfo.GetMounts(nil)
	if err != nil {
		return nil
	}
	var left []string
	for _, m := range mounts {
		match := under(m.Mountpoint, scope) || under(m.Root, scope)
		for _, id := range ids {
			match = match || hasComponent(m.Mountpoint, id)
		}
		if match {
			left = append(left, m.Mountpoint+" "+m.Root+" "+m.Source)
		}
	}
	return left
}

func under(p, dir string) bool {
	return dir != "" && dir != "/" && (p == dir || strings.HasPrefix(p, dir+"/"))
}
