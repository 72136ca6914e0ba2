package hardening

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ClampOOMScoreAdj is the oom-score-adj rule.
//
// Threat: a container whose processes the OOM killer spares
// (oomScoreAdj -1000) makes the kernel kill host daemons and other
// containers instead when memory runs out. Below the runtime's own value
// the kernel refuses it anyway without CAP_SYS_RESOURCE (these hosts lack
// it), and the container then fails inside libcontainer.
//
// Fields: process.oomScoreAdj, raised to the policy's minOomScoreAdj
// (default 0) and to the lowest value the runtime can set
// (HostFacts.ProcessLimits.OOMScoreAdjFloor); the change is in the
// report. Absent stays absent
// (the container inherits the runtime's value).
//
// Relaxed by: "minOomScoreAdj" (down to -1000; Kubernetes gives
// Guaranteed pods -997); the kernel's floor still holds.
func ClampOOMScoreAdj(p *specs.Process, pol *Policy, facts HostFacts, r *Report) error {
	if p == nil || p.OOMScoreAdj == nil {
		return nil
	}
	floor := pol.MinOOMScoreAdj
	if f := facts.ProcessLimits.OOMScoreAdjFloor; f != nil && *f > floor {
		floor = *f
	}
	if *p.OOMScoreAdj >= floor {
		return nil
	}
	r.record(RuleOOMScoreAdj, "process.oomScoreAdj", *p.OOMScoreAdj, floor)
	p.OOMScoreAdj = &floor
	return nil
}
