package hardening

import (
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/spec"
)

// sensitivePath is a host path that must not be bind-mounted. A bind of
// the path itself or of any ancestor (which exposes it) is refused; with
// under, so is a bind of anything below it; with rwOnly, read-only binds
// are allowed.
type sensitivePath struct {
	path   string
	under  bool
	rwOnly bool
}

// sensitiveHostPaths returns the host paths a bind mount may not expose.
// /var/run is compared as /run (it is a symlink to /run on current
// distributions).
func sensitiveHostPaths() []sensitivePath {
	return []sensitivePath{
		{path: "/"},
		{path: "/run"},
		{path: "/etc", under: true, rwOnly: true},
		{path: "/etc/shadow", under: true},
		{path: "/etc/gshadow", under: true},
		{path: "/etc/sudoers", under: true},
		{path: "/etc/sudoers.d", under: true},
		{path: "/etc/ssh", under: true},
		{path: "/etc/hardened", under: true},
		{path: "/etc/docker", under: true},
		{path: "/etc/containerd", under: true},
		{path: "/etc/kubernetes", under: true},
		{path: "/proc", under: true},
		{path: "/sys", under: true, rwOnly: true},
		{path: "/dev", under: true},
		{path: "/boot", under: true},
		{path: "/lib/modules", under: true},
		{path: "/usr/lib/modules", under: true},
		{path: "/root", under: true},
		{path: "/var/lib/docker", under: true},
		{path: "/var/lib/containerd", under: true},
		// Podman's and CRI-O's storage: other containers' layers and
		// volumes.
		{path: "/var/lib/containers", under: true},
		{path: "/run/containers", under: true},
		// The kubelet's: every pod's volumes (secrets, tokens: files of
		// mode 0644 on tmpfs), its API sockets (pod-resources,
		// device-plugins), its credentials.
		{path: "/var/lib/kubelet", under: true},
		{path: "/run/containerd", under: true},
		{path: "/run/docker", under: true},
		{path: "/run/runc", under: true},
		{path: "/run/hardened", under: true},
		// The runtime's own state: staged root filesystems of other
		// containers, the seccomp filter cache and learned profiles that
		// later containers load, the learn recorders' sockets, the audit
		// log.
		{path: "/run/hardened-idmap", under: true},
		{path: "/run/hardened-seccomp", under: true},
		{path: "/run/hardened-learn", under: true},
		{path: "/var/lib/hardened", under: true},
		{path: "/var/log/hardened", under: true},
	}
}

// runtimeSocketNames are API sockets that give whoever can connect root on
// the host, wherever they live.
func runtimeSocketNames() []string {
	return []string{"docker.sock", "containerd.sock", "containerd.sock.ttrpc", "crio.sock", "podman.sock", "dockershim.sock", "buildkitd.sock"}
}

// runtimeOwnedSources are bind sources under sensitive directories that
// Docker, containerd's CRI plugin, nerdctl, Podman, CRI-O and the kubelet
// create for every container (hosts, hostname, resolv.conf, /dev/shm,
// named volumes). A source matching a pattern, or under one, is not
// sensitive.
func runtimeOwnedSources() []string {
	return []string{
		"/var/lib/docker/containers/*/hosts",
		"/var/lib/docker/containers/*/hostname",
		"/var/lib/docker/containers/*/resolv.conf",
		"/var/lib/docker/containers/*/mounts/shm",
		"/var/lib/docker/volumes/*/_data",
		// dockerd --userns-remap keeps its state in <data-root>/<uid>.<gid>.
		"/var/lib/docker/*.*/containers/*/hosts",
		"/var/lib/docker/*.*/containers/*/hostname",
		"/var/lib/docker/*.*/containers/*/resolv.conf",
		"/var/lib/docker/*.*/containers/*/mounts/shm",
		"/var/lib/docker/*.*/volumes/*/_data",
		"/var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/*/hosts",
		"/var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/*/hostname",
		"/var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/*/resolv.conf",
		"/var/lib/containerd/io.containerd.grpc.v1.cri/containers/*/volumes/*",
		"/run/containerd/io.containerd.grpc.v1.cri/sandboxes/*/shm",
		"/run/containers/storage/overlay-containers/*/userdata",
		"/var/lib/containers/storage/overlay-containers/*/userdata",
		"/var/lib/containers/storage/volumes/*/_data",
		// The kubelet's per-pod sources are allowed only into that
		// pod's containers (kubeletPodSources, PodUID).
	}
}

// kernelFilesystems are filesystem types that expose host-wide kernel
// state whatever the namespaces.
func kernelFilesystems() []string {
	return []string{"devtmpfs", "debugfs", "tracefs", "securityfs", "bpf", "configfs", "efivarfs", "pstore",
		// Without a user namespace of its own, binfmt_misc is the host's
		// instance (a handler runs for every exec on the host); fusectl
		// aborts the host's FUSE connections; resctrl sets the host's
		// cache and memory bandwidth allocation; the others are host
		// security and NFS server state.
		"binfmt_misc", "fusectl", "resctrl", "selinuxfs", "smackfs", "nfsd", "rpc_pipefs"}
}

// RefuseHostMounts is the host-mounts rule.
//
// Threat: a bind mount of a sensitive host path hands the container the
// host: the Docker or containerd socket is root on the host; /, /etc,
// /root, /boot, /lib/modules, /dev, /proc and the runtimes' state
// directories (this runtime's own among them: its seccomp filter cache,
// learned profiles, other containers' staged root filesystems) let it
// read secrets or plant code the host runs. A
// read-write sysfs or cgroup filesystem lets it change host kernel
// settings; devtmpfs, debugfs and similar expose the host directly.
//
// Fields (read only): mounts. For a bind mount (type "bind" or option
// bind/rbind) the source is cleaned (a relative source is taken against
// the bundle), /var/run is read as /run, and both that path and where it
// resolves on the host (HostFacts.MountSources) are checked against
// sensitiveHostPaths: the path itself or an ancestor of it, anything
// below it for most of them, any file named like a runtime socket. A
// bind is read-only as runc leaves it (spec.BindReadOnly: a last "rrw"
// makes a bind with "ro" read-write all the way down, a last "rro"
// read-only); the mounts below a read-only bind's source that an rbind
// brings along are made read-only by the runtime (userns
// Stage.PinBinds), since runc's "ro" reaches the top mount only.
// Sources inside the container's own rootfs (one the host-rootfs rule
// finds no host directory) and the files runtimes create
// per container (runtimeOwnedSources: hosts, resolv.conf, shm, volumes)
// are allowed, and so are the kubelet's per-pod sources
// (/var/lib/kubelet/pods/<uid>/volumes, volume-subpaths, etc-hosts,
// containers) of the container's own pod only: <uid> must be the pod UID
// its CRI implementation annotated (PodUID: containerd's
// io.kubernetes.cri.sandbox-uid, CRI-O's io.kubernetes.pod.uid); another
// pod's secrets and tokens, or any pod's without that annotation, are
// refused. The engines' state directories count wherever the host keeps
// them (engineLayout): every root of the policy's "engineRoots", of the
// engines' own configuration (HostFacts.EngineRoots: Docker's data-root,
// containerd's root and state...) and of the well-known distributions
// (k3s, RKE2, MicroK8s, k0s) is sensitive like the default one, and
// what is allowed below a default root (per-container files, volumes, a
// pod's own directories) is allowed below it. Mounts of type sysfs,
// cgroup, cgroup2 or cpuset must be read-only; the user-namespace rule
// makes the cgroup mount of a container kept in an engine's remap range
// read-only instead (dockerd --userns-remap clears its read-only flag,
// for kernels of old). A proc
// mount goes at /proc only (elsewhere the masked and read-only paths
// would not cover it: sys/kernel/core_pattern, sysrq-trigger).
// Without a user namespace of its own (container root is host root),
// hostRootSensitivePaths count too: anything under /run, and read-write
// the host's program and library directories and /var/spool.
// The host directories of an overlay mount's options (lowerdir, upperdir,
// workdir...: its real sources) are checked the same way, the lower
// layers as read-only binds (overlayDirs); escapes and relative paths in
// them are refused. The check is by path: the runtime then opens each
// directory once, compares it with what was checked and has the init
// mount clones of them (userns Stage.PinOverlays), not the paths.
//
// Relaxed by: "allowHostMounts" (a host path allows itself and what is
// under it; "/sys" and "/sys/fs/cgroup" allow the read-write sysfs and
// cgroup mounts). Narrowed by: "engineRoots".
func RefuseHostMounts(s *specs.Spec, pol *Policy, f HostFacts, r *Report) error {
	rootfs := rootfsPath(s, f)
	hostRoot := containerRootIsHostRoot(s, pol, f)
	podUID := PodUID(s)
	layout := engineLayoutOf(pol, f)
	if note := engineRootsNote(pol, f); note != "" {
		r.note(RuleHostMounts, "%s", note)
	}
	for _, m := range s.Mounts {
		switch {
		case slices.Contains(kernelFilesystems(), m.Type):
			r.refuse(RuleHostMounts, fmt.Sprintf("%s filesystem at %s", m.Type, m.Destination),
				fmt.Sprintf(`"allowHostMounts": [%q]`, filepath.Clean("/"+m.Destination)))
		case m.Type == "sysfs" && !readOnly(m.Options) && !hostMountAllowed(pol, "/sys"):
			r.refuse(RuleHostMounts, fmt.Sprintf("read-write sysfs at %s", m.Destination), `"allowHostMounts": ["/sys"]`)
		case m.Type == "proc" && filepath.Clean("/"+m.Destination) != "/proc" && !hostMountAllowed(pol, filepath.Clean("/"+m.Destination)):
			r.refuse(RuleHostMounts, fmt.Sprintf("proc filesystem at %s (only /proc gets the masked and read-only paths)", m.Destination),
				fmt.Sprintf(`"allowHostMounts": [%q]`, filepath.Clean("/"+m.Destination)))
		case isCgroupMount(m) && !readOnly(m.Options) && !hostMountAllowed(pol, "/sys/fs/cgroup") && !inEngineRemapRange(f):
			r.refuse(RuleHostMounts, fmt.Sprintf("read-write cgroup filesystem at %s", m.Destination), `"allowHostMounts": ["/sys/fs/cgroup"]`)
		case spec.IsBind(m):
			checkBindSource(m, pol, f, layout, rootfs, hostRoot, podUID, r)
		default:
			checkOverlayDirs(m, pol, f, layout, rootfs, hostRoot, podUID, r)
		}
	}
	return nil
}

func checkBindSource(m specs.Mount, pol *Policy, f HostFacts, layout engineLayout, rootfs string, hostRoot bool, podUID string, r *Report) {
	base := f.Bundle
	if base == "" {
		base = "/"
	}
	checkHostSource(m.Source, spec.BindSource(m, base), spec.BindReadOnly(m.Options),
		fmt.Sprintf("bind mount of host path %s at %s", m.Source, m.Destination), pol, f, layout, rootfs, hostRoot, podUID, r)
}

// checkHostSource checks one host directory a mount exposes: src (clean,
// absolute) and where written, the text config.json has, resolves on the
// host (HostFacts.MountSources). ro says whether the mount only reads it,
// hostRoot whether container root is host root (containerRootIsHostRoot),
// podUID the container's pod (PodUID), layout where the engines keep
// their state (engineLayoutOf); reason starts the refusal.
func checkHostSource(written, src string, ro bool, reason string, pol *Policy, f HostFacts, layout engineLayout, rootfs string, hostRoot bool, podUID string, r *Report) {
	candidates := []string{src}
	if resolved, ok := f.MountSources[written]; ok && filepath.Clean(resolved) != candidates[0] {
		candidates = append(candidates, filepath.Clean(resolved))
	}
	for _, c := range candidates {
		// The container's own files are no host path, but only in a
		// rootfs that is no host directory itself (host-rootfs): in /
		// every path is "inside the rootfs". An allowRootfs allowance
		// does not extend to this exemption.
		if rootfs != "" && spec.Within(c, rootfs) && hostRootfsProblem(rootfs, layout) == "" && !plainRootfsOutsideBundle(f) {
			continue
		}
		bad, asHostRoot := sensitiveMatch(aliasVarRun(c), ro, hostRoot, podUID, layout)
		if bad == "" || hostMountAllowed(pol, c) || hostMountAllowed(pol, aliasVarRun(c)) {
			continue
		}
		if c != src {
			reason += " (resolves to " + c + ")"
		}
		if bad != aliasVarRun(c) {
			reason += " exposes " + bad
		}
		if asHostRoot {
			reason += " (container root is host root)"
		}
		reason += otherPodNote(c, podUID, layout.podsDirs)
		r.refuse(RuleHostMounts, reason, fmt.Sprintf(`"allowHostMounts": [%q]`, aliasVarRun(c)))
		return
	}
}

// sensitiveMatch returns the sensitive path that a bind of host path p
// exposes, or "". With hostRoot, hostRootSensitivePaths count too, and
// asHostRoot says the match is one of them. podUID is the container's
// pod (PodUID), whose kubelet sources are its own; layout has the
// engines' state roots (sensitive) and their per-container files (not).
func sensitiveMatch(p string, ro, hostRoot bool, podUID string, layout engineLayout) (bad string, asHostRoot bool) {
	if slices.Contains(runtimeSocketNames(), path.Base(p)) {
		return p, false
	}
	if ownPodSource(p, podUID, layout.podsDirs) {
		return "", false
	}
	for q := p; q != "/" && q != "."; q = path.Dir(q) {
		for _, pat := range layout.ownedSources {
			if ok, _ := path.Match(pat, q); ok {
				return "", false
			}
		}
	}
	lists := [][]sensitivePath{layout.sensitive}
	if hostRoot {
		lists = append(lists, hostRootSensitivePaths())
	}
	for i, list := range lists {
		for _, sp := range list {
			if sp.rwOnly && ro {
				continue
			}
			if spec.Within(sp.path, p) || (sp.under && spec.Within(p, sp.path)) {
				return sp.path, i == 1
			}
		}
	}
	return "", false
}

// aliasVarRun reads /var/run as /run.
func aliasVarRun(p string) string {
	if spec.Within(p, "/var/run") {
		return "/run" + strings.TrimPrefix(p, "/var/run")
	}
	return p
}

func hostMountAllowed(pol *Policy, p string) bool {
	return slices.ContainsFunc(pol.AllowHostMounts, func(a string) bool { return spec.Within(p, aliasVarRun(a)) || spec.Within(p, a) })
}

// isCgroupMount reports whether m mounts a cgroup filesystem (a v1
// cpuset hierarchy included).
func isCgroupMount(m specs.Mount) bool {
	return m.Type == "cgroup" || m.Type == "cgroup2" || m.Type == "cpuset"
}

// inEngineRemapRange reports whether Check planned to keep the container
// in an engine's remap range (UsernsPlan.Remap).
func inEngineRemapRange(f HostFacts) bool { return f.UsernsPlan != nil && f.UsernsPlan.Remap != "" }

// readOnly reports whether mount options end up read-only (the last of
// ro and rw wins, as in runc).
func readOnly(opts []string) bool {
	ro := false
	for _, o := range opts {
		switch o {
		case "ro":
			ro = true
		case "rw":
			ro = false
		}
	}
	return ro
}
