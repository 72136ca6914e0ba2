package hardening

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// DefaultReadonlyPaths returns runc's and Docker's read-only paths, fresh
// on each call.
func DefaultReadonlyPaths() []string {
	return []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
}

// ReadonlyPaths is the readonly-paths rule.
//
// Threat: writable /proc/sys and /proc/sysrq-trigger change host-wide
// kernel settings or reboot/crash the host; /proc/bus, /proc/fs and
// /proc/irq reach hardware and filesystem settings.
//
// Fields: linux.readonlyPaths gains every path of DefaultReadonlyPaths it
// lacks; the caller's entries are kept.
//
// Relaxed by: nothing.
func ReadonlyPaths(s *specs.Spec, _ *Policy, _ HostFacts, r *Report) error {
	l := ensureLinux(s)
	out := unionPaths(l.ReadonlyPaths, DefaultReadonlyPaths())
	r.recordStrings(RuleReadonlyPaths, "linux.readonlyPaths", l.ReadonlyPaths, out)
	l.ReadonlyPaths = out
	return nil
}
