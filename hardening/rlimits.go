package hardening

import (
	"fmt"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ClampRlimits is the rlimits rule.
//
// Threat: none to the host; the kernel refuses a hard limit above the
// runtime's own (the runtime sets them with prlimit(2), and raising a
// hard limit needs CAP_SYS_RESOURCE, which these hosts' bounding set
// lacks and which no process in a user namespace holds over the host).
// Left alone, such a configuration fails late inside libcontainer
// ("error setting rlimits for ready process: operation not permitted").
//
// Fields: process.rlimits[].hard, lowered to the runtime's own hard limit
// of that type (HostFacts.ProcessLimits.RlimitHard), and .soft, lowered
// to the new hard limit; each change is in the report. Types the runtime
// does not know are left for the runtime to refuse.
//
// Relaxed by: no policy key: the ceiling is the kernel's. Raise the
// engine's own limits (e.g. LimitNOFILE in its service unit) instead.
func ClampRlimits(p *specs.Process, _ *Policy, facts HostFacts, r *Report) error {
	ceilings := facts.ProcessLimits.RlimitHard
	if p == nil || ceilings == nil {
		return nil
	}
	for i := range p.Rlimits {
		rl := &p.Rlimits[i]
		ceiling, ok := ceilings[strings.ToUpper(rl.Type)]
		if !ok || rl.Hard <= ceiling {
			continue
		}
		path := fmt.Sprintf("process.rlimits[%d]", i)
		r.record(RuleRlimits, path+".hard", rl.Hard, ceiling)
		rl.Hard = ceiling
		if rl.Soft > ceiling {
			r.record(RuleRlimits, path+".soft", rl.Soft, ceiling)
			rl.Soft = ceiling
		}
	}
	return nil
}
