package hardening

import (
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	hardenedspec "github.com/hardened-runtime/hardened/spec"
)

// EngineOwnOverlay reports whether f.Rootfs, an overlay mount, is the
// one the container's engine mounted for container id itself, as the
// engine's own layout and records say, so that no running process of
// another runtime can have it as its root directory (what
// HostFacts.RootfsRootOf looks for, at the cost of a stat of every
// process's root):
//
//   - containerd's: root.path is "rootfs" (relative) and the rootfs is
//     <bundle>/rootfs, the bundle being the container's own directory
//     (named id), where containerd's shim mounts the snapshot before it
//     calls create;
//   - Docker's: OwnDockerRoot (the overlay Docker mounted for this ID,
//     as its own layer store records it).
//
// Paths are compared as resolved on the host (f.Rootfs, f.MountSources),
// so config.json (untrusted) can only name another container's overlay
// by its own path, never make it look like its own: the engine's record
// and the bundle directory are the engine's. Anything else is false.
func EngineOwnOverlay(s *specs.Spec, f HostFacts, id string) bool {
	if s == nil || s.Root == nil || f.Rootfs == "" || !isPlainName(id) {
		return false
	}
	rootfs := filepath.Clean(f.Rootfs)
	if !filepath.IsAbs(s.Root.Path) && filepath.Clean(s.Root.Path) == "rootfs" &&
		filepath.Base(f.Bundle) == id && rootfs == filepath.Join(f.Bundle, "rootfs") {
		return true
	}
	return OwnDockerRoot(s, f, id) != ""
}

// DockerRootOf returns Docker's data root when the spec binds this
// container's own /etc/hosts from <data-root>/containers/<id>/hosts (the
// source as resolved, f.MountSources), else "".
func DockerRootOf(s *specs.Spec, f HostFacts, id string) string {
	for _, m := range s.Mounts {
		if m.Destination != "/etc/hosts" || !hardenedspec.IsBind(m) {
			continue
		}
		src := filepath.Clean(m.Source)
		if r, ok := f.MountSources[m.Source]; ok {
			src = r
		}
		dir := filepath.Dir(src)
		if filepath.Base(src) == "hosts" && filepath.Base(dir) == id && filepath.Base(filepath.Dir(dir)) == "containers" {
			return filepath.Dir(filepath.Dir(dir))
		}
	}
	return ""
}

// isPlainName reports whether name is one path component: not empty,
// ".", ".." or holding a slash.
func isPlainName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.Contains(name, "/")
}

// OwnDockerRoot returns Docker's data root when this container is that
// Docker's own: the spec binds its /etc/hosts from
// <data-root>/containers/<id>/hosts (DockerRootOf) and its rootfs is the
// overlay mount Docker made for the container with this same ID. Only
// then are the per-container files chowned to the container's range
// (chownDockerFiles) and its named volumes treated as Docker's, else "".
//
// A container ID alone proves nothing: any caller of the runtime (ctr or
// a containerd client with another --root, a second dockerd) chooses its
// own, and one equal to an existing Docker container's had that
// container's /etc/hosts, hostname and resolv.conf chowned to its own
// range, then rewrote them (DNS spoofing of another container). The
// caller's --root and bundle are no better: a containerd client chooses
// both. The rootfs is: Docker mounts the container's overlay at
// <data-root>/overlay2/<mount-id>/merged (mount-id in Docker's own layer
// store, <data-root>/image/overlay2/layerdb/mounts/<id>/mount-id, a file
// only root writes) or, with the containerd image store, at
// <data-root>/rootfs/<snapshotter>/<id>; only host root mounts there, it
// is mounted only while Docker starts or runs that container, and a
// rootfs some process already runs in is refused (host-rootfs). A
// caller other than Docker gets no chown: its bind of such a file stays
// owned by the other container's IDs, which its mapped root cannot
// write.
func OwnDockerRoot(s *specs.Spec, f HostFacts, id string) string {
	root := DockerRootOf(s, f, id)
	if root == "" || f.Rootfs == "" || f.RootfsNotOverlayMount {
		return ""
	}
	rootfs := filepath.Clean(f.Rootfs)
	if dir := filepath.Dir(rootfs); filepath.Base(rootfs) == id && filepath.Dir(filepath.Dir(dir)) == root && filepath.Base(filepath.Dir(dir)) == "rootfs" {
		return root
	}
	if mountID := dockerMountID(root, id); mountID != "" && rootfs == filepath.Join(root, "overlay2", mountID, "merged") {
		return root
	}
	return ""
}

// dockerMountID reads the overlay2 layer that holds container id's
// rootfs from Docker's layer store under its data root, "" when it cannot
// or the file is not Docker's (a regular file of root's that only root
// writes, naming one directory).
func dockerMountID(root, id string) string {
	f, err := os.OpenFile(filepath.Join(root, "image", "overlay2", "layerdb", "mounts", id, "mount-id"), os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return ""
	}
	defer f.Close()
	var st unix.Stat_t
	if unix.Fstat(int(f.Fd()), &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || st.Uid != 0 || st.Mode&0o022 != 0 || st.Size > 256 {
		return ""
	}
	b := make([]byte, 257)
	n, _ := f.Read(b)
	mountID := strings.TrimSpace(string(b[:n]))
	if mountID == "" || strings.ContainsAny(mountID, "/\x00") || mountID == "." || mountID == ".." {
		return ""
	}
	return mountID
}
