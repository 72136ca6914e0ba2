package hardening

import (
	"path/filepath"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/spec"
)

// WritableMountOptions returns the options of the mounts writable-paths
// adds: a recursive read-write bind where nothing can be executed, no
// setuid bit honoured and no device node opened.
func WritableMountOptions() []string {
	return []string{"rbind", "rw", "nosuid", "nodev", "noexec"}
}

// WritablePaths is the writable-paths rule.
//
// Threat: none by itself; it keeps ordinary images working on a read-only
// rootfs without giving back what read-only took away. Programs keep state
// in /tmp, /run, /var/lib...: those stay writable, keep the image's
// content (they are the rootfs's own directories, so writes still land in
// the container's layer and `docker diff`/`docker cp` see them) and are
// noexec,nosuid,nodev, so nothing written there can be run.
//
// Fields: mounts. On a read-only rootfs, for each writable path that is a
// real directory in the rootfs (HostFacts.ExistingDirs: a missing path or
// one with a symlink in it, like Debian's /var/run -> /run, is skipped and
// noted) and that no caller mount covers (a mount at the path or at one of
// its ancestors), a bind mount of <rootfs>/<path> is added with
// WritableMountOptions. The mounts go before the first caller mount below
// one of them, so that a volume at /var/lib/postgresql/data stays on top
// of /var/lib.
//
// Relaxed by: "writablePaths" (the list), "readonlyRootfs": false (no
// mounts needed).
func WritablePaths(s *specs.Spec, pol *Policy, f HostFacts, r *Report) error {
	if s.Root == nil || !s.Root.Readonly || len(pol.WritablePaths) == 0 {
		return nil
	}
	rootfs := rootfsPath(s, f)
	if rootfs == "" {
		r.note(RuleWritablePaths, "rootfs path unknown (relative root.path and no bundle): no writable paths added")
		return nil
	}
	dests := make([]string, 0, len(s.Mounts))
	for _, m := range s.Mounts {
		dests = append(dests, filepath.Clean("/"+m.Destination))
	}
	var add []specs.Mount
	for _, p := range pol.WritablePaths {
		if slices.ContainsFunc(dests, func(d string) bool { return d != "/" && spec.Within(p, d) }) {
			continue
		}
		if !f.ExistingDirs[p] {
			r.note(RuleWritablePaths, "%s skipped: not a directory in the rootfs (missing, or a symlink)", p)
			continue
		}
		add = append(add, specs.Mount{
			Destination: p,
			Type:        "bind",
			Source:      filepath.Join(rootfs, p),
			Options:     WritableMountOptions(),
		})
	}
	if len(add) == 0 {
		return nil
	}
	at := slices.IndexFunc(dests, func(d string) bool {
		return slices.ContainsFunc(add, func(m specs.Mount) bool { return d != m.Destination && spec.Within(d, m.Destination) })
	})
	if at < 0 {
		at = len(s.Mounts)
	}
	for _, m := range add {
		r.record(RuleWritablePaths, "mounts[destination="+m.Destination+"]", nil, m)
	}
	s.Mounts = slices.Insert(s.Mounts, at, add...)
	return nil
}
