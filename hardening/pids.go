package hardening

import (
	"fmt"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// LimitPids is the pids-limit rule.
//
// Threat: a fork bomb in one container exhausts the host's PIDs and stops
// every other workload (and the host's own daemons) from starting
// processes.
//
// Fields: linux.resources.pids.limit, a ceiling: a caller's lower limit
// is kept; none, "unlimited" (0 or negative) or one above the policy's
// becomes the policy's pidsLimit. linux.resources.unified["pids.max"]
// (cgroup v2's own file, which would override the limit) is clamped the
// same way. The rest of linux.resources is untouched. `update` applies
// the same ceiling (ClampUpdate).
//
// Relaxed by: "pidsLimit" (a higher ceiling; 0 disables the rule).
func LimitPids(s *specs.Spec, pol *Policy, _ HostFacts, r *Report) error {
	if pol.PidsLimit <= 0 {
		return nil
	}
	clampPids(ensureResources(s), pol, r, true)
	return nil
}

// clampPids applies the ceiling to res. With ensure (create), a missing
// limit is set; without (update), a missing limit is left alone, since
// update only changes what it is given.
func clampPids(res *specs.LinuxResources, pol *Policy, r *Report, ensure bool) {
	ceiling := pol.PidsLimit
	var before *int64
	if res.Pids != nil {
		before = res.Pids.Limit
	}
	if (before != nil || ensure) && (before == nil || *before <= 0 || *before > ceiling) {
		r.record(RulePidsLimit, "linux.resources.pids.limit", before, ceiling)
		if res.Pids == nil {
			res.Pids = &specs.LinuxPids{}
		}
		res.Pids.Limit = &ceiling
	}
	if v, ok := res.Unified["pids.max"]; ok {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || n <= 0 || n > ceiling {
			after := strconv.FormatInt(ceiling, 10)
			r.record(RulePidsLimit, `linux.resources.unified["pids.max"]`, v, after)
			res.Unified["pids.max"] = after
		}
	}
}

// ClampUpdate applies the policy to the resources of an `update`: the
// same ceiling on the pids limit as at create (pids-limit), the same
// check of device cgroup rules (host-devices; update does not apply them,
// but a refused rule is refused all the same), and of the unified cgroup
// files written (cgroup-files). pol is the container's
// effective policy (Policy.ForAnnotations with its annotations). In
// enforce mode res is rewritten and a refusal returns an error wrapping
// ErrRefused; in audit mode res is left as is; in off mode nothing
// happens.
func ClampUpdate(res *specs.LinuxResources, pol *Policy) (*Report, error) {
	if pol == nil {
		pol = DefaultPolicy()
	}
	if res == nil {
		return nil, fmt.Errorf("clamp update: no resources")
	}
	rep := &Report{Mode: pol.Mode, Level: pol.Level}
	if pol.Mode == ModeOff {
		return rep, nil
	}
	RefuseHostDevices(&specs.Spec{Linux: &specs.Linux{Resources: res}}, pol, HostFacts{}, rep)
	refuseCgroupFiles(res.Unified, rep)
	if rep.Refused() && pol.Mode == ModeEnforce {
		return rep, rep.Err(pol.Level)
	}
	work := res
	if pol.Mode == ModeAudit {
		s, err := copySpec(&specs.Spec{Linux: &specs.Linux{Resources: res}})
		if err != nil {
			return rep, fmt.Errorf("clamp update: copy: %w", err)
		}
		work = s.Linux.Resources
	}
	if pol.PidsLimit > 0 {
		clampPids(work, pol, rep, false)
	}
	return rep, nil
}
