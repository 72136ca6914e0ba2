package hardening

import (
	"fmt"
	"path/filepath"
	"regexp"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// hostNamespaceTypes are the namespaces whose absence from
// linux.namespaces means sharing the host's, and that allowHostNamespaces
// may name.
func hostNamespaceTypes() []specs.LinuxNamespaceType {
	return []specs.LinuxNamespaceType{
		specs.PIDNamespace, specs.NetworkNamespace, specs.IPCNamespace,
		specs.UTSNamespace, specs.CgroupNamespace, specs.MountNamespace,
	}
}

// refusedMissingNamespaces are the namespaces whose absence is refused.
// The cgroup namespace is not among them: `runc spec` and Docker on
// cgroup v1 leave it out, so the cgroup-namespace transform adds it
// instead of refusing.
func refusedMissingNamespaces() []specs.LinuxNamespaceType {
	return []specs.LinuxNamespaceType{
		specs.PIDNamespace, specs.NetworkNamespace, specs.IPCNamespace,
		specs.UTSNamespace, specs.MountNamespace,
	}
}

// hostNamespacePath matches namespace files that are the host's own: those
// of PID 1 and of the runtime itself (self, thread-self), which runs in the
// host's namespaces.
func hostNamespacePath() *regexp.Regexp {
	return regexp.MustCompile(`^/proc/(1|self|thread-self)(/task/[0-9]+)?/ns/[a-z_]+$`)
}

// RefuseHostNamespaces is the host-namespaces rule.
//
// Threat: a container in the host's PID namespace sees and signals (and
// with ptrace, enters) host processes; in the network namespace it reaches
// host-only services and can sniff or spoof; IPC, UTS, cgroup and mount
// namespaces likewise expose or let it change host state.
//
// Fields (read only): linux.namespaces. A pid, network, ipc, uts or mount
// namespace missing from the list is the host's and is refused (a missing
// cgroup namespace is added by CgroupNamespace instead). A
// namespace entry with a path joins an existing namespace: paths of PID 1
// or of the runtime itself (/proc/1/ns/*, /proc/self/ns/*,
// /proc/thread-self/ns/*, after cleaning) are the host's and are refused,
// for the user namespace too, and so is any other path the host facts show
// to be the host's namespace (/proc/<host pid>/ns/*, a symlink to one).
// Joins of other namespaces (another container's, a pod sandbox's,
// /run/netns/*) are not this rule's: see RefuseUnrelatedJoins. A missing
// user namespace is not refused here; see UserNamespace.
//
// Relaxed by: "allowHostNamespaces" (pid, network, ipc, uts, cgroup,
// mount, and user for a join of the host's user namespace).
func RefuseHostNamespaces(s *specs.Spec, pol *Policy, f HostFacts, r *Report) error {
	var nss []specs.LinuxNamespace
	if s.Linux != nil {
		nss = s.Linux.Namespaces
	}
	allowed := func(t specs.LinuxNamespaceType) bool {
		return slices.Contains(pol.AllowHostNamespaces, string(t))
	}
	allow := func(t specs.LinuxNamespaceType) string {
		return fmt.Sprintf(`"allowHostNamespaces": [%q]`, t)
	}
	for _, t := range refusedMissingNamespaces() {
		if allowed(t) {
			continue
		}
		if !slices.ContainsFunc(nss, func(ns specs.LinuxNamespace) bool { return ns.Type == t }) {
			r.refuse(RuleHostNamespaces, fmt.Sprintf("host %s namespace", t), allow(t))
		}
	}
	hostPath := hostNamespacePath()
	for _, ns := range nss {
		if ns.Path == "" || allowed(ns.Type) {
			continue
		}
		if hostPath.MatchString(filepath.Clean(ns.Path)) || f.HostNamespaces[ns.Path] {
			r.refuse(RuleHostNamespaces, fmt.Sprintf("joins the host %s namespace at %s", ns.Type, ns.Path), allow(ns.Type))
		}
	}
	return nil
}
