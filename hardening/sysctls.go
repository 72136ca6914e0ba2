package hardening

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ipcSysctls returns the IPC-namespaced sysctls (names, or prefixes
// ending in "."), safe when the container has its own IPC namespace.
func ipcSysctls() []string {
	return []string{
		"kernel.shmmax", "kernel.shmall", "kernel.shmmni", "kernel.shm_rmid_forced",
		"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
		"fs.mqueue.",
	}
}

// RefuseSysctls is the sysctls rule.
//
// Threat: most sysctls are global: kernel.*, vm.* and fs.* (but mqueue)
// set by a container change the whole host (e.g. kernel.core_pattern runs
// a host binary as root, vm.overcommit_memory, kernel.modprobe).
//
// Fields (read only): linux.sysctl. Allowed: the IPC-namespaced set
// (kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*) when the container
// has its own IPC namespace, and net.* when it has its own network
// namespace (Kubernetes' safe set and Docker's ping_group_range and
// ip_unprivileged_port_start fall in these). Names may use "/" for ".".
//
// Relaxed by: "allowSysctls" (a name, or a prefix ending in ".*").
func RefuseSysctls(s *specs.Spec, pol *Policy, _ HostFacts, r *Report) error {
	if s.Linux == nil || len(s.Linux.Sysctl) == 0 {
		return nil
	}
	names := make([]string, 0, len(s.Linux.Sysctl))
	for k := range s.Linux.Sysctl {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		name := strings.ReplaceAll(k, "/", ".")
		if sysctlAllowed(name, pol.AllowSysctls) {
			continue
		}
		var why string
		switch {
		case matchesAny(name, ipcSysctls()):
			if ownNamespace(s, specs.IPCNamespace) {
				continue
			}
			why = " in the host ipc namespace"
		case strings.HasPrefix(name, "net."):
			if ownNamespace(s, specs.NetworkNamespace) {
				continue
			}
			why = " in the host network namespace"
		}
		r.refuse(RuleSysctls, fmt.Sprintf("sysctl %s%s", k, why), fmt.Sprintf(`"allowSysctls": [%q]`, name))
	}
	return nil
}

func sysctlAllowed(name string, allow []string) bool {
	for _, a := range allow {
		if prefix, ok := strings.CutSuffix(a, "*"); ok {
			if strings.HasPrefix(name, prefix) {
				return true
			}
		} else if a == name {
			return true
		}
	}
	return false
}

func matchesAny(name string, set []string) bool {
	for _, s := range set {
		if name == s || (strings.HasSuffix(s, ".") && strings.HasPrefix(name, s)) {
			return true
		}
	}
	return false
}

// ownNamespace reports whether s has its own (new, or joined but not the
// host's) namespace of type t.
func ownNamespace(s *specs.Spec, t specs.LinuxNamespaceType) bool {
	if s.Linux == nil {
		return false
	}
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == t {
			return ns.Path == "" || !isHostNamespacePath(filepath.Clean(ns.Path))
		}
	}
	return false
}
