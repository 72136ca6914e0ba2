package hardening

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/hardened-runtime/hardened/spec"
)

// Engine kinds: the keys of the policy's "engineRoots" and of
// HostFacts.EngineRoots.
const (
	// EngineDocker is Docker's data root (dockerd --data-root,
	// daemon.json "data-root"), by default /var/lib/docker.
	EngineDocker = "docker"
	// EngineContainerd is containerd's root directory (config.toml
	// "root", containerd --root), by default /var/lib/containerd.
	EngineContainerd = "containerd"
	// EngineContainerdState is containerd's state directory
	// (config.toml "state", containerd --state), by default
	// /run/containerd: its shims' bundles, the CRI plugin's /dev/shm.
	EngineContainerdState = "containerdState"
	// EngineKubelet is the kubelet's root directory (kubelet
	// --root-dir), by default /var/lib/kubelet.
	EngineKubelet = "kubelet"
	// EngineContainersStorage is the graph root of containers/storage
	// (Podman, CRI-O, Buildah; storage.conf "graphroot"), by default
	// /var/lib/containers/storage.
	EngineContainersStorage = "containersStorage"
)

// defaultEngineRoots returns, by engine kind, the root that the built-in
// lists name the engine's state by (sensitiveHostPaths,
// runtimeOwnedSources, engineStores, hostSystemDirs,
// DefaultIDMapMountSources, kubeletPodsDir): what they name at or below
// it holds at or below every further root of that kind (engineLayout).
func defaultEngineRoots() map[string]string {
	return map[string]string{
		EngineDocker:            "/var/lib/docker",
		EngineContainerd:        "/var/lib/containerd",
		EngineContainerdState:   "/run/containerd",
		EngineKubelet:           "/var/lib/kubelet",
		EngineContainersStorage: "/var/lib/containers/storage",
	}
}

// EngineKinds returns the engine kinds, the keys "engineRoots" takes
// (those of defaultEngineRoots), sorted.
func EngineKinds() []string {
	return []string{EngineContainerd, EngineContainerdState, EngineContainersStorage, EngineDocker, EngineKubelet}
}

// wellKnownEngineRoots returns the roots Kubernetes distributions give
// their own containerd and kubelet: k3s and RKE2 (/var/lib/rancher/...,
// /run/k3s/containerd), MicroK8s (/var/snap/microk8s/common/...) and k0s
// (/var/lib/k0s/..., /run/k0s/containerd). They are sensitive on every
// host, whether the distribution is installed or not: fixed paths, no
// I/O.
func wellKnownEngineRoots() map[string][]string {
	return map[string][]string{
		EngineContainerd: {
			"/var/lib/rancher/k3s/agent/containerd", "/var/lib/rancher/rke2/agent/containerd",
			"/var/snap/microk8s/common/var/lib/containerd", "/var/lib/k0s/containerd",
		},
		EngineContainerdState: {"/run/k3s/containerd", "/var/snap/microk8s/common/run/containerd", "/run/k0s/containerd"},
		EngineKubelet:         {"/var/snap/microk8s/common/var/lib/kubelet", "/var/lib/k0s/kubelet"},
	}
}

// normalizeEngineRoots checks the "engineRoots" key: known kinds
// (EngineKinds), absolute paths, not "/"; the paths are cleaned.
func normalizeEngineRoots(roots map[string][]string) error {
	known := defaultEngineRoots()
	for kind, paths := range roots {
		if _, ok := known[kind]; !ok {
			return fmt.Errorf("key \"engineRoots\": %q is not one of %s", kind, strings.Join(EngineKinds(), ", "))
		}
		clean, err := normalizePaths("engineRoots."+kind, paths)
		if err != nil {
			return err
		}
		if slices.Contains(clean, "/") {
			return fmt.Errorf("key \"engineRoots.%s\": \"/\" is the host itself, not an engine's directory", kind)
		}
		roots[kind] = clean
	}
	return nil
}

// engineLayout is where the engines keep their state on this host: the
// built-in lists, plus, for every root beyond an engine's default
// (well-known distributions', the policy's "engineRoots", those read
// from the engines' configuration, HostFacts.EngineRoots), that root as a
// sensitive path and each entry of the lists that lies at or below the
// default root again at or below that root. The rules build it once per
// call (engineLayoutOf).
type engineLayout struct {
	// extra are the roots beyond the defaults, by kind.
	extra map[string][]string
	// sensitive is sensitiveHostPaths and every extra root, with
	// everything below it.
	sensitive []sensitivePath
	// ownedSources is runtimeOwnedSources, rebased.
	ownedSources []string
	// podsDirs are the kubelet's pod directories: kubeletPodsDir, rebased.
	podsDirs []string
	// stores is engineStores, rebased.
	stores []string
	// systemDirs is hostSystemDirs, rebased.
	systemDirs []string
}

// engineLayoutOf returns the engine layout that pol and f give.
func engineLayoutOf(pol *Policy, f HostFacts) engineLayout {
	extra := map[string][]string{}
	defaults := defaultEngineRoots()
	for _, src := range []map[string][]string{wellKnownEngineRoots(), pol.EngineRoots, f.EngineRoots} {
		for kind, roots := range src {
			for _, r := range roots {
				// Read as the rules read the paths they check.
				r = aliasVarRun(r)
				if def, ok := defaults[kind]; ok && r != def && r != "/" && !slices.Contains(extra[kind], r) {
					extra[kind] = append(extra[kind], r)
				}
			}
		}
	}
	l := engineLayout{extra: extra, sensitive: sensitiveHostPaths()}
	for _, kind := range EngineKinds() {
		for _, r := range extra[kind] {
			l.sensitive = append(l.sensitive, sensitivePath{path: r, under: true})
		}
	}
	l.ownedSources = l.rebase(runtimeOwnedSources(), true)
	l.podsDirs = l.rebase([]string{kubeletPodsDir}, false)
	l.stores = l.rebase(engineStores(), true)
	l.systemDirs = l.rebase(hostSystemDirs(), false)
	return l
}

// rebase returns list and, for each entry at or below an engine's
// default root, the same entry at or below every extra root of that
// engine. With patterns, the entries are path.Match patterns and the
// roots are escaped in them.
func (l engineLayout) rebase(list []string, patterns bool) []string {
	out := slices.Clone(list)
	defaults := defaultEngineRoots()
	for _, kind := range EngineKinds() {
		def := defaults[kind]
		if len(l.extra[kind]) == 0 {
			continue
		}
		for _, e := range list {
			// spec.Within without its concatenation: this runs for
			// every entry of the lists on every create.
			if e != def && (!strings.HasPrefix(e, def) || e[len(def)] != '/') {
				continue
			}
			for _, r := range l.extra[kind] {
				if patterns {
					r = globEscape(r)
				}
				out = append(out, r+strings.TrimPrefix(e, def))
			}
		}
	}
	return out
}

// idmapSources returns the "idmapMountSources" entries, rebased (see
// rebase): the host's own entries below an engine's default root apply
// below its other roots.
func (l engineLayout) idmapSources(entries []string) []string {
	return l.rebase(entries, true)
}

// rootsOf returns the roots of engine kind: its default and the extra
// ones.
func (l engineLayout) rootsOf(kind string) []string {
	return append([]string{defaultEngineRoots()[kind]}, l.extra[kind]...)
}

// engineRootOf returns the engine root (of any kind, rootsOf) that the
// clean host path p lies strictly below, or "".
func (l engineLayout) engineRootOf(p string) string {
	for _, kind := range EngineKinds() {
		for _, r := range l.rootsOf(kind) {
			if p != r && spec.Within(p, r) {
				return r
			}
		}
	}
	return ""
}

// globEscape escapes the path.Match metacharacters of s.
func globEscape(s string) string {
	if !strings.ContainsAny(s, `*?[\`) {
		return s
	}
	var b strings.Builder
	for _, c := range s {
		if strings.ContainsRune(`*?[\`, c) {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// engineRootsNote describes the engine roots beyond the built-in ones that
// pol and f add (not the well-known distributions'), with where each was
// found, or "" when there are none.
func engineRootsNote(pol *Policy, f HostFacts) string {
	defaults := defaultEngineRoots()
	var items []string
	for _, kind := range EngineKinds() {
		for _, r := range pol.EngineRoots[kind] {
			if r != defaults[kind] {
				items = append(items, kind+" "+r+` (policy "engineRoots")`)
			}
		}
		for _, r := range f.EngineRoots[kind] {
			if r != defaults[kind] && !slices.Contains(pol.EngineRoots[kind], r) && !slices.Contains(wellKnownEngineRoots()[kind], r) {
				items = append(items, kind+" "+r+" (found on the host)")
			}
		}
	}
	sort.Strings(items)
	if len(items) == 0 {
		return ""
	}
	return "engines' state roots beyond the defaults, held sensitive like them: " + strings.Join(items, ", ")
}
