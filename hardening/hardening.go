// Package hardening holds the host's security policy and the transforms
// that rewrite a container's runtime-spec configuration to satisfy it.
//
// Every rule is a pure function over a *specs.Spec: facts about the host
// (the bundle directory, which state directories exist in the rootfs, where
// bind-mount sources and hook binaries really point) are gathered once by
// GatherHostFacts and passed in. Nothing here keeps package-level mutable
// state; every list is built fresh by a function.
//
// Harden runs the ordered list returned by Rules: the refusal rules first
// (Check), so that a refused configuration is reported in full and left
// untouched, then the transforms (Apply); the runtime does its host work
// between the two. ClampProcess applies the same process clamp
// (capabilities in all five sets, no-new-privileges) to exec'd processes.
package hardening

import (
	"encoding/json"
	"errors"
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ErrRefused classifies a configuration that the policy refuses to run.
var ErrRefused = errors.New("refused by policy")

// ErrInvalidPolicy classifies a policy file that cannot be used.
var ErrInvalidPolicy = errors.New("invalid policy")

// DefaultPolicyPath is where the host's policy lives unless --policy or
// HARDENED_POLICY points elsewhere.
const DefaultPolicyPath = "/etc/hardened/policy.json"

// Harden rewrites spec in place to satisfy pol: Check, then Apply.
//
// The refusal rules run first and only read the spec: a refused
// configuration returns an error wrapping ErrRefused that names every
// refusal, with spec untouched. In enforce mode the transforms then rewrite
// spec directly (copying a whole spec costs more than the rules do, and
// container start is the hot path); should a transform fail, spec may be
// partly rewritten and the caller must not run it. In audit mode the rules
// run on a copy, spec is never modified and refusals are reported without
// an error. In off mode nothing happens. Exceptions in pol are selected by
// spec.Annotations (see Policy.ForAnnotations).
//
// The runtime calls Check and Apply itself, with its host side effects
// (ID range allocation, idmapped rootfs) in between, so that nothing
// touches the host before every refusal ran.
func Harden(spec *specs.Spec, pol *Policy, facts HostFacts) (*Report, error) {
	c, err := Check(spec, pol, facts)
	if err != nil {
		if c == nil {
			return nil, err
		}
		return c.Report, err
	}
	return c.Apply(spec, facts)
}

// Checked is a configuration that went through every refusal rule: the
// policy in effect for it and its user-namespace plan, computed once.
// Between Check and Apply the runtime carries the plan out on the host
// (allocates the ID range, stages the rootfs) and completes the facts.
type Checked struct {
	// Policy is the effective policy: the host's with the allowances of
	// the exceptions that match the spec's annotations.
	Policy *Policy
	// Userns is the user-namespace plan, made with Policy (only Refused
	// set when the plan was refused, zero with user namespaces off).
	Userns UsernsPlan
	// Report holds the refusals (only audit mode gets past one) and
	// notes so far; Apply adds the changes.
	Report *Report
}

// Check is the first half of Harden and reads only: it picks the
// effective policy for spec's annotations (once), plans the user
// namespace with it (once; a plan that cannot be made is a refusal of
// the user-namespace-join rule) and runs every refusal rule. A refused
// configuration in enforce mode returns the Checked (its Report lists
// every refusal) and an error wrapping ErrRefused; in audit mode the
// refusals are only reported. spec is never modified.
func Check(spec *specs.Spec, pol *Policy, facts HostFacts) (*Checked, error) {
	if pol == nil {
		pol = DefaultPolicy()
	}
	if spec == nil {
		return nil, errors.New("harden: no spec")
	}
	eff, matched := pol.ForAnnotations(spec.Annotations)
	c := &Checked{Policy: eff, Report: &Report{Mode: eff.Mode, Level: eff.Level, Exceptions: matched}}
	if eff.Mode == ModeOff {
		return c, nil
	}
	if RefusePrivileged(spec, eff, c.Report) {
		// Allowed privileged: the container runs as configured.
		eff.Mode = ModeOff
		c.Report.Mode = ModeOff
		return c, nil
	}
	if c.Report.Refused() {
		if eff.Mode == ModeEnforce {
			return c, c.Report.Err(eff.Level)
		}
		return c, nil
	}
	plan, err := PlanUserNamespace(spec, eff, facts)
	if err != nil {
		// The user-namespace-join rule refuses it, with the others.
		plan = UsernsPlan{Refused: err.Error()}
	}
	c.Userns = plan
	facts.UsernsPlan = &c.Userns
	for _, r := range Rules() {
		if r.Kind != KindRefusal {
			continue
		}
		if err := r.Apply(spec, eff, facts, c.Report); err != nil {
			return c, fmt.Errorf("harden: rule %s: %w", r.ID, err)
		}
	}
	if c.Report.Refused() && eff.Mode == ModeEnforce {
		return c, c.Report.Err(eff.Level)
	}
	return c, nil
}

// Recheck runs, once the runtime has allocated the container's ID range
// (facts.IDRange) and before it touches anything else, the refusals that
// compare with that range: the idmapped-mounts rule (a caller's mount
// mapping must be the container's own). It returns an error wrapping
// ErrRefused, the refusals added to the Report; nothing in audit mode or
// without a range.
func (c *Checked) Recheck(spec *specs.Spec, facts HostFacts) error {
	if c.Policy.Mode != ModeEnforce || facts.IDRange == nil {
		return nil
	}
	plan := c.Userns
	facts.UsernsPlan = &plan
	rep := &Report{Mode: c.Report.Mode, Level: c.Report.Level}
	RefuseIDMappedMounts(spec, c.Policy, facts, rep)
	if !rep.Refused() {
		return nil
	}
	c.Report.Refusals = append(c.Report.Refusals, rep.Refusals...)
	return rep.Err(c.Policy.Level)
}

// Apply is the second half of Harden: it runs the transforms with the
// effective policy and the plan of Check. facts are those given to Check,
// completed by what the runtime did on the host in between (IDRange,
// DockerRoot, UsernsUnsupported). In audit mode spec is left
// untouched (the transforms run on a copy).
func (c *Checked) Apply(spec *specs.Spec, facts HostFacts) (*Report, error) {
	rep := c.Report
	if c.Policy.Mode == ModeOff {
		return rep, nil
	}
	if rep.Refused() && c.Policy.Mode == ModeEnforce {
		return rep, rep.Err(c.Policy.Level)
	}
	work := spec
	if c.Policy.Mode == ModeAudit {
		var err error
		if work, err = copySpec(spec); err != nil {
			return rep, fmt.Errorf("harden: copy spec: %w", err)
		}
	}
	plan := c.Userns
	facts.UsernsPlan = &plan
	for _, r := range Rules() {
		if r.Kind != KindTransform {
			continue
		}
		if err := r.Apply(work, c.Policy, facts, rep); err != nil {
			return rep, fmt.Errorf("harden: rule %s: %w", r.ID, err)
		}
	}
	return rep, nil
}

// ClampProcess applies the process-level rules (capabilities in all five
// sets, no-new-privileges, rlimits, oomScoreAdj, priority) to a process about to be
// exec'd into a container. It runs the same code as those rules of Harden;
// facts need only ProcessLimits (GatherProcessLimits). The caller passes the effective policy
// of the container (Policy.ForAnnotations with the container's
// annotations) so an exception granted at create also holds for exec.
// In audit mode p is left untouched; in off mode nothing happens.
func ClampProcess(p *specs.Process, pol *Policy, facts HostFacts) (*Report, error) {
	if pol == nil {
		pol = DefaultPolicy()
	}
	if p == nil {
		return nil, errors.New("clamp process: no process")
	}
	rep := &Report{Mode: pol.Mode, Level: pol.Level}
	if pol.Mode == ModeOff {
		return rep, nil
	}
	work := p
	if pol.Mode == ModeAudit {
		var err error
		if work, err = copyProcess(p); err != nil {
			return rep, fmt.Errorf("clamp process: copy: %w", err)
		}
	}
	for _, clamp := range []ProcessFunc{ClampCapabilities, SetNoNewPrivileges, ClampRlimits, ClampOOMScoreAdj, ClampPriority} {
		if err := clamp(work, pol, facts, rep); err != nil {
			return rep, fmt.Errorf("clamp process: %w", err)
		}
	}
	return rep, nil
}

// copySpec returns a deep copy of s through its JSON form, the form the
// runtime reads it in anyway.
func copySpec(s *specs.Spec) (*specs.Spec, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	out := new(specs.Spec)
	if err := json.Unmarshal(b, out); err != nil {
		return nil, err
	}
	return out, nil
}

func copyProcess(p *specs.Process) (*specs.Process, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	out := new(specs.Process)
	if err := json.Unmarshal(b, out); err != nil {
		return nil, err
	}
	return out, nil
}
