package hardening

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	hardenedspec "github.com/hardened-runtime/hardened/spec"

	"github.com/hardened-runtime/hardened/idmap"
	"github.com/hardened-runtime/hardened/internal/usernsprobe"
)

// HostFacts are facts about the host gathered once per command by
// GatherHostFacts (or built by hand in tests), so that every rule stays a
// pure function of the spec, the policy and these facts. The zero value
// means "nothing known": rules that need a fact then skip and say so in a
// report note, or refuse when the fact is needed for safety.
type HostFacts struct {
	// Bundle is the absolute bundle directory; a relative root.path is
	// resolved against it.
	Bundle string `json:"bundle,omitempty"`
	// Rootfs is the absolute host path of the container's rootfs with
	// symlinks resolved. Empty: computed from Bundle and root.path.
	Rootfs string `json:"rootfs,omitempty"`
	// RootfsNotOverlayMount is true when Rootfs was looked at and is not
	// the root of an overlay mount (an engine's merged directory) but a
	// directory of its filesystem: below an engine's store only such a
	// mount is a container's rootfs (RefuseHostRootfs). False: an overlay
	// mount, or not looked at.
	RootfsNotOverlayMount bool `json:"rootfsNotOverlayMount,omitempty"`
	// RootfsOutsideBundle is true when Rootfs was looked at and lies
	// outside the bundle directory (both with symlinks resolved): not
	// the bundle's own rootfs. False: inside it, or not looked at.
	RootfsOutsideBundle bool `json:"rootfsOutsideBundle,omitempty"`
	// RootfsRootOf lists processes whose root directory is the rootfs,
	// an overlay mount: the rootfs of a running container of another
	// runtime (looked for only on an overlay mount, which is one
	// container's, a directory may be shared; and not on the overlay its
	// engine mounted for this very container, EngineOwnOverlay).
	RootfsRootOf []int `json:"rootfsRootOf,omitempty"`
	// RootfsOverlayNotEngineOwn is true when Rootfs was looked at, is an
	// overlay mount, and no engine's own layout or records say it is this
	// container's (rootfsEngineOwn: containerd's bundle, Docker's layer
	// store, containers/storage's records). Inside an engine's store such
	// an overlay is another container's, mounted whether or not a process
	// runs in it (RefuseHostRootfs). False: the engine's own, not an
	// overlay mount, or not looked at.
	RootfsOverlayNotEngineOwn bool `json:"rootfsOverlayNotEngineOwn,omitempty"`
	// ExistingDirs maps container paths (the policy's writablePaths) to
	// true when the rootfs holds a real directory there, no component of
	// the path being a symlink. Paths missing or false are not mounted.
	ExistingDirs map[string]bool `json:"existingDirs,omitempty"`
	// MountSources maps bind-mount sources, as written in config.json, to
	// the host path they resolve to (symlinks followed, as mount(2) does).
	MountSources map[string]string `json:"mountSources,omitempty"`
	// HookPaths maps OCI hook paths, as written in config.json, to the
	// binary they resolve to (e.g. Docker's /proc/<pid>/exe to dockerd).
	HookPaths map[string]string `json:"hookPaths,omitempty"`
	// HookBinaryProblems maps resolved hook binaries (values of HookPaths)
	// to why someone other than root could change what runs there: the
	// binary or a directory on its path is not root-owned, is writable by
	// group or others, or is not what it should be (see
	// gatherHookBinaries). A binary missing here was checked and is safe.
	HookBinaryProblems map[string]string `json:"hookBinaryProblems,omitempty"`
	// HostNamespaces holds the namespace paths of linux.namespaces, as
	// written, that are the host's own namespace of their type (the same
	// namespace as PID 1's), however the path spells it.
	HostNamespaces map[string]bool `json:"hostNamespaces,omitempty"`
	// Namespaces are the namespace files of linux.namespaces, opened once
	// (OpenNamespaceFiles): the facts about them are read from these
	// descriptors and the container joins them.
	Namespaces NamespaceFiles `json:"-"`
	// IDRange is the host ID range allocated to the container for a new
	// user namespace (container IDs 0..Size-1, uids and gids alike), set
	// by the runtime after allocation; nil when none was allocated.
	IDRange *idmap.Range `json:"idRange,omitempty"`
	// CallerIDRanges are the host IDs that /etc/subuid and /etc/subgid
	// both give the policy's callerSubidUsers: a caller's own mapping
	// that lies in them is kept (read only when the spec has one).
	CallerIDRanges []idmap.Range `json:"callerIdRanges,omitempty"`
	// RemapIDRanges are, by user of the policy's remapSubidUsers, the host
	// IDs that /etc/subuid and /etc/subgid both give that user: an
	// engine's single remap range (read only when the spec has mappings
	// or joins namespaces).
	RemapIDRanges map[string][]idmap.Range `json:"remapIdRanges,omitempty"`
	// Usernses maps the namespace paths of linux.namespaces to the user
	// namespace that owns them (for a user namespace path: itself), from
	// GatherUsernsFacts. A path missing here is unknown.
	Usernses map[string]idmap.UsernsInfo `json:"usernses,omitempty"`
	// DockerRoot is Docker's data root when the container is Docker's: the
	// spec binds the container's own /etc/hosts from
	// <DockerRoot>/containers/<id>/hosts and its rootfs is the overlay
	// Docker mounted for that container ID (a caller chooses the ID, not
	// that mount). Set by the runtime, which knows the container ID; named
	// volumes are found under <DockerRoot>/volumes.
	DockerRoot string `json:"dockerRoot,omitempty"`
	// PodmanRoot is Podman's storage root (containers/storage graphroot)
	// when the container is Podman's: the spec binds the container's own
	// /dev/shm from <PodmanRoot>/overlay-containers/<id>/userdata/shm, the
	// bundle is that userdata directory and the rootfs an overlay mount.
	// Set by the runtime; named volumes are found under
	// <PodmanRoot>/volumes, Podman's default volume_path.
	PodmanRoot string `json:"podmanRoot,omitempty"`
	// EngineRoots are the engines' state roots beyond their defaults
	// that the host's own configuration of the engines names (Docker's
	// daemon.json "data-root"...), or that a symlink moves a root to, by
	// engine kind (EngineKinds; GatherEngineRoots). The rules hold them
	// sensitive like the defaults, with those of the policy's
	// "engineRoots".
	EngineRoots map[string][]string `json:"engineRoots,omitempty"`
	// DeviceNodes maps the paths of linux.devices to the node the host has
	// at that same path, no symlink followed in any component
	// (GatherDeviceNodes). A path missing here holds nothing, or is
	// reached through a symlink.
	DeviceNodes map[string]DeviceNode `json:"deviceNodes,omitempty"`
	// ProcessLimits are the runtime's own ceilings on the rlimits and the
	// oom_score_adj it can give a container (GatherProcessLimits).
	ProcessLimits ProcessLimits `json:"processLimits"`
	// Root is the runtime root (--root) the container is created in;
	// Joins were looked up among its containers. Empty: unknown.
	Root string `json:"root,omitempty"`
	// Joins maps the namespace paths of linux.namespaces, as written, to
	// what each namespace is (GatherJoinFacts); a path missing here is
	// unknown and its join is refused.
	Joins map[string]JoinTarget `json:"joins,omitempty"`
	// CgroupProcs maps the cgroup directories that linux.cgroupsPath
	// names (on every hierarchy, with their subdirectories) to processes
	// already in them (GatherCgroupFacts); only directories holding some
	// are listed.
	CgroupProcs map[string][]int `json:"cgroupProcs,omitempty"`
	// UsernsUnsupported, when not empty, says why this container cannot
	// get a new user namespace on this host (e.g. its rootfs is an overlay
	// that cannot be idmapped); the user-namespace rule then notes it and
	// leaves the container without one.
	UsernsUnsupported string `json:"usernsUnsupported,omitempty"`
	// UsernsPlan is the user-namespace plan made once by Check with the
	// effective policy; the user-namespace rule follows it rather than
	// planning again. Nil: the rule plans itself (tests, direct calls).
	UsernsPlan *UsernsPlan `json:"usernsPlan,omitempty"`
}

// The host's subordinate ID files (subuid(5)).
const (
	subUIDFile = "/etc/subuid"
	subGIDFile = "/etc/subgid"
)

// GatherUsernsFacts fills f.Usernses for every namespace path in
// linux.namespaces: which user namespace owns it (NS_GET_USERNS), whether
// that is the host's, and, when the path is /proc/<pid>/ns/<type>, that
// process's user namespace path and mappings; for a user namespace file
// of no process (containerd's pinned one), the mappings read by a helper
// that joins it (usernsprobe). A path that cannot be
// opened is left out (unknown).
func GatherUsernsFacts(s *specs.Spec, f *HostFacts) {
	if s == nil || s.Linux == nil {
		return
	}
	for _, ns := range s.Linux.Namespaces {
		if ns.Path == "" || !f.Namespaces.known(ns.Path) {
			continue
		}
		info, err := idmap.OwnerUsernsOf(f.Namespaces.ProcPath(ns.Path), ns.Path)
		if err != nil {
			continue
		}
		if ns.Type == specs.UserNamespace && !info.Host && info.Path == "" {
			// A bind-mounted user namespace (containerd's pinned one of
			// a hostUsers: false pod), perhaps with no process in it
			// yet: a helper joins it to read its mappings.
			if uids, gids, err := usernsprobe.Read(f.Namespaces.ProcPath(ns.Path)); err == nil {
				info.UIDMap, info.GIDMap = uids, gids
			}
		}
		if info.Path != "" {
			f.Namespaces.keepOwner(info.Path, f.Namespaces.ProcPath(ns.Path))
		}
		if f.Usernses == nil {
			f.Usernses = map[string]idmap.UsernsInfo{}
		}
		f.Usernses[ns.Path] = info
	}
}

// GatherHostFacts reads what the rules need to know about the host for the
// bundle at bundle and its spec: the rootfs path, which of pol's writable
// paths exist in the rootfs as real directories (Lstat on every component,
// so an image whose /var/run is a symlink to /run, or whose /tmp points
// out of the rootfs, gets no mount there), where bind-mount sources
// (absolute, or relative to the bundle) and hook binaries resolve, and
// with user namespaces on, which user namespaces own the namespaces the
// spec joins (GatherUsernsFacts), and where the engines keep their state
// (GatherEngineRoots). It never follows a symlink inside the rootfs. The
// rootfs is resolved by path here; the runtime pins it first and calls
// GatherHostFactsFor.
func GatherHostFacts(bundle string, spec *specs.Spec, pol *Policy) (HostFacts, error) {
	return GatherHostFactsFor(bundle, spec, pol, "")
}

// GatherHostFactsFor is GatherHostFacts for a rootfs the caller has
// already resolved: rootfs is its canonical host path (read back from the
// descriptor the caller keeps, see idmap.PinDir), which the rules check
// and which must be what the caller then mounts. An empty rootfs is
// resolved here by path.
func GatherHostFactsFor(bundle string, spec *specs.Spec, pol *Policy, rootfs string) (HostFacts, error) {
	return GatherHostFactsOf(bundle, "", spec, pol, rootfs)
}

// GatherHostFactsOf is GatherHostFactsFor for the container id (as the
// runtime was given it; "" for none). An overlay rootfs that its engine
// mounted for this very container (EngineOwnOverlay) is not looked for
// among the root directories of the host's processes
// (HostFacts.RootfsRootOf): that search stats /proc/<pid>/root of every
// process, ~4-6 µs each (11-17 ms on a node with 3,000 processes), on
// every create.
func GatherHostFactsOf(bundle, id string, spec *specs.Spec, pol *Policy, rootfs string) (HostFacts, error) {
	if pol == nil {
		pol = DefaultPolicy()
	}
	abs, err := filepath.Abs(bundle)
	if err != nil {
		return HostFacts{}, fmt.Errorf("bundle %s: %w", bundle, err)
	}
	f := HostFacts{Bundle: abs}
	if spec == nil {
		return f, nil
	}
	GatherEngineRoots(EngineConfigDir(), &f)
	bundleReal, err := filepath.EvalSymlinks(abs)
	if err != nil {
		bundleReal = abs
	}
	resolved := rootfs
	if p := rootfsPath(spec, f); resolved == "" && p != "" {
		if resolved, err = filepath.EvalSymlinks(p); err != nil {
			return f, fmt.Errorf("bundle %s: rootfs: %w", abs, err)
		}
	}
	if resolved != "" {
		f.Rootfs = resolved
		f.RootfsNotOverlayMount = !isOverlayMountRoot(resolved)
		f.RootfsOutsideBundle = !hardenedspec.Within(filepath.Clean(resolved), filepath.Clean(bundleReal))
		f.ExistingDirs = map[string]bool{}
		for _, p := range pol.WritablePaths {
			f.ExistingDirs[p] = realDirUnder(resolved, p)
		}
	}
	for _, m := range spec.Mounts {
		if !hardenedspec.IsBind(m) || m.Source == "" {
			continue
		}
		// A relative source is taken against the bundle, as the runtime
		// hands it to libcontainer.
		if resolved, err := filepath.EvalSymlinks(hardenedspec.BindSource(m, abs)); err == nil {
			if f.MountSources == nil {
				f.MountSources = map[string]string{}
			}
			f.MountSources[m.Source] = resolved
		}
	}
	for _, m := range spec.Mounts {
		dirs, _ := overlayDirs(m)
		for _, d := range dirs {
			if resolved, err := filepath.EvalSymlinks(d.path); err == nil {
				if f.MountSources == nil {
					f.MountSources = map[string]string{}
				}
				f.MountSources[d.path] = resolved
			}
		}
	}
	// After MountSources: EngineOwnOverlay finds Docker's data root
	// from the resolved source of the /etc/hosts bind.
	if f.Rootfs != "" && !f.RootfsNotOverlayMount {
		layout := engineLayoutOf(pol, f)
		if !rootfsEngineOwn(spec, f, id, bundleReal, layout.rootsOf(EngineDocker), layout.rootsOf(EngineContainersStorage)) {
			f.RootfsOverlayNotEngineOwn = true
			f.RootfsRootOf = processesRootedAt(f.Rootfs)
		}
	}
	f.Namespaces = OpenNamespaceFiles(spec)
	if pol.UserNamespace.Enabled {
		GatherUsernsFacts(spec, &f)
		if spec.Linux != nil && len(spec.Linux.UIDMappings) > 0 {
			for _, user := range pol.UserNamespace.CallerSubIDUsers {
				if rs, src, err := idmap.ResolvePool(nil, subUIDFile, subGIDFile, user); err == nil && src == idmap.SourceSubID {
					f.CallerIDRanges = append(f.CallerIDRanges, rs...)
				}
			}
		}
		if spec.Linux != nil && (len(spec.Linux.UIDMappings) > 0 || len(f.Usernses) > 0) {
			for _, user := range pol.UserNamespace.RemapSubIDUsers {
				if rs, src, err := idmap.ResolvePool(nil, subUIDFile, subGIDFile, user); err == nil && src == idmap.SourceSubID {
					if f.RemapIDRanges == nil {
						f.RemapIDRanges = map[string][]idmap.Range{}
					}
					f.RemapIDRanges[user] = rs
				}
			}
		}
	}
	gatherHookBinaries(spec, &f)
	f.HostNamespaces = hostNamespaceJoins(spec, f.Namespaces)
	f.DeviceNodes = GatherDeviceNodes(spec)
	f.ProcessLimits = GatherProcessLimits()
	return f, nil
}

// isOverlayMountRoot reports whether the directory p is the root of an
// overlay mount: on an overlayfs, on another device than its parent.
// Only root mounts an overlay on the host, so what this finds below an
// engine's store is the engine's.
func isOverlayMountRoot(p string) bool {
	var fs unix.Statfs_t
	var st, parent unix.Stat_t
	if unix.Statfs(p, &fs) != nil || fs.Type != unix.OVERLAYFS_SUPER_MAGIC || p == "/" {
		return false
	}
	if unix.Lstat(p, &st) != nil || unix.Lstat(filepath.Dir(p), &parent) != nil {
		return false
	}
	return st.Dev != parent.Dev
}

// processesRootedAt returns (up to a few) processes whose root directory
// is the directory p itself (same device and inode).
func processesRootedAt(p string) []int {
	var want unix.Stat_t
	if unix.Stat(p, &want) != nil {
		return nil
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		var st unix.Stat_t
		if unix.Stat("/proc/"+e.Name()+"/root", &st) == nil && st.Dev == want.Dev && st.Ino == want.Ino {
			if pids = append(pids, pid); len(pids) == 3 {
				break
			}
		}
	}
	return pids
}

// realDirUnder reports whether rootfs/p is a directory with no symlink in
// any component below rootfs.
func realDirUnder(rootfs, p string) bool {
	cur := rootfs
	for _, part := range strings.Split(strings.Trim(filepath.Clean(p), "/"), "/") {
		if part == "" || part == ".." {
			return false
		}
		cur = filepath.Join(cur, part)
		fi, err := os.Lstat(cur)
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				return false
			}
			return false
		}
		if fi.Mode()&os.ModeSymlink != 0 || !fi.IsDir() {
			return false
		}
	}
	return true
}

// rootfsPath returns the absolute host path of the rootfs, or "" when it
// cannot be known without I/O.
func rootfsPath(s *specs.Spec, f HostFacts) string {
	if f.Rootfs != "" {
		return f.Rootfs
	}
	if s.Root == nil || s.Root.Path == "" {
		return ""
	}
	if filepath.IsAbs(s.Root.Path) {
		return filepath.Clean(s.Root.Path)
	}
	if f.Bundle == "" || !filepath.IsAbs(f.Bundle) {
		return ""
	}
	return filepath.Join(f.Bundle, s.Root.Path)
}
