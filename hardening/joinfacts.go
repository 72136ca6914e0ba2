package hardening

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hardened-runtime/hardened/idmap"
)

// CRI annotations (containerd's) that relate a container to its pod.
const (
	// AnnotationSandboxID is the pod sandbox a container belongs to; a
	// sandbox container carries its own ID.
	AnnotationSandboxID = "io.kubernetes.cri.sandbox-id"
	// AnnotationContainerType is "sandbox" or "container".
	AnnotationContainerType = "io.kubernetes.cri.container-type"
)

// JoinTarget is what a namespace path of linux.namespaces leads to, for
// the namespace-joins rule.
type JoinTarget struct {
	// Container is the ID of the live container of the runtime root
	// (HostFacts.Root) whose init process is in the namespace: its
	// state.json names the init's PID and start time, and that process's
	// /proc/<pid>/ns/<type> is the same inode. Empty: none is.
	Container string `json:"container,omitempty"`
	// Sandbox is Container's CRI sandbox ID (AnnotationSandboxID), empty
	// when it has none (Docker, ctr).
	Sandbox string `json:"sandbox,omitempty"`
	// Pinned is true when the path is a namespace file bind-mounted on
	// the host (`ip netns`, CNI's /var/run/netns/cni-*, Docker's
	// <exec-root>/netns/*, containerd's pinned namespaces), not a
	// /proc/<pid>/ns link: only host root can make one.
	Pinned bool `json:"pinned,omitempty"`
	// PinnedSandbox is the sandbox ID of a containerd pinned namespace
	// (<state>/io.containerd.grpc.v1.cri/sandboxes/<id>/pinned-namespaces/<type>).
	PinnedSandbox string `json:"pinnedSandbox,omitempty"`
	// Occupant is a process in the namespace when no container of the root
	// is (the PID of a /proc/<pid>/ns path, or for a pinned file one found
	// by a scan of /proc); 0: none, a namespace not in use yet; -1: some
	// process whose PID was not found.
	Occupant int `json:"occupant,omitempty"`
}

// containerState is what GatherJoinFacts reads of libcontainer's
// <root>/<id>/state.json.
type containerState struct {
	InitProcessPid       int    `json:"init_process_pid"`
	InitProcessStartTime uint64 `json:"init_process_start"`
	Config               struct {
		Labels []string `json:"labels"`
	} `json:"config"`
}

// GatherJoinFacts fills f.Root and f.Joins for every namespace path of
// linux.namespaces: whether a live container of the runtime root root is
// in that namespace (compared by inode with the namespace of its init,
// whose start time must match its state.json, so that a reused PID does
// not pass for it), its CRI sandbox, whether the path is a bind-mounted
// namespace file, and otherwise which process is in the namespace. A path
// that does not open as a namespace file is left out (unknown).
func GatherJoinFacts(root string, s *specs.Spec, f *HostFacts) {
	f.Root = root
	if s == nil || s.Linux == nil {
		return
	}
	names := nsFileNames()
	for _, ns := range s.Linux.Namespaces {
		name, ok := names[ns.Type]
		if ns.Path == "" || !ok || !f.Namespaces.known(ns.Path) {
			continue
		}
		t, ok := inspectJoin(root, f.Namespaces.ProcPath(ns.Path), ns.Path, name)
		if !ok {
			continue
		}
		if f.Joins == nil {
			f.Joins = map[string]JoinTarget{}
		}
		f.Joins[ns.Path] = t
	}
}

// inspectJoin describes the namespace file opened at openPath (the
// runtime's descriptor of it, see NamespaceFiles), written as path in the
// spec, of file name name under /proc/<pid>/ns.
func inspectJoin(root, openPath, path, name string) (JoinTarget, bool) {
	var t JoinTarget
	fd, err := unix.Open(openPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return t, false
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	var sfs unix.Statfs_t
	if unix.Fstat(fd, &st) != nil || unix.Fstatfs(fd, &sfs) != nil || sfs.Type != unix.NSFS_MAGIC {
		return t, false
	}
	if _, err := unix.IoctlRetInt(fd, unix.NS_GET_NSTYPE); err != nil {
		return t, false
	}
	pid := procPathPID(path)
	if root != "" {
		t.Container, t.Sandbox = containerInNamespace(root, name, st, pid)
	}
	if resolved, err := filepath.EvalSymlinks(path); err == nil && !strings.HasPrefix(resolved, "/proc/") {
		t.Pinned = true
		t.PinnedSandbox = containerdPinnedSandbox(resolved)
	}
	if t.Container != "" {
		return t, true
	}
	switch {
	case pid > 0 && sameNamespace(pid, name, st):
		t.Occupant = pid
	case t.Pinned:
		t.Occupant = occupantOf(name, st)
	default:
		// A link into /proc that is not /proc/<pid>/ns/<type> itself:
		// some process is in it, whichever it is.
		if t.Occupant = occupantOf(name, st); t.Occupant == 0 {
			t.Occupant = -1
		}
	}
	return t, true
}

// procPathPID returns the PID of a /proc/<pid>/ns/<type> or
// /proc/<pid>/task/<tid>/ns/<type> path, 0 for other paths.
func procPathPID(path string) int {
	rest, ok := strings.CutPrefix(filepath.Clean(path), "/proc/")
	if !ok {
		return 0
	}
	first, _, _ := strings.Cut(rest, "/")
	pid, err := strconv.Atoi(first)
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

// sameNamespace reports whether /proc/<pid>/ns/<name> is the namespace st.
func sameNamespace(pid int, name string, st unix.Stat_t) bool {
	var ps unix.Stat_t
	if unix.Stat("/proc/"+strconv.Itoa(pid)+"/ns/"+name, &ps) != nil {
		return false
	}
	return ps.Dev == st.Dev && ps.Ino == st.Ino
}

// containerInNamespace returns the ID and CRI sandbox of a live container
// of root whose init is in the namespace st. A container whose init is
// hint (the PID of a /proc/<pid>/ns path) is taken as soon as it is read;
// the others are compared after.
func containerInNamespace(root, name string, st unix.Stat_t, hint int) (id, sandbox string) {
	ents, err := os.ReadDir(root)
	if err != nil {
		return "", ""
	}
	match := func(cs containerState) bool {
		start, err := idmap.ProcessStartTime(cs.InitProcessPid)
		return err == nil && start == cs.InitProcessStartTime && sameNamespace(cs.InitProcessPid, name, st)
	}
	found := func(cid string, cs containerState) (string, string) {
		for _, l := range cs.Config.Labels {
			if v, ok := strings.CutPrefix(l, AnnotationSandboxID+"="); ok {
				return cid, v
			}
		}
		return cid, ""
	}
	others := map[string]containerState{}
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(root, e.Name(), "state.json"))
		if err != nil {
			continue
		}
		var cs containerState
		if json.Unmarshal(data, &cs) != nil || cs.InitProcessPid <= 0 {
			continue
		}
		if cs.InitProcessPid != hint {
			others[e.Name()] = cs
			continue
		}
		if match(cs) {
			return found(e.Name(), cs)
		}
	}
	for cid, cs := range others {
		if match(cs) {
			return found(cid, cs)
		}
	}
	return "", ""
}

// containerdPinnedSandbox returns the sandbox ID of a containerd pinned
// namespace file, <state>/io.containerd.grpc.v1.cri/sandboxes/<id>/pinned-namespaces/<type>.
func containerdPinnedSandbox(path string) string {
	parts := strings.Split(path, "/")
	n := len(parts)
	if n < 5 || parts[n-2] != "pinned-namespaces" || parts[n-4] != "sandboxes" || parts[n-5] != "io.containerd.grpc.v1.cri" {
		return ""
	}
	return parts[n-3]
}

// occupantOf returns a process in the namespace st, 0 when there is none.
func occupantOf(name string, st unix.Stat_t) int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return -1
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err == nil && sameNamespace(pid, name, st) {
			return pid
		}
	}
	return 0
}
