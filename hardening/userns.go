package hardening

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/spec"

	"github.com/hardened-runtime/hardened/idmap"
)

// UserNamespace is the user-namespace rule.
//
// Threat: container root is host root. Whatever escapes the container's
// other namespaces (a kernel bug, a writable host path, a leaked file
// descriptor) then acts as uid 0 on the host. In a user namespace,
// container root is an unprivileged host ID of a range no other container
// and no host user holds.
//
// Fields: linux.namespaces, linux.uidMappings, linux.gidMappings,
// linux.sysctl["net.ipv4.ping_group_range"], the options of cgroup mounts
// (engine's remap range only), and with "idmapBindMounts"
// the uidMappings, gidMappings and options of bind mounts. What the rule
// does follows PlanUserNamespace:
//   - a user namespace joined by path (containerd 2 puts a pod's
//     containers into the sandbox's, and a hostUsers: false pod's into
//     its pinned namespace file, whose mappings a helper reads) is kept
//     when that namespace maps no host ID 0 and is refused otherwise, or
//     when its mappings cannot be read;
//   - a container that joins another container's pid, network or ipc
//     namespace by path joins that container's user namespace too (a
//     Kubernetes pod's sandbox, Docker's --network container:X), so that
//     the namespace owner's privileges (binding port 80, net sysctls)
//     still hold; a joined namespace owned by the host's user namespace
//     gets the container a new user namespace instead;
//   - otherwise the container gets a new user namespace mapping container
//     IDs 0..N-1 to the range the runtime allocated (HostFacts.IDRange).
//     A caller's mapping is kept when it is exactly that range (the
//     runtime allocates a caller's range when it lies in the pool, maps
//     no host ID 0 and is free), or when it lies in the subordinate IDs
//     of "callerSubidUsers" (Podman's --userns=auto) and maps no host ID
//     0 (the runtime then records it in the host registry, where it must
//     not overlap another container's range); any other is replaced;
//   - a caller's mapping that lies in the subordinate IDs of a user of
//     "remapSubidUsers" (the single range of dockerd --userns-remap) and
//     maps no host ID 0 is kept likewise, with the engine's rootfs, and
//     shared with the engine's other containers (the registry entry is
//     marked shared, idmap.EngineRangeKey); so is a namespace joined
//     through a shared namespace whose mapping lies there. Such a
//     container's cgroup mounts, which dockerd makes read-write under
//     remapping, are made read-only (the host-mounts rule lets them
//     through for that).
//
// Docker sets net.ipv4.ping_group_range to "0 2147483647", which a user
// namespace cannot write (the groups must be mapped): it is clamped to the
// mapped range. Docker's and Podman's named volumes (HostFacts.DockerRoot,
// HostFacts.PodmanRoot) are idmapped
// with the container's mapping and nosuid,nodev, so that files on a volume
// keep container IDs and containers of different ranges share it; with
// "idmapBindMounts" every host bind is. When the host cannot give this
// container a user namespace (HostFacts.UsernsUnsupported), the rule notes
// why and changes nothing.
//
// Relaxed by: "userNamespace": {"enabled": false}, "callerSubidUsers",
// "remapSubidUsers" (containers of one engine share its range), or
// "allowHostNamespaces": ["user"] for a join of a namespace that maps host
// root.
func UserNamespace(s *specs.Spec, pol *Policy, f HostFacts, r *Report) error {
	var plan UsernsPlan
	var err error
	if f.UsernsPlan != nil {
		// Check planned once already (and refused a plan it could not
		// make).
		plan = *f.UsernsPlan
	} else {
		plan, err = PlanUserNamespace(s, pol, f)
	}
	if err != nil {
		// Called without Check (which runs the user-namespace-join rule
		// first): the refusal is recorded the same way.
		r.refuse(RuleUsernsJoin, err.Error(), usernsJoinAllowKey)
		if pol.Mode == ModeAudit {
			return nil
		}
		return r.Err(pol.Level)
	}
	switch {
	case plan.Join != "":
		if plan.Stage && f.UsernsUnsupported != "" {
			r.note(RuleUserNamespace, "no user namespace (would join %s, %s): %s", plan.Join, plan.Why, f.UsernsUnsupported)
			return nil
		}
		joinUserns(s, plan, r)
		clampPingGroupRange(s, plan.Size, r)
		if plan.Remap != "" {
			readOnlyCgroupMounts(s, r)
		}
	case plan.Caller && plan.Remap != "":
		r.note(RuleUserNamespace, "keeps the engine's user namespace mapping: it lies in the subordinate IDs of %s (\"remapSubidUsers\"), maps no host ID 0 and is shared by the engine's containers", plan.Remap)
		clampPingGroupRange(s, plan.Size, r)
		readOnlyCgroupMounts(s, r)
	case plan.Caller:
		r.note(RuleUserNamespace, "keeps the caller's own user namespace mapping: it lies in the subordinate IDs of %s and maps no host ID 0", strings.Join(pol.UserNamespace.CallerSubIDUsers, ", "))
		clampPingGroupRange(s, plan.Size, r)
	case plan.New:
		if f.UsernsUnsupported != "" {
			r.note(RuleUserNamespace, "no user namespace: %s", f.UsernsUnsupported)
			return nil
		}
		if f.IDRange == nil {
			if pol.Mode == ModeAudit {
				r.note(RuleUserNamespace, "a new user namespace with an allocated ID range would be added (ranges are allocated at create)")
				return nil
			}
			return fmt.Errorf("no ID range allocated for the container's user namespace")
		}
		newUserns(s, *f.IDRange, r)
		clampPingGroupRange(s, f.IDRange.Size, r)
		switch {
		case pol.UserNamespace.IDMapBindMounts:
			idmapBindMounts(s, *f.IDRange, rootfsPath(s, f), r)
		case f.DockerRoot != "" || f.PodmanRoot != "":
			idmapDockerVolumes(s, *f.IDRange, f, r)
		}
	}
	return nil
}

// UsernsPlan is what the user-namespace rule will do with a container.
type UsernsPlan struct {
	// New is true when the container gets a new user namespace, with an ID
	// range the runtime must allocate before Harden.
	New bool
	// Join is the path of an existing user namespace the container joins.
	Join string
	// Size is the number of IDs mapped from container ID 0 in the joined
	// namespace.
	Size uint32
	// Why says where Join comes from, for notes.
	Why string
	// Stage is true when the runtime must show the rootfs through an
	// idmapped mount with the namespace's mapping: for a new namespace and
	// for one joined because of a shared namespace. A caller that names a
	// user namespace path itself (containerd) prepares the rootfs for it.
	Stage bool
	// Caller is true when the container keeps the user namespace its
	// config creates with its own mappings (Podman's --userns=auto,
	// --uidmap): they lie in HostFacts.CallerIDRanges and map no host ID
	// 0. The caller prepared the rootfs for them; the runtime records
	// them in the host registry.
	Caller bool
	// Remap is the user of the policy's remapSubidUsers whose subordinate
	// IDs hold the container's mapping (Caller) or the joined namespace's
	// (Join): the range of an engine that remaps all its containers to
	// one range (dockerd --userns-remap), which they share. The engine
	// prepared the rootfs for it (Stage is false).
	Remap string
	// Refused says why no plan could be made: the container joins a user
	// namespace it may not (see RefuseUsernsJoin). The other fields are
	// then zero.
	Refused string
}

// usernsJoinAllowKey is the policy key that lets a container join a user
// namespace mapping host root, or the host's own.
const usernsJoinAllowKey = `"allowHostNamespaces": ["user"]`

// RefuseUsernsJoin is the refusal half of the user-namespace rule.
//
// Threat: a container that joins a user namespace mapping host ID 0 (the
// host's own, or another process's), directly or through a pid, network
// or ipc namespace it joins, runs as host root whatever the
// user-namespace rule would give it; a namespace whose mappings cannot
// be read cannot be told apart from one.
//
// Fields: linux.namespaces (paths of the user, pid, network and ipc
// namespaces joined), as PlanUserNamespace reads them with
// HostFacts.Usernses. The rule reports the plan Check made
// (HostFacts.UsernsPlan), or plans itself when called alone.
//
// Relaxed by: "allowHostNamespaces": ["user"]; "userNamespace":
// {"enabled": false} turns the whole rule off.
func RefuseUsernsJoin(s *specs.Spec, pol *Policy, f HostFacts, r *Report) error {
	why := ""
	if f.UsernsPlan != nil {
		why = f.UsernsPlan.Refused
	} else if _, err := PlanUserNamespace(s, pol, f); err != nil {
		why = err.Error()
	}
	if why != "" {
		r.refuse(RuleUsernsJoin, why, usernsJoinAllowKey)
	}
	return nil
}

// PlanUserNamespace decides, from the spec, the policy and the host facts
// alone, whether a container gets a new user namespace, joins one, or
// neither (the rule disabled). Check calls it once, with the effective
// policy, and hands the plan to the runtime (which allocates the ID range)
// and to the rule (HostFacts.UsernsPlan). An error is a refusal.
func PlanUserNamespace(s *specs.Spec, pol *Policy, f HostFacts) (UsernsPlan, error) {
	if pol == nil || !pol.UserNamespace.Enabled || pol.Mode == ModeOff {
		return UsernsPlan{}, nil
	}
	var nss []specs.LinuxNamespace
	if s.Linux != nil {
		nss = s.Linux.Namespaces
	}
	hostAllowed := slices.Contains(pol.AllowHostNamespaces, string(specs.UserNamespace))
	for _, ns := range nss {
		if ns.Type != specs.UserNamespace || ns.Path == "" {
			continue
		}
		info, ok := f.Usernses[ns.Path]
		switch {
		case hostAllowed:
			return UsernsPlan{Join: ns.Path, Size: mappedSize(info), Why: "caller's user namespace path"}, nil
		case !ok:
			return UsernsPlan{}, fmt.Errorf("user namespace %s cannot be inspected", ns.Path)
		case info.Host:
			return UsernsPlan{}, fmt.Errorf("joins the host user namespace at %s", ns.Path)
		case info.Path == "" && (len(info.UIDMap) == 0 || len(info.GIDMap) == 0):
			return UsernsPlan{}, fmt.Errorf("mappings of user namespace %s unknown (join it by /proc/<pid>/ns/user)", ns.Path)
		case idmap.MapsHostRoot(info.UIDMap) || idmap.MapsHostRoot(info.GIDMap):
			return UsernsPlan{}, fmt.Errorf("user namespace %s maps host ID 0", ns.Path)
		}
		// Docker under --userns-remap joins the namespace of the
		// container whose network namespace it shares by path.
		return UsernsPlan{Join: ns.Path, Size: mappedSize(info), Why: "caller's user namespace path", Remap: remapUserOf(info, pol, f)}, nil
	}
	var plan UsernsPlan
	var joined idmap.UsernsInfo
	for _, ns := range nss {
		switch ns.Type {
		case specs.PIDNamespace, specs.NetworkNamespace, specs.IPCNamespace:
		default:
			continue
		}
		if ns.Path == "" {
			continue
		}
		info, ok := f.Usernses[ns.Path]
		if !ok || info.Host || info.Path == "" {
			continue
		}
		if idmap.MapsHostRoot(info.UIDMap) || idmap.MapsHostRoot(info.GIDMap) {
			if hostAllowed {
				continue
			}
			return UsernsPlan{}, fmt.Errorf("%s namespace %s belongs to a user namespace that maps host ID 0", ns.Type, ns.Path)
		}
		if plan.Join != "" && !sameUserns(plan.Join, info.Path) {
			return UsernsPlan{}, fmt.Errorf("joined namespaces belong to two user namespaces (%s and %s)", plan.Join, info.Path)
		}
		plan = UsernsPlan{Join: info.Path, Size: mappedSize(info), Why: fmt.Sprintf("owner of the %s namespace %s", ns.Type, ns.Path), Stage: true}
		joined = info
	}
	remapUser, remapSize := remapMapping(s, pol, f)
	if plan.Join != "" {
		if remapUser != "" && remapUserOf(joined, pol, f) == remapUser {
			// The engine's containers share its one range: the joined
			// namespace has it too, and the engine prepared the rootfs
			// for it (Docker's --network container:X under
			// --userns-remap).
			plan.Stage, plan.Remap = false, remapUser
		}
		return plan, nil
	}
	if remapUser != "" {
		return UsernsPlan{Caller: true, Remap: remapUser, Size: remapSize, Why: "engine's remap range"}, nil
	}
	if size, ok := callerMapping(s, f.CallerIDRanges); ok {
		return UsernsPlan{Caller: true, Size: size, Why: "caller's own mapping"}, nil
	}
	return UsernsPlan{New: true, Stage: true}, nil
}

// remapMapping returns the user of the policy's remapSubidUsers whose
// subordinate IDs (HostFacts.RemapIDRanges) hold the spec's own mapping,
// and the IDs it maps contiguously from 0; "" when none does.
func remapMapping(s *specs.Spec, pol *Policy, f HostFacts) (string, uint32) {
	for _, user := range pol.UserNamespace.RemapSubIDUsers {
		if size, ok := callerMapping(s, f.RemapIDRanges[user]); ok {
			return user, size
		}
	}
	return "", 0
}

// remapUserOf returns the user of the policy's remapSubidUsers whose
// subordinate IDs hold every mapping of a joined user namespace (known,
// mapping no host ID 0), "" when none does.
func remapUserOf(info idmap.UsernsInfo, pol *Policy, f HostFacts) string {
	if len(info.UIDMap) == 0 || len(info.GIDMap) == 0 || idmap.MapsHostRoot(info.UIDMap) || idmap.MapsHostRoot(info.GIDMap) {
		return ""
	}
	for _, user := range pol.UserNamespace.RemapSubIDUsers {
		remap := f.RemapIDRanges[user]
		if len(remap) > 0 && !slices.ContainsFunc(append(slices.Clone(info.UIDMap), info.GIDMap...), func(m idmap.Mapping) bool {
			return m.Host.Size == 0 || !idmap.WithinAny(m.Host, remap)
		}) {
			return user
		}
	}
	return ""
}

// callerMapping reports whether the spec creates its user namespace with
// mappings of its own that may be kept: uid and gid mappings both given,
// container ID 0 mapped, no host ID 0, every host range inside
// allowed. It returns the IDs mapped contiguously from 0.
func callerMapping(s *specs.Spec, allowed []idmap.Range) (uint32, bool) {
	if s.Linux == nil || len(allowed) == 0 || len(s.Linux.UIDMappings) == 0 || len(s.Linux.GIDMappings) == 0 {
		return 0, false
	}
	if !slices.ContainsFunc(s.Linux.Namespaces, func(ns specs.LinuxNamespace) bool { return ns.Type == specs.UserNamespace && ns.Path == "" }) {
		return 0, false
	}
	ms := CallerMappings(s)
	for _, m := range ms {
		if m.Host.Size == 0 || m.Host.Validate() != nil || !idmap.WithinAny(m.Host, allowed) {
			return 0, false
		}
	}
	var uids, gids []idmap.Mapping
	for _, m := range s.Linux.UIDMappings {
		uids = append(uids, idmap.Mapping{ContainerID: m.ContainerID, Host: idmap.Range{Start: m.HostID, Size: m.Size}})
	}
	for _, m := range s.Linux.GIDMappings {
		gids = append(gids, idmap.Mapping{ContainerID: m.ContainerID, Host: idmap.Range{Start: m.HostID, Size: m.Size}})
	}
	if idmap.MapsHostRoot(uids) || idmap.MapsHostRoot(gids) {
		return 0, false
	}
	size := mappedSize(idmap.UsernsInfo{UIDMap: uids, GIDMap: gids})
	return size, size > 0
}

// CallerMappings returns the uid and gid mappings of the spec as host
// ranges, for the registry.
func CallerMappings(s *specs.Spec) []idmap.Mapping {
	var out []idmap.Mapping
	if s.Linux == nil {
		return nil
	}
	for _, m := range append(slices.Clone(s.Linux.UIDMappings), s.Linux.GIDMappings...) {
		out = append(out, idmap.Mapping{ContainerID: m.ContainerID, Host: idmap.Range{Start: m.HostID, Size: m.Size}})
	}
	return out
}

// sameUserns compares two /proc/<pid>/ns/user paths of one plan: they
// name the same namespace when they are the same path (distinct PIDs in
// one namespace are not merged: joining either is the same).
func sameUserns(a, b string) bool { return filepath.Clean(a) == filepath.Clean(b) }

// mappedSize returns how many IDs a user namespace maps contiguously
// from container ID 0, for both uids and gids.
func mappedSize(info idmap.UsernsInfo) uint32 {
	size := func(ms []idmap.Mapping) uint32 {
		var n uint32
		for {
			i := slices.IndexFunc(ms, func(m idmap.Mapping) bool { return m.ContainerID == n })
			if i < 0 || ms[i].Host.Size == 0 {
				return n
			}
			n += ms[i].Host.Size
		}
	}
	return min(size(info.UIDMap), size(info.GIDMap))
}

// joinUserns points the user namespace entry at plan.Join and drops
// mappings, which belong to the joined namespace.
func joinUserns(s *specs.Spec, plan UsernsPlan, r *Report) {
	l := ensureLinux(s)
	ns := specs.LinuxNamespace{Type: specs.UserNamespace, Path: plan.Join}
	setUsernsEntry(l, ns, r)
	if len(l.UIDMappings) > 0 || len(l.GIDMappings) > 0 {
		r.record(RuleUserNamespace, "linux.uidMappings", l.UIDMappings, nil)
		r.record(RuleUserNamespace, "linux.gidMappings", l.GIDMappings, nil)
		l.UIDMappings, l.GIDMappings = nil, nil
	}
	if plan.Why != "caller's user namespace path" {
		r.note(RuleUserNamespace, "joins user namespace %s: %s", plan.Join, plan.Why)
	}
}

// newUserns gives the container a new user namespace mapping container
// IDs 0..Size-1 to rng.
func newUserns(s *specs.Spec, rng idmap.Range, r *Report) {
	l := ensureLinux(s)
	setUsernsEntry(l, specs.LinuxNamespace{Type: specs.UserNamespace}, r)
	want := []specs.LinuxIDMapping{{ContainerID: 0, HostID: rng.Start, Size: rng.Size}}
	if !slices.Equal(l.UIDMappings, want) {
		r.record(RuleUserNamespace, "linux.uidMappings", l.UIDMappings, want)
		l.UIDMappings = want
	}
	if !slices.Equal(l.GIDMappings, want) {
		r.record(RuleUserNamespace, "linux.gidMappings", l.GIDMappings, slices.Clone(want))
		l.GIDMappings = slices.Clone(want)
	}
}

func setUsernsEntry(l *specs.Linux, ns specs.LinuxNamespace, r *Report) {
	i := slices.IndexFunc(l.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.UserNamespace })
	if i >= 0 {
		if l.Namespaces[i] == ns {
			return
		}
		r.record(RuleUserNamespace, "linux.namespaces[type=user]", l.Namespaces[i], ns)
		l.Namespaces[i] = ns
		return
	}
	r.record(RuleUserNamespace, "linux.namespaces[type=user]", nil, ns)
	l.Namespaces = append(l.Namespaces, ns)
}

// readOnlyCgroupMounts makes the cgroup filesystem mounts read-only:
// dockerd --userns-remap mounts them read-write (its workaround for
// kernels that could not remount them read-only in a user namespace),
// which the host-mounts rule lets through for such containers only
// because this makes them read-only.
func readOnlyCgroupMounts(s *specs.Spec, r *Report) {
	for i := range s.Mounts {
		m := &s.Mounts[i]
		if !isCgroupMount(*m) || readOnly(m.Options) {
			continue
		}
		opts := append(slices.DeleteFunc(slices.Clone(m.Options), func(o string) bool { return o == "rw" }), "ro")
		r.recordStrings(RuleUserNamespace, "mounts[destination="+m.Destination+"].options", m.Options, opts)
		m.Options = opts
	}
}

// pingGroupRange is the sysctl Docker sets, under both spellings.
var pingGroupRangeKeys = []string{"net.ipv4.ping_group_range", "net/ipv4/ping_group_range"}

// clampPingGroupRange limits net.ipv4.ping_group_range to the groups the
// user namespace maps (0..size-1); a range with none of them becomes
// "1 0", the kernel's "nobody may ping".
func clampPingGroupRange(s *specs.Spec, size uint32, r *Report) {
	if s.Linux == nil || size == 0 {
		return
	}
	for _, k := range pingGroupRangeKeys {
		v, ok := s.Linux.Sysctl[k]
		if !ok {
			continue
		}
		out := "1 0"
		f := strings.Fields(v)
		if len(f) == 2 {
			lo, err1 := strconv.ParseUint(f[0], 10, 32)
			hi, err2 := strconv.ParseUint(f[1], 10, 32)
			hi = min(hi, uint64(size)-1)
			if err1 == nil && err2 == nil && lo <= hi {
				out = fmt.Sprintf("%d %d", lo, hi)
			}
		}
		if out != v {
			r.record(RuleUserNamespace, "linux.sysctl["+k+"]", v, out)
			s.Linux.Sysctl[k] = out
		}
	}
}

// idmapDockerVolumes idmaps Docker's named volumes
// (<DockerRoot>/volumes/<name>/_data) with the container's mapping, and
// adds nosuid,nodev: files on a volume are stored with container IDs, as
// without a user namespace, so that containers with different ranges
// share a volume (an init container's chown holds for the next
// container). Through such a mount container root acts as host root on
// the volume's directory; host directories stay unmapped.
func idmapDockerVolumes(s *specs.Spec, rng idmap.Range, f HostFacts, r *Report) {
	idmapMounts(s, rng, r, func(m specs.Mount) bool { return isDockerVolume(m, f) })
}

// isDockerVolume reports whether m's source, as resolved, is a Docker
// or Podman named volume: <DockerRoot or PodmanRoot>/volumes/<name>/_data.
func isDockerVolume(m specs.Mount, f HostFacts) bool {
	src := filepath.Clean(m.Source)
	if resolved, ok := f.MountSources[m.Source]; ok {
		src = resolved
	}
	for _, root := range []string{f.DockerRoot, f.PodmanRoot} {
		if root == "" {
			continue
		}
		rel, err := filepath.Rel(filepath.Join(root, "volumes"), src)
		if err != nil {
			continue
		}
		parts := strings.Split(rel, "/")
		if len(parts) == 2 && parts[0] != ".." && parts[0] != "." && parts[1] == "_data" {
			return true
		}
	}
	return false
}

// idmapBindMounts gives bind mounts of host paths outside the rootfs the
// container's mapping, so host files keep their owners inside, and adds
// nosuid,nodev: through such a mount container root is host root on that
// directory.
func idmapBindMounts(s *specs.Spec, rng idmap.Range, rootfs string, r *Report) {
	idmapMounts(s, rng, r, func(m specs.Mount) bool {
		return rootfs == "" || !spec.Within(filepath.Clean(m.Source), rootfs)
	})
}

// idmapMounts idmaps the bind mounts of absolute host paths that pick
// selects and adds nosuid,nodev to them.
func idmapMounts(s *specs.Spec, rng idmap.Range, r *Report, pick func(specs.Mount) bool) {
	want := []specs.LinuxIDMapping{{ContainerID: 0, HostID: rng.Start, Size: rng.Size}}
	for i := range s.Mounts {
		m := &s.Mounts[i]
		if !spec.IsBind(*m) || !filepath.IsAbs(m.Source) || !pick(*m) {
			continue
		}
		path := "mounts[destination=" + m.Destination + "]"
		if !slices.Equal(m.UIDMappings, want) || !slices.Equal(m.GIDMappings, want) {
			r.record(RuleUserNamespace, path+".uidMappings", m.UIDMappings, want)
			m.UIDMappings, m.GIDMappings = slices.Clone(want), slices.Clone(want)
		}
		opts := slices.Clone(m.Options)
		for _, o := range []string{"nosuid", "nodev"} {
			if !slices.Contains(opts, o) {
				opts = append(opts, o)
			}
		}
		r.recordStrings(RuleUserNamespace, path+".options", m.Options, opts)
		m.Options = opts
	}
}
