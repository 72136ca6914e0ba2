package hardening

import (
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ClampPriority is the process-priority rule, shared by create and exec.
//
// Threat: libcontainer sets process.scheduler and process.ioPriority
// while the container's process still holds the runtime's privileges.
// With no user namespace of its own (container root is host root) a
// config.json so got a nice of -20 or the real-time I/O class, which
// its own capabilities would not allow (CAP_SYS_NICE), and could starve
// the host's daemons of CPU or disk; a real-time CPU policy likewise
// where the kernel has no real-time group scheduling to refuse it. In a
// user namespace the kernel refuses them and the container fails to
// start.
//
// Fields: process.scheduler.nice below 0 becomes 0; a real-time or
// deadline process.scheduler.policy (SCHED_FIFO, SCHED_RR,
// SCHED_DEADLINE) becomes SCHED_OTHER, its priority, runtime, deadline
// and period cleared; process.ioPriority class IOPRIO_CLASS_RT becomes
// IOPRIO_CLASS_BE at the same level. Every change is in the report.
//
// Relaxed by: "allowCapabilities": ["SYS_NICE"], when the process keeps
// CAP_SYS_NICE (it could then raise its priority itself).
func ClampPriority(p *specs.Process, _ *Policy, _ HostFacts, r *Report) error {
	if p == nil || (p.Capabilities != nil && slices.Contains(p.Capabilities.Effective, "CAP_SYS_NICE")) {
		return nil
	}
	if sc := p.Scheduler; sc != nil {
		if sc.Nice < 0 {
			r.record(RuleProcessPriority, "process.scheduler.nice", sc.Nice, 0)
			sc.Nice = 0
		}
		switch sc.Policy {
		case specs.SchedFIFO, specs.SchedRR, specs.SchedDeadline:
			r.record(RuleProcessPriority, "process.scheduler.policy", sc.Policy, specs.SchedOther)
			sc.Policy = specs.SchedOther
			sc.Priority, sc.Runtime, sc.Deadline, sc.Period = 0, 0, 0, 0
		}
	}
	if io := p.IOPriority; io != nil && io.Class == specs.IOPRIO_CLASS_RT {
		r.record(RuleProcessPriority, "process.ioPriority.class", io.Class, specs.IOPRIO_CLASS_BE)
		io.Class = specs.IOPRIO_CLASS_BE
	}
	return nil
}
