// Package hardening holds the host's security policy and the transforms
// that rewrite a container's runtime-spec configuration to satisfy it.
// Every transform is a pure function over a *specs.Spec; facts about the
// host are gathered once by the caller and passed in.
package hardening

import (
	"errors"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ErrRefused classifies a configuration that the policy refuses to run.
var ErrRefused = errors.New("refused by policy")

// ErrInvalidPolicy classifies a policy file that cannot be used.
var ErrInvalidPolicy = errors.New("invalid policy")

// DefaultPolicyPath is where the host's policy lives unless --policy or
// HARDENED_POLICY points elsewhere.
const DefaultPolicyPath = "/etc/hardened/policy.json"

// Policy is the host's hardening policy.
type Policy struct {
	// Mode is enforce, audit or off.
	Mode string `json:"mode,omitempty"`
}

// HostFacts are facts about the host gathered once per command.
type HostFacts struct{}

// Report lists what hardening changed and what it refused.
type Report struct{}

// LoadPolicy reads the policy at path. A missing file at the default path
// yields the built-in default policy.
func LoadPolicy(path string) (*Policy, error) { return &Policy{Mode: "enforce"}, nil }

// Harden rewrites spec in place to satisfy pol. A refused configuration
// returns an error wrapping ErrRefused that names every refusal.
func Harden(spec *specs.Spec, pol *Policy, facts HostFacts) (*Report, error) { return &Report{}, nil }

// ClampProcess applies the process-level rules (capabilities,
// no-new-privileges) to a process about to be exec'd into a container.
func ClampProcess(p *specs.Process, pol *Policy) (*Report, error) { return &Report{}, nil }
