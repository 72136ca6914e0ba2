package hardening

import (
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// CgroupNamespace is the cgroup-namespace rule.
//
// Threat: in the host's cgroup namespace a container sees the host's
// cgroup hierarchy paths (/proc/self/cgroup, mountinfo), which tells it
// where it sits and what else runs; combined with a writable cgroup mount
// it could move itself. `runc spec` and Docker on cgroup v1 do not ask for
// a cgroup namespace, so refusing would break ordinary containers: it is
// added instead.
//
// Fields: linux.namespaces gains {"type": "cgroup"} when no cgroup
// namespace is listed.
//
// Relaxed by: "allowHostNamespaces": ["cgroup"].
func CgroupNamespace(s *specs.Spec, pol *Policy, _ HostFacts, r *Report) error {
	if slices.Contains(pol.AllowHostNamespaces, string(specs.CgroupNamespace)) {
		return nil
	}
	l := ensureLinux(s)
	if slices.ContainsFunc(l.Namespaces, func(ns specs.LinuxNamespace) bool { return ns.Type == specs.CgroupNamespace }) {
		return nil
	}
	ns := specs.LinuxNamespace{Type: specs.CgroupNamespace}
	r.record(RuleCgroupNamespace, "linux.namespaces[type=cgroup]", nil, ns)
	l.Namespaces = append(l.Namespaces, ns)
	return nil
}
