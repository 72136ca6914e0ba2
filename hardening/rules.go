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
	// AllowKey names the policy key that relaxes the rule ("" when no key
	// does); the refusals' messages give the exact value to set.
	AllowKey string
	// Apply runs the rule. Refusal rules never modify s.
	Apply Func
}

// Func is the signature of every rule: a pure function of the spec, the
// effective policy and the host facts that records its refusals, changes
// and notes in r. Refusal rules only read s; transforms rewrite it in
// place. An error means the rule could not run (not a refusal).
type Func func(s *specs.Spec, pol *Policy, f HostFacts, r *Report) error

// ProcessFunc is the signature of the rules over one process, which run
// both on a container's process (through onProcess) and on exec'd
// processes (ClampProcess).
type ProcessFunc func(p *specs.Process, pol *Policy, f HostFacts, r *Report) error

// Rule IDs.
const (
	RuleHostRootfs         = "host-rootfs"
	RuleHostNamespaces     = "host-namespaces"
	RuleHostMounts         = "host-mounts"
	RuleHostDevices        = "host-devices"
	RuleSysctls            = "sysctls"
	RuleHooks              = "hooks"
	RuleIDMappedMounts     = "idmapped-mounts"
	RuleHookPaths          = "hook-paths"
	RuleIDMappedOptions    = "idmapped-mount-options"
	RuleUserNamespace      = "user-namespace"
	RuleUsernsJoin         = "user-namespace-join"
	RuleCgroupNamespace    = "cgroup-namespace"
	RuleCapabilities       = "capabilities"
	RuleNoNewPrivileges    = "no-new-privileges"
	RuleSeccomp            = "seccomp"
	RuleReadonlyRootfs     = "readonly-rootfs"
	RuleWritablePaths      = "writable-paths"
	RuleMaskedPaths        = "masked-paths"
	RuleReadonlyPaths      = "readonly-paths"
	RulePidsLimit          = "pids-limit"
	RuleDeviceNodes        = "device-nodes"
	RuleRlimits            = "rlimits"
	RuleOOMScoreAdj        = "oom-score-adj"
	RuleSeccompListener    = "seccomp-listener"
	RuleNamespaceJoins     = "namespace-joins"
	RuleSharedCgroup       = "shared-cgroup"
	RuleProcessPriority    = "process-priority"
	RuleCgroupFiles        = "cgroup-files"
	RuleIntelRdt           = "intel-rdt"
	RuleNetDevices         = "net-devices"
	RuleRuntimeAnnotations = "runtime-annotations"
)

// Rules returns the ordered rule list, fresh on each call. The order:
//
//   - Refusals first. They only read, so a refused configuration is
//     reported in full (every refusal at once) and nothing is rewritten;
//     the runtime touches the host only after them (see Check). The
//     user namespaces the container joins first (their refusal is the
//     user-namespace plan Check could not make), then the rootfs:
//     host-mounts trusts sources inside it only when host-rootfs finds it
//     no host directory.
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
//     independent of the rest; the process priority comes after the
//     capabilities, which it reads.
func Rules() []Rule {
	return []Rule{
		{ID: RuleUsernsJoin, Kind: KindRefusal, AllowKey: "allowHostNamespaces", Apply: RefuseUsernsJoin},
		{ID: RuleHostRootfs, Kind: KindRefusal, AllowKey: "allowRootfs", Apply: RefuseHostRootfs},
		{ID: RuleHostNamespaces, Kind: KindRefusal, AllowKey: "allowHostNamespaces", Apply: RefuseHostNamespaces},
		{ID: RuleNamespaceJoins, Kind: KindRefusal, AllowKey: "allowUnrelatedJoins", Apply: RefuseUnrelatedJoins},
		{ID: RuleSharedCgroup, Kind: KindRefusal, AllowKey: "allowSharedCgroups", Apply: RefuseSharedCgroup},
		{ID: RuleHostMounts, Kind: KindRefusal, AllowKey: "allowHostMounts", Apply: RefuseHostMounts},
		{ID: RuleHostDevices, Kind: KindRefusal, AllowKey: "allowDevices", Apply: RefuseHostDevices},
		{ID: RuleDeviceNodes, Kind: KindRefusal, Apply: RefuseDeviceNodePaths},
		{ID: RuleSysctls, Kind: KindRefusal, AllowKey: "allowSysctls", Apply: RefuseSysctls},
		{ID: RuleHooks, Kind: KindRefusal, AllowKey: "allowedHooks", Apply: RefuseHooks},
		{ID: RuleIDMappedMounts, Kind: KindRefusal, AllowKey: "idmapMountSources", Apply: RefuseIDMappedMounts},
		{ID: RuleSeccompListener, Kind: KindRefusal, AllowKey: "allowSeccompListeners", Apply: RefuseSeccompListener},
		{ID: RuleCgroupFiles, Kind: KindRefusal, Apply: RefuseCgroupFiles},
		{ID: RuleIntelRdt, Kind: KindRefusal, AllowKey: "allowRdtClasses", Apply: RefuseRdtClasses},
		{ID: RuleNetDevices, Kind: KindRefusal, AllowKey: "allowNetDevices", Apply: RefuseNetDevices},
		{ID: RuleRuntimeAnnotations, Kind: KindRefusal, AllowKey: "allowRuntimeAnnotations", Apply: RefuseRuntimeAnnotations},
		{ID: RuleHookPaths, Kind: KindTransform, Apply: PinHooks},
		{ID: RuleUserNamespace, Kind: KindTransform, AllowKey: "userNamespace", Apply: UserNamespace},
		{ID: RuleIDMappedOptions, Kind: KindTransform, Apply: IDMappedMountOptions},
		{ID: RuleCgroupNamespace, Kind: KindTransform, AllowKey: "allowHostNamespaces", Apply: CgroupNamespace},
		{ID: RuleCapabilities, Kind: KindTransform, AllowKey: "allowCapabilities", Apply: onProcess(ClampCapabilities)},
		{ID: RuleNoNewPrivileges, Kind: KindTransform, AllowKey: "allowNewPrivileges", Apply: onProcess(SetNoNewPrivileges)},
		{ID: RuleSeccomp, Kind: KindTransform, AllowKey: "denySyscalls", Apply: EnforceSeccomp},
		{ID: RuleReadonlyRootfs, Kind: KindTransform, AllowKey: "readonlyRootfs", Apply: ReadonlyRootfs},
		{ID: RuleWritablePaths, Kind: KindTransform, AllowKey: "writablePaths", Apply: WritablePaths},
		{ID: RuleMaskedPaths, Kind: KindTransform, Apply: MaskPaths},
		{ID: RuleReadonlyPaths, Kind: KindTransform, Apply: ReadonlyPaths},
		{ID: RulePidsLimit, Kind: KindTransform, AllowKey: "pidsLimit", Apply: LimitPids},
		{ID: RuleRlimits, Kind: KindTransform, Apply: onProcess(ClampRlimits)},
		{ID: RuleOOMScoreAdj, Kind: KindTransform, AllowKey: "minOomScoreAdj", Apply: onProcess(ClampOOMScoreAdj)},
		{ID: RuleProcessPriority, Kind: KindTransform, AllowKey: "allowCapabilities", Apply: onProcess(ClampPriority)},
	}
}

// onProcess makes a rule over the container's process (the rules that
// ClampProcess also runs for exec'd processes) a rule over the spec. A
// spec without a process gets an empty one, so the clamp has something to
// hold: runc gives a process with no capabilities section every
// capability of its parent.
func onProcess(fn ProcessFunc) Func {
	return func(s *specs.Spec, pol *Policy, f HostFacts, r *Report) error {
		return fn(ensureProcess(s), pol, f, r)
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
