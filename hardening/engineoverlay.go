package hardening

import (
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

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
//   - Docker's: the rootfs is <data-root>/overlay2/<mount-id>/merged,
//     where <data-root>/image/overlay2/layerdb/mounts/<id>/mount-id (the
//     engine's own record of the container's layer) names <mount-id>;
//     the data root is found from the container's own /etc/hosts bind
//     (DockerRootOf).
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
	root := DockerRootOf(s, f, id)
	if root == "" {
		return false
	}
	data, err := os.ReadFile(filepath.Join(root, "image", "overlay2", "layerdb", "mounts", id, "mount-id"))
	if err != nil {
		return false
	}
	mountID := strings.TrimSpace(string(data))
	return isPlainName(mountID) && rootfs == filepath.Join(root, "overlay2", mountID, "merged")
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
