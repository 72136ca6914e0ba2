package hardening

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

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

// isHostNamespacePath reports whether p names a namespace file that is the
// host's own: one of PID 1 or of the runtime itself (self, thread-self),
// which runs in the host's namespaces, that is
// /proc/{1,self,thread-self}[/task/<digits>]/ns/<[a-z_]+>. A scan, not a
// regular expression compiled by every rule that asks at every create
// (tests/bench/README.md, "Figures behind code comments").
func isHostNamespacePath(p string) bool {
	rest, ok := strings.CutPrefix(p, "/proc/")
	if !ok {
		return false
	}
	pid, rest, ok := strings.Cut(rest, "/")
	if !ok || (pid != "1" && pid != "self" && pid != "thread-self") {
		return false
	}
	if task, ok := strings.CutPrefix(rest, "task/"); ok {
		tid, after, ok := strings.Cut(task, "/")
		if !ok || tid == "" || strings.Trim(tid, "0123456789") != "" {
			return false
		}
		rest = after
	}
	name, ok := strings.CutPrefix(rest, "ns/")
	if !ok || name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; (c < 'a' || c > 'z') && c != '_' {
			return false
		}
	}
	return true
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
	for _, ns := range nss {
		if ns.Path == "" || allowed(ns.Type) {
			continue
		}
		if isHostNamespacePath(filepath.Clean(ns.Path)) || f.HostNamespaces[ns.Path] {
			r.refuse(RuleHostNamespaces, fmt.Sprintf("joins the host %s namespace at %s", ns.Type, ns.Path), allow(ns.Type))
		}
	}
	return nil
}
