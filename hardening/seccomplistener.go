package hardening

import (
	"fmt"
	"path/filepath"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// RefuseSeccompListener is the seccomp-listener rule.
//
// Threat: linux.seccomp.listenerPath names a host UNIX socket to which the
// runtime, as host root, connects and sends the container's seccomp
// notification descriptor and its state (ID, PID, bundle, annotations).
// Whatever listens there then decides what the container's notified
// system calls return, and may act on the host for them (seccomp agents
// open files and install descriptors into the container). A config.json
// could point it at any socket on the host: another container's
// seccomp agent, a daemon's control socket. Notify actions with no
// listener fail in libcontainer, so they need no rule of their own.
//
// Fields: linux.seccomp.listenerPath (as written, cleaned); a relative or
// unlisted path is refused. The runtime's own listener (learned
// profiles) is added after the rules and is not the caller's.
//
// Relaxed by: "allowSeccompListeners" (socket paths of the host's seccomp
// agents, matched exactly).
func RefuseSeccompListener(s *specs.Spec, pol *Policy, _ HostFacts, r *Report) error {
	if s.Linux == nil || s.Linux.Seccomp == nil || s.Linux.Seccomp.ListenerPath == "" {
		return nil
	}
	path := s.Linux.Seccomp.ListenerPath
	if filepath.IsAbs(path) && slices.Contains(pol.AllowSeccompListeners, filepath.Clean(path)) {
		return nil
	}
	r.refuse(RuleSeccompListener, "seccomp notify listener "+path, fmt.Sprintf(`"allowSeccompListeners": [%q]`, filepath.Clean(path)))
	return nil
}
