package hardening

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// SetNoNewPrivileges is the no-new-privileges rule, shared by create and
// exec.
//
// Threat: setuid/setgid binaries and file capabilities inside the image
// raise privileges on execve (the classic path from an app user back to
// root, or to capabilities the clamp removed from the bounding set only).
//
// Fields: process.noNewPrivileges becomes true.
//
// Relaxed by: "allowNewPrivileges": true leaves the caller's value (for
// images that need sudo or ping as a setuid binary).
func SetNoNewPrivileges(p *specs.Process, pol *Policy, _ HostFacts, r *Report) error {
	if pol.AllowNewPrivileges || p.NoNewPrivileges {
		return nil
	}
	r.record(RuleNoNewPrivileges, "process.noNewPrivileges", false, true)
	p.NoNewPrivileges = true
	return nil
}
