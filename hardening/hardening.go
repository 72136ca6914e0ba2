// Package hardening holds the host's security policy and the transforms
// that rewrite a container's runtime-spec configuration to satisfy it.
//
// Every rule is a pure function over a *specs.Spec: facts about the host
// (the bundle directory, which state directories exist in the rootfs, where
// bind-mount sources and hook binaries really point) are gathered once by
// GatherHostFacts and passed in. Nothing here keeps package-level mutable
// state; every list is built fresh by a function.
//
// Harden runs the ordered list returned by Rules: the refusal rules first,
// so that a refused configuration is reported in full and left untouched,
// then the transforms. ClampProcess applies the same process clamp
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

// Harden rewrites spec in place to satisfy pol.
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
func Harden(spec *specs.Spec, pol *Policy, facts HostFacts) (*Report, error) {
	if pol == nil {
		pol = DefaultPolicy()
	}
	if spec == nil {
		return nil, errors.New("harden: no spec")
	}
	eff, matched := pol.ForAnnotations(spec.Annotations)
	rep := &Report{Mode: eff.Mode, Level: eff.Level, Exceptions: matched}
	if eff.Mode == ModeOff {
		return rep, nil
	}
	work := spec
	if eff.Mode == ModeAudit {
		var err error
		if work, err = copySpec(spec); err != nil {
			return rep, fmt.Errorf("harden: copy spec: %w", err)
		}
	}
	rules := Rules()
	for _, r := range rules {
		if r.Kind != KindRefusal {
			continue
		}
		r.Apply(work, eff, facts, rep)
	}
	if rep.Refused() && eff.Mode == ModeEnforce {
		return rep, rep.Err(eff.Level)
	}
	for _, r := range rules {
		if r.Kind != KindTransform {
			continue
		}
		if err := r.Apply(work, eff, facts, rep); err != nil {
			return rep, fmt.Errorf("harden: rule %s: %w", r.ID, err)
		}
	}
	return rep, nil
}

// ClampProcess applies the process-level rules (capabilities in all five
// sets, no-new-privileges, rlimits, oomScoreAdj) to a process about to be
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
	ClampCapabilities(work, pol, rep)
	SetNoNewPrivileges(work, pol, rep)
	ClampRlimits(work, facts, rep)
	ClampOOMScoreAdj(work, pol, facts, rep)
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
