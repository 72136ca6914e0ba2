package hardening

import (
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/spec"
)

// hostSystemDirs are host directories that are never a container's
// rootfs on a sane host: the root's top-level directories, the usual
// homes of programs, libraries, state and logs, and the engines' own
// stores (a rootfs there holds every other container's layers or state).
func hostSystemDirs() []string {
	return []string{
		"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/boot", "/etc", "/root", "/home",
		"/proc", "/sys", "/dev", "/run", "/tmp", "/srv", "/opt", "/mnt", "/media",
		"/usr", "/usr/bin", "/usr/sbin", "/usr/lib", "/usr/lib32", "/usr/lib64", "/usr/libx32", "/usr/libexec",
		"/usr/include", "/usr/share", "/usr/src", "/usr/local", "/usr/local/bin", "/usr/local/sbin",
		"/usr/local/lib", "/usr/local/share", "/usr/local/etc",
		"/var", "/var/lib", "/var/log", "/var/tmp", "/var/cache", "/var/spool", "/var/mail",
		"/var/backups", "/var/opt", "/var/local", "/var/www",
		"/var/lib/docker/overlay2", "/var/lib/docker/containers", "/var/lib/docker/volumes",
		"/var/lib/docker/image", "/var/lib/kubelet",
		"/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs",
		"/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots",
		"/run/containerd/io.containerd.runtime.v2.task", "/run/docker/runtime-runc",
		"/run/hardened-idmap",
	}
}

// engineStores are the engines' stores of layers, volumes and
// per-container state (path.Match patterns: dockerd --userns-remap keeps
// its own in <data-root>/<uid>.<gid>). Below them a container's rootfs is
// only ever the engine's overlay mount (<id>/merged); a plain directory
// there is another container's or an image's layer, a volume, or a pod's
// secrets, which the idmapped rootfs would give container root as host
// root.
func engineStores() []string {
	return []string{
		"/var/lib/docker/overlay2", "/var/lib/docker/*.*/overlay2",
		"/var/lib/docker/volumes", "/var/lib/docker/*.*/volumes",
		"/var/lib/docker/containers", "/var/lib/docker/*.*/containers",
		"/var/lib/docker/image", "/var/lib/docker/*.*/image",
		"/var/lib/containerd", "/var/lib/containers/storage", "/var/lib/kubelet",
	}
}

// engineStoreOf returns the engine store (engineStores, and the same
// below every further engine root: layout.stores) that the clean host path
// p lies strictly below, or "".
func engineStoreOf(p string, layout engineLayout) string {
	for q := path.Dir(p); q != "/" && q != "."; q = path.Dir(q) {
		for _, pat := range layout.stores {
			if ok, _ := path.Match(pat, q); ok {
				return q
			}
		}
	}
	return ""
}

// rootfsForbiddenTrees are host trees no rootfs may lie in, at any depth:
// kernel interfaces (a rootfs of /proc/1/root is the host's /), device
// nodes, the boot files and the host's configuration and root's home.
func rootfsForbiddenTrees() []string {
	return []string{"/proc", "/sys", "/dev", "/boot", "/etc", "/root"}
}

// plainRootfsOutsideBundle reports whether the rootfs, as the facts
// found it, is a plain directory (no overlay mount) outside the bundle.
func plainRootfsOutsideBundle(f HostFacts) bool {
	return f.RootfsNotOverlayMount && f.RootfsOutsideBundle
}

// hostRootfsProblem says why the host path rootfs (clean, symlinks
// resolved) cannot be a container's rootfs, or returns "". layout adds
// the engines' further state roots (engineLayoutOf).
func hostRootfsProblem(rootfs string, layout engineLayout) string {
	p := aliasVarRun(rootfs)
	if p == "/" {
		return "is the host's root directory"
	}
	if slices.Contains(layout.systemDirs, p) || slices.Contains(layout.systemDirs, rootfs) {
		return "is a host system directory"
	}
	for _, t := range rootfsForbiddenTrees() {
		if spec.Within(p, t) {
			return "lies in the host's " + t
		}
	}
	for _, sp := range layout.sensitive {
		if sp.path != "/" && spec.Within(sp.path, p) {
			return "contains the sensitive host path " + sp.path
		}
	}
	return ""
}

// RefuseHostRootfs is the host-rootfs rule.
//
// Threat: the rootfs is the container's whole view of files. A rootfs
// that is the host's / (or resolves to it: "../../..", a symlink, a
// symlinked parent, /proc/1/root) gives container root the host's
// /etc/shadow and /var/lib, writable; a host system directory (/usr,
// /etc, /var/lib...) or a directory holding a sensitive host path (the
// engines' sockets and stores) gives it that part of the host. It would
// also make every bind source "inside the rootfs", the exemption the
// host-mounts rule grants to the container's own files. Any other host
// directory is someone's files too: the rootfs is shown with its disk
// IDs (an idmapped clone with a user namespace), so a rootfs of
// /home/alice with process.user 1000 reads her private files and writes
// through the writable paths as her.
//
// Fields (read only): root.path, as resolved on the host
// (HostFacts.Rootfs: the runtime opens the rootfs once, checks the path
// of the opened directory and mounts that directory, so a rename or a
// symlink swapped in after the check changes nothing). Refused: "/", a
// directory of hostSystemDirs, anything in /proc, /sys, /dev, /boot,
// /etc or /root, any ancestor of a path the host-mounts rule holds
// sensitive (e.g. /var, /var/lib/docker, /run), and anything below an
// engine's store of layers, volumes or state (engineStores: Docker's
// overlay2, volumes, containers, image; /var/lib/containerd,
// /var/lib/containers/storage, /var/lib/kubelet; the same below every
// further root of those engines, engineLayout) that is not an overlay
// mount (HostFacts.RootfsNotOverlayMount), i.e. not the engine's merged
// directory, and a plain directory outside the bundle that is no overlay
// mount (HostFacts.RootfsOutsideBundle: a user's home, a service's state,
// another system container's tree; the rootfs is shown to the container
// with its disk IDs, idmapped or not, so its users would be the files'
// owners). An overlay mount that is the root directory of a running
// process (HostFacts.RootfsRootOf: another runtime's container; not
// looked for on the overlay the engine mounted for this very container,
// EngineOwnOverlay) is refused with no key. Any other overlay mount
// below an engine's root (of any kind, the defaults and engineLayout's
// further roots) is refused unless the engine's own records say it is
// this container's (HostFacts.RootfsOverlayNotEngineOwn: containerd's
// bundle layout, Docker's layer store, containers/storage's
// containers.json and userdata directory): an engine mounts a container's
// overlay before it starts and keeps it mounted while it is stopped or
// only created (podman mount, Buildah's working containers, ctr tasks),
// and no process has it as its root then. An overlay mount outside every
// engine root (a caller's own) is not looked at this way.
//
// Relaxed by: "allowRootfs" (host paths, exactly as resolved, that may be
// a rootfs although they are refused here; the host-mounts rule still
// checks bind sources inside such a rootfs). Never for "/". Not in
// exceptions: no annotation can widen it.
func RefuseHostRootfs(s *specs.Spec, pol *Policy, f HostFacts, r *Report) error {
	rootfs := rootfsPath(s, f)
	if rootfs == "" {
		return nil
	}
	rootfs = filepath.Clean(rootfs)
	layout := engineLayoutOf(pol, f)
	why := hostRootfsProblem(rootfs, layout)
	if store := engineStoreOf(aliasVarRun(rootfs), layout); why == "" && store != "" && f.RootfsNotOverlayMount {
		why = "lies in the engine store " + store + " and is not an overlay mount (the engine's merged directory): another container's or an image's files"
	}
	if root := layout.engineRootOf(aliasVarRun(rootfs)); why == "" && root != "" && f.RootfsOverlayNotEngineOwn {
		why = "is an overlay mount in the engine root " + root + " that the engine's own records do not give to this container " +
			"(another container's rootfs, mounted whether or not it runs: its files, and its upper layer writable)"
	}
	if why == "" && plainRootfsOutsideBundle(f) {
		why = "is a plain directory outside the bundle (neither the bundle's own rootfs nor an engine's overlay mount): " +
			"someone else's files, which the container's users would get as their owners (container uid N is disk uid N in the rootfs)"
	}
	if len(f.RootfsRootOf) > 0 {
		pids := make([]string, len(f.RootfsRootOf))
		for i, pid := range f.RootfsRootOf {
			pids[i] = strconv.Itoa(pid)
		}
		r.refuse(RuleHostRootfs, "rootfs "+rootfs+" is an overlay mount in use as the root directory of running process "+strings.Join(pids, ", ")+
			" (another container's rootfs)", `no key: a running container's rootfs is never another's`)
		return nil
	}
	switch {
	case why == "":
	case aliasVarRun(rootfs) == "/":
		r.refuse(RuleHostRootfs, "rootfs "+rootfs+" "+why, `no key: "/" is never a rootfs`)
	case slices.Contains(pol.AllowRootfs, rootfs):
	default:
		r.refuse(RuleHostRootfs, "rootfs "+rootfs+" "+why, fmt.Sprintf(`"allowRootfs": [%q]`, rootfs))
	}
	return nil
}
