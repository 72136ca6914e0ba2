package hardening

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Kind says whether a rule refuses or rewrites.
type Kind int

const (
	// KindRefusal rules only read the spec and record refusals.
	KindRefusal Kind = iota + 1
	// KindTransform rules rewrite the spec and record changes.
	KindTransform
)

// Rule is one named step of hardening.
type Rule struct {
	// ID names the rule in reports and errors, e.g. "host-namespaces".
	ID string
	// Kind is KindRefusal or KindTransform.
	Kind Kind
	// Apply runs the rule. Refusal rules never modify s.
	Apply func(s *specs.Spec, pol *Policy, facts HostFacts, r *Report) error
}

// Rule IDs.
const (
	RuleHostRootfs      = "host-rootfs"
	RuleHostNamespaces  = "host-namespaces"
	RuleHostMounts      = "host-mounts"
	RuleHostDevices     = "host-devices"
	RuleSysctls         = "sysctls"
	RuleHooks           = "hooks"
	RuleIDMappedMounts  = "idmapped-mounts"
	RuleHookPaths       = "hook-paths"
	RuleIDMappedOptions = "idmapped-mount-options"
	RuleUserNamespace   = "user-namespace"
	RuleCgroupNamespace = "cgroup-namespace"
	RuleCapabilities    = "capabilities"
	RuleNoNewPrivileges = "no-new-privileges"
	RuleSeccomp         = "seccomp"
	RuleReadonlyRootfs  = "readonly-rootfs"
	RuleWritablePaths   = "writable-paths"
	RuleMaskedPaths     = "masked-paths"
	RuleReadonlyPaths   = "readonly-paths"
	RulePidsLimit       = "pids-limit"
	RuleDeviceNodes     = "device-nodes"
	RuleRlimits         = "rlimits"
	RuleOOMScoreAdj     = "oom-score-adj"
	RuleNamespaceJoins  = "namespace-joins"
	RuleSharedCgroup    = "shared-cgroup"
)

// Rules returns the ordered rule list, fresh on each call. The order:
//
//   - Refusals first. They only read, so a refused configuration is
//     reported in full (every refusal at once) and nothing is rewritten;
//     the runtime touches the host only after them (see Check). The
//     rootfs first of all: host-mounts trusts sources inside it only
//     when host-rootfs finds it no host directory.
//   - hook-paths first of the transforms: it pins what the hooks rule
//     checked.
//   - The user-namespace hook before anything touching mounts or
//     capabilities: a user namespace changes what both mean; the
//     cgroup namespace next to it. idmapped-mount-options right after
//     it, so that the mounts it idmaps are covered too.
//   - Capabilities before seccomp: Docker's default profile enables
//     syscalls by the capabilities in process.capabilities.bounding, so
//     it must be evaluated against the clamped set.
//   - readonly-rootfs before writable-paths, which only adds its mounts on
//     a read-only rootfs.
//   - Masked/readonly paths, the pids limit, rlimits and oomScoreAdj are
//     independent of the rest.
func Rules() []Rule {
	return []Rule{
		{ID: RuleHostRootfs, Kind: KindRefusal, Apply: func(s *specs.Spec, p *Policy, f HostFacts, r *Report) error {
			RefuseHostRootfs(s, p, f, r)
			return nil
		}},
		{ID: RuleHostNamespaces, Kind: KindRefusal, Apply: func(s *specs.Spec, p *Policy, f HostFacts, r *Report) error {
			RefuseHostNamespaces(s, p, f, r)
			return nil
		}},
		{ID: RuleNamespaceJoins, Kind: KindRefusal, Apply: func(s *specs.Spec, p *Policy, f HostFacts, r *Report) error {
			RefuseUnrelatedJoins(s, p, f, r)
			return nil
		}},
		{ID: RuleSharedCgroup, Kind: KindRefusal, Apply: func(s *specs.Spec, p *Policy, f HostFacts, r *Report) error {
			RefuseSharedCgroup(s, p, f, r)
			return nil
		}},
		{ID: RuleHostMounts, Kind: KindRefusal, Apply: func(s *specs.Spec, p *Policy, f HostFacts, r *Report) error {
			RefuseHostMounts(s, p, f, r)
			return nil
		}},
		{ID: RuleHostDevices, Kind: KindRefusal, Apply: func(s *specs.Spec, p *Policy, _ HostFacts, r *Report) error {
			RefuseHostDevices(s, p, r)
			return nil
		}},
		{ID: RuleDeviceNodes, Kind: KindRefusal, Apply: func(s *specs.Spec, _ *Policy, f HostFacts, r *Report) error {
			RefuseDeviceNodePaths(s, f, r)
			return nil
		}},
		{ID: RuleSysctls, Kind: KindRefusal, Apply: func(s *specs.Spec, p *Policy, _ HostFacts, r *Report) error {
			RefuseSysctls(s, p, r)
			return nil
		}},
		{ID: RuleHooks, Kind: KindRefusal, Apply: func(s *specs.Spec, p *Policy, f HostFacts, r *Report) error {
			RefuseHooks(s, p, f, r)
			return nil
		}},
		{ID: RuleIDMappedMounts, Kind: KindRefusal, Apply: func(s *specs.Spec, p *Policy, f HostFacts, r *Report) error {
			RefuseIDMappedMounts(s, p, f, r)
			return nil
		}},
		{ID: RuleHookPaths, Kind: KindTransform, Apply: func(s *specs.Spec, _ *Policy, f HostFacts, r *Report) error {
			PinHooks(s, f, r)
			return nil
		}},
		{ID: RuleUserNamespace, Kind: KindTransform, Apply: func(s *specs.Spec, p *Policy, f HostFacts, r *Report) error {
			return UserNamespace(s, p, f, r)
		}},
		{ID: RuleIDMappedOptions, Kind: KindTransform, Apply: func(s *specs.Spec, _ *Policy, _ HostFacts, r *Report) error {
			IDMappedMountOptions(s, r)
			return nil
		}},
		{ID: RuleCgroupNamespace, Kind: KindTransform, Apply: func(s *specs.Spec, p *Policy, _ HostFacts, r *Report) error {
			CgroupNamespace(s, p, r)
			return nil
		}},
		{ID: RuleCapabilities, Kind: KindTransform, Apply: func(s *specs.Spec, p *Policy, _ HostFacts, r *Report) error {
			ClampCapabilities(ensureProcess(s), p, r)
			return nil
		}},
		{ID: RuleNoNewPrivileges, Kind: KindTransform, Apply: func(s *specs.Spec, p *Policy, _ HostFacts, r *Report) error {
			SetNoNewPrivileges(ensureProcess(s), p, r)
			return nil
		}},
		{ID: RuleSeccomp, Kind: KindTransform, Apply: func(s *specs.Spec, p *Policy, _ HostFacts, r *Report) error {
			return EnforceSeccomp(s, p, r)
		}},
		{ID: RuleReadonlyRootfs, Kind: KindTransform, Apply: func(s *specs.Spec, p *Policy, _ HostFacts, r *Report) error {
			ReadonlyRootfs(s, p, r)
			return nil
		}},
		{ID: RuleWritablePaths, Kind: KindTransform, Apply: func(s *specs.Spec, p *Policy, f HostFacts, r *Report) error {
			WritablePaths(s, p, f, r)
			return nil
		}},
		{ID: RuleMaskedPaths, Kind: KindTransform, Apply: func(s *specs.Spec, _ *Policy, _ HostFacts, r *Report) error {
			MaskPaths(s, r)
			return nil
		}},
		{ID: RuleReadonlyPaths, Kind: KindTransform, Apply: func(s *specs.Spec, _ *Policy, _ HostFacts, r *Report) error {
			ReadonlyPaths(s, r)
			return nil
		}},
		{ID: RulePidsLimit, Kind: KindTransform, Apply: func(s *specs.Spec, p *Policy, _ HostFacts, r *Report) error {
			LimitPids(s, p, r)
			return nil
		}},
		{ID: RuleRlimits, Kind: KindTransform, Apply: func(s *specs.Spec, _ *Policy, f HostFacts, r *Report) error {
			ClampRlimits(s.Process, f, r)
			return nil
		}},
		{ID: RuleOOMScoreAdj, Kind: KindTransform, Apply: func(s *specs.Spec, p *Policy, f HostFacts, r *Report) error {
			ClampOOMScoreAdj(s.Process, p, f, r)
			return nil
		}},
	}
}

// ensureProcess returns s.Process, creating it when missing.
func ensureProcess(s *specs.Spec) *specs.Process {
	if s.Process == nil {
		s.Process = &specs.Process{}
	}
	return s.Process
}

// ensureLinux returns s.Linux, creating it when missing.
func ensureLinux(s *specs.Spec) *specs.Linux {
	if s.Linux == nil {
		s.Linux = &specs.Linux{}
	}
	return s.Linux
}

// ensureCapabilities returns p.Capabilities, creating it (all sets empty)
// when missing. runc leaves a process without a capabilities section with
// every capability of its parent, so a missing section must become an
// empty one, never stay missing.
func ensureCapabilities(p *specs.Process) *specs.LinuxCapabilities {
	if p.Capabilities == nil {
		p.Capabilities = &specs.LinuxCapabilities{}
	}
	return p.Capabilities
}

// ensureResources returns s.Linux.Resources, creating what is missing.
func ensureResources(s *specs.Spec) *specs.LinuxResources {
	l := ensureLinux(s)
	if l.Resources == nil {
		l.Resources = &specs.LinuxResources{}
	}
	return l.Resources
}
