package hardening

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/idmap"
)

// PodNetworkPlan is what the runtime does from the host side for a
// container that has a user namespace but joins, by path, a network
// namespace owned by the host's user namespace: a Kubernetes pod's
// network namespace, which containerd and CNI make before the sandbox.
// The container's user namespace does not own that network namespace, so
// from inside it can neither mount sysfs (EPERM) nor write net.*
// sysctls. Both are done by the runtime as host root, in that very
// network namespace, after every refusal rule ran (PlanPodNetwork takes
// the spec as Checked.Apply left it).
type PodNetworkPlan struct {
	// Netns is the network namespace path (linux.namespaces[type=network]).
	Netns string
	// Sysfs is the index in mounts of the sysfs mount to replace with a
	// read-only bind of a sysfs mounted in Netns from the host side (it
	// shows the pod's interfaces, never the host's); -1 for none.
	Sysfs int
	// Sysctls are the net.* sysctls to write into Netns from the host
	// side and to leave out of what the container's init writes: name as
	// linux.sysctl spells it, and the value as the host writes it
	// (ping_group_range translated to host group IDs).
	Sysctls map[string]string
}

// PlanPodNetwork returns the plan for a spec after Checked.Apply, and
// false when there is nothing to do: no user namespace, no network
// namespace path, or one owned by anything but the host's user
// namespace, or the host's own network namespace (which the
// host-namespaces rule refused, or the policy allowed as it is).
// Only net.* sysctls are taken: the sysctls rule allowed them for a
// network namespace of the container's own, and the network namespace's
// /proc/sys/net shows only its own.
func PlanPodNetwork(s *specs.Spec, f HostFacts) (PodNetworkPlan, bool) {
	plan := PodNetworkPlan{Sysfs: -1}
	if s.Linux == nil {
		return plan, false
	}
	var userns *specs.LinuxNamespace
	for i, ns := range s.Linux.Namespaces {
		switch ns.Type {
		case specs.UserNamespace:
			userns = &s.Linux.Namespaces[i]
		case specs.NetworkNamespace:
			plan.Netns = ns.Path
		}
	}
	if userns == nil || plan.Netns == "" {
		return plan, false
	}
	if info, ok := f.Usernses[plan.Netns]; !ok || !info.Host {
		return plan, false
	}
	if f.HostNamespaces[plan.Netns] || isHostNamespacePath(plan.Netns) {
		return plan, false
	}
	for i, m := range s.Mounts {
		if m.Type == "sysfs" && m.Destination == "/sys" {
			plan.Sysfs = i
		}
	}
	gids := containerGIDMap(s, userns.Path, f)
	for k, v := range s.Linux.Sysctl {
		name := strings.ReplaceAll(k, "/", ".")
		if !strings.HasPrefix(name, "net.") {
			continue
		}
		if plan.Sysctls == nil {
			plan.Sysctls = map[string]string{}
		}
		if name == "net.ipv4.ping_group_range" {
			v = hostPingGroupRange(v, gids)
		}
		plan.Sysctls[k] = v
	}
	return plan, plan.Sysfs >= 0 || len(plan.Sysctls) > 0
}

// containerGIDMap returns the group mapping of the container's user
// namespace: linux.gidMappings for a new one, else the mappings read of
// the joined namespace at path.
func containerGIDMap(s *specs.Spec, path string, f HostFacts) []idmap.Mapping {
	if path == "" {
		out := make([]idmap.Mapping, 0, len(s.Linux.GIDMappings))
		for _, m := range s.Linux.GIDMappings {
			out = append(out, idmap.Mapping{ContainerID: m.ContainerID, Host: idmap.Range{Start: m.HostID, Size: m.Size}})
		}
		return out
	}
	for p, info := range f.Usernses {
		if p == path || info.Path == path {
			return info.GIDMap
		}
	}
	return nil
}

// hostPingGroupRange translates net.ipv4.ping_group_range ("lo hi" in
// the container's group IDs) into host group IDs, as the kernel reads the
// value in the writer's user namespace: lo through the mapping that
// holds it, hi clamped to the end of that mapping. A range whose start
// is not mapped becomes "1 0", nobody may ping.
func hostPingGroupRange(v string, gids []idmap.Mapping) string {
	const nobody = "1 0"
	f := strings.Fields(v)
	if len(f) != 2 {
		return nobody
	}
	lo, err1 := strconv.ParseUint(f[0], 10, 32)
	hi, err2 := strconv.ParseUint(f[1], 10, 32)
	if err1 != nil || err2 != nil || lo > hi {
		return nobody
	}
	i := slices.IndexFunc(gids, func(m idmap.Mapping) bool {
		return uint64(m.ContainerID) <= lo && lo < uint64(m.ContainerID)+uint64(m.Host.Size)
	})
	if i < 0 {
		return nobody
	}
	m := gids[i]
	hi = min(hi, uint64(m.ContainerID)+uint64(m.Host.Size)-1)
	off := uint64(m.Host.Start) - uint64(m.ContainerID)
	return fmt.Sprintf("%d %d", lo+off, hi+off)
}
