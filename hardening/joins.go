package hardening

import (
	"fmt"
	"path/filepath"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// RefuseUnrelatedJoins is the namespace-joins rule.
//
// Threat: a container that joins another's namespaces by path shares its
// processes, network and IPC, and (see UserNamespace) its user namespace:
// the same host IDs, so it reads the other's files through /proc/1/root
// and signals its processes. A config.json that names any namespace path
// could so cross into another pod, another engine's container or a host
// process's namespace.
//
// Fields (read only): linux.namespaces[].path, annotations
// "io.kubernetes.cri.sandbox-id". A namespace path is joined only when it
// is (HostFacts.Joins):
//   - the namespace of a live container of the same runtime root (the
//     engine's own: Docker's `--network container:X`, a pod's sandbox)
//     that the engine relates to this one: both carry the same CRI
//     sandbox ID, or neither carries one (Docker's and ctr's containers
//     on one root, which only the engine's user can relate);
//   - or a namespace file bind-mounted on the host (only host root makes
//     one: CNI's /var/run/netns/cni-*, `ip netns`, Docker's sandbox
//     netns) that no process is in yet; a containerd pinned namespace
//     (.../sandboxes/<id>/pinned-namespaces/<type>) only for the sandbox
//     <id> itself. A user namespace joined so must be such a containerd
//     file: any other bind-mounted user namespace is refused.
//
// Everything else is refused: a host process's namespace, another root's
// (another engine's) container, a container of another pod. Paths that
// are the host's own namespace are the host-namespaces rule's.
//
// Relaxed by: "allowUnrelatedJoins" (namespace types: pid, network, ipc,
// uts, mount, cgroup, user, time).
func RefuseUnrelatedJoins(s *specs.Spec, pol *Policy, f HostFacts, r *Report) error {
	if s.Linux == nil {
		return nil
	}
	sandbox := s.Annotations[AnnotationSandboxID]
	for _, ns := range s.Linux.Namespaces {
		if ns.Path == "" || slices.Contains(pol.AllowUnrelatedJoins, string(ns.Type)) {
			continue
		}
		if isHostNamespacePath(filepath.Clean(ns.Path)) || f.HostNamespaces[ns.Path] {
			continue
		}
		t, known := f.Joins[ns.Path]
		if why := unrelatedJoin(ns.Type, t, known, sandbox, f.Root); why != "" {
			r.refuse(RuleNamespaceJoins, fmt.Sprintf("joins the %s namespace at %s, %s", ns.Type, ns.Path, why),
				fmt.Sprintf(`"allowUnrelatedJoins": [%q]`, ns.Type))
		}
	}
	return nil
}

// unrelatedJoin says why joining t is refused for a container of the CRI
// sandbox sandbox ("" for none), or returns "".
func unrelatedJoin(typ specs.LinuxNamespaceType, t JoinTarget, known bool, sandbox, root string) string {
	switch {
	case !known:
		return "which cannot be inspected as a namespace file"
	case t.Container != "" && t.Sandbox == sandbox:
		return ""
	case t.Container != "" && sandbox == "":
		return fmt.Sprintf("of container %s of pod sandbox %s, and this container belongs to no pod", t.Container, t.Sandbox)
	case t.Container != "" && t.Sandbox == "":
		return fmt.Sprintf("of container %s, which belongs to no pod, and this container belongs to pod sandbox %s", t.Container, sandbox)
	case t.Container != "":
		return fmt.Sprintf("of container %s of another pod (sandbox %s, this container's: %s)", t.Container, t.Sandbox, sandbox)
	case t.Pinned && t.PinnedSandbox != "" && t.PinnedSandbox != sandbox:
		return fmt.Sprintf("containerd's pinned namespace of another pod sandbox (%s)", t.PinnedSandbox)
	case t.Pinned && t.Occupant == 0 && (typ != specs.UserNamespace || t.PinnedSandbox != ""):
		return ""
	case t.Pinned && t.Occupant == 0:
		return "a bind-mounted user namespace that is not containerd's pinned namespace of this container's pod"
	case root == "":
		return "and the runtime root's containers are unknown"
	case t.Occupant > 0:
		return fmt.Sprintf("which holds process %d, not a container of this runtime root (%s)", t.Occupant, root)
	default:
		return fmt.Sprintf("which is no namespace of a container of this runtime root (%s)", root)
	}
}
