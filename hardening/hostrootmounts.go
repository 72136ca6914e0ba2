package hardening

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// hostRootSensitivePaths returns the host paths a bind mount may not
// expose when container root is host root (no user namespace of its
// own, see containerRootIsHostRoot), on top of sensitiveHostPaths. Such a
// bind gives host root's access to its source, not an unprivileged
// user's: the sockets under /run of daemons that trust a peer of uid 0
// (D-Bus's system bus, systemd's private socket: a unit started as root),
// and, read-write, the directories the host runs programs and libraries
// from (/opt among them), cron's spool and the package databases.
func hostRootSensitivePaths() []sensitivePath {
	return []sensitivePath{
		{path: "/run", under: true},
		{path: "/usr", under: true, rwOnly: true},
		{path: "/bin", under: true, rwOnly: true},
		{path: "/sbin", under: true, rwOnly: true},
		{path: "/lib", under: true, rwOnly: true},
		{path: "/lib32", under: true, rwOnly: true},
		{path: "/lib64", under: true, rwOnly: true},
		{path: "/libx32", under: true, rwOnly: true},
		{path: "/var/spool", under: true, rwOnly: true},
		// /opt holds programs root runs (/opt/cni/bin: the CNI plugins
		// the engines run for every pod); the package databases hold the
		// scripts the package manager runs.
		{path: "/opt", under: true, rwOnly: true},
		{path: "/var/lib/dpkg", under: true, rwOnly: true},
		{path: "/var/lib/rpm", under: true, rwOnly: true},
	}
}

// containerRootIsHostRoot reports whether the container's uid 0 will be
// host uid 0: the policy gives it no user namespace (turned off, or the
// host cannot) and config.json asks for none, or asks for a new one that
// maps host ID 0.
func containerRootIsHostRoot(s *specs.Spec, pol *Policy, f HostFacts) bool {
	if s.Linux != nil {
		for _, ns := range s.Linux.Namespaces {
			if ns.Type != specs.UserNamespace {
				continue
			}
			if ns.Path != "" {
				return false
			}
			for _, m := range s.Linux.UIDMappings {
				if m.HostID == 0 && m.Size > 0 {
					return !pol.UserNamespace.Enabled || f.UsernsUnsupported != ""
				}
			}
			return false
		}
	}
	return !pol.UserNamespace.Enabled || f.UsernsUnsupported != ""
}
