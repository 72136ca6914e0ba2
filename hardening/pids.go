package hardening

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// LimitPids is the pids-limit rule.
//
// Threat: a fork bomb in one container exhausts the host's PIDs and stops
// every other workload (and the host's own daemons) from starting
// processes.
//
// Fields: linux.resources.pids.limit, set to the policy's pidsLimit when
// the caller sets no limit (absent, 0 or negative, which all mean
// unlimited). A caller's positive limit is kept, even above the policy's;
// the rest of linux.resources is untouched.
//
// Relaxed by: "pidsLimit" (0 disables the rule).
func LimitPids(s *specs.Spec, pol *Policy, r *Report) {
	if pol.PidsLimit <= 0 {
		return
	}
	res := ensureResources(s)
	if res.Pids != nil && res.Pids.Limit != nil && *res.Pids.Limit > 0 {
		return
	}
	var before *int64
	if res.Pids != nil {
		before = res.Pids.Limit
	}
	limit := pol.PidsLimit
	r.record(RulePidsLimit, "linux.resources.pids.limit", before, limit)
	res.Pids = &specs.LinuxPids{Limit: &limit}
}
