package hardening

import (
	"fmt"
	"runtime"
	"slices"

	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// SeccompBlocks reports whether a seccomp profile is on: present, with a
// defaultAction that stops the syscall (errno, kill or trap). A section
// without defaultAction, "unconfined" (no section) or a default of allow,
// log, trace or notify is off.
func SeccompBlocks(p *specs.LinuxSeccomp) bool {
	if p == nil {
		return false
	}
	switch p.DefaultAction {
	case specs.ActErrno, specs.ActKill, specs.ActKillProcess, specs.ActKillThread, specs.ActTrap:
		return true
	}
	return false
}

// EnforceSeccomp is the seccomp rule.
//
// Threat: without a syscall filter every kernel entry point is reachable
// from the container, including those behind most container escapes of
// the last years (io_uring, userfaultfd and bpf for kernel exploits,
// keyctl for keyring leaks, open_by_handle_at for "shocker", unshare/setns
// and namespace-creating clone to build a user namespace in which
// capabilities come back).
//
// Fields: linux.seccomp. A profile that is off (see SeccompBlocks) is
// replaced by Docker's default profile (github.com/moby/profiles/seccomp),
// evaluated against the already clamped process.capabilities.bounding;
// "unconfined" is replaced and reported, not refused, since replacing it
// is what makes it safe (and warned about). A caller's blocking profile is
// kept. A caller's profile that allows by default but denies some
// syscalls (a deny-list, e.g. one denying mkdir) is intersected with
// Docker's: Docker's profile with the caller's denying rules added and
// their syscalls removed from Docker's allowing rules, so neither
// profile's denials are lost (a denial with argument conditions then
// denies the syscall whatever the arguments: stricter, never wider). Either way
// the policy's deny-list is put on top so no rule can allow a denied
// syscall: the denied names are removed from every rule (libseccomp does
// not let two unconditional rules with different actions for one syscall
// coexist, so overriding by adding a rule is not reliable), then one
// ERRNO(EPERM) rule lists them. clone is allowed only without namespace
// flags (Docker's masked rule) and clone3 returns ENOSYS so libc falls back
// to clone.
//
// The profile's architectures are cut to the native ABI (SCMP_ARCH_X86_64
// on amd64): the kernel's compatibility entry points (int 0x80 and
// sysenter for x86, the x32 syscall numbers) have carried many privilege
// escalations, and compiling the filter for three ABIs instead of one is
// most of what a seccomp profile costs at start-up. A syscall through
// another ABI then meets the filter's bad-architecture action, which this
// binary sets to ERRNO(ENOSYS) (package foreignabi) instead of
// libseccomp's default of killing the thread.
//
// A caller's SECCOMP_FILTER_FLAG_SPEC_ALLOW flag is dropped: it would turn
// the speculative store bypass mitigation off for the container.
//
// Relaxed by: "denySyscalls" (the deny-list itself); "allow32bit" keeps the
// profile's other ABIs (Docker's list, or the caller's); there is no key to
// run without a blocking profile.
func EnforceSeccomp(s *specs.Spec, pol *Policy, _ HostFacts, r *Report) error {
	l := ensureLinux(s)
	before := l.Seccomp
	var prof specs.LinuxSeccomp
	source := "caller"
	if SeccompBlocks(before) {
		prof = *before
	} else {
		var bounding []string
		if s.Process != nil && s.Process.Capabilities != nil {
			bounding = slices.Clone(s.Process.Capabilities.Bounding)
		}
		def, err := seccomp.GetDefaultProfile(&specs.Spec{Process: &specs.Process{
			Capabilities: &specs.LinuxCapabilities{Bounding: bounding},
		}})
		if err != nil {
			return fmt.Errorf("docker default seccomp profile: %w", err)
		}
		prof = *def
		source = "docker-default"
		if denials := callerDenials(before); len(denials) > 0 {
			prof.Syscalls = withCallerDenials(prof.Syscalls, denials)
			source = "docker-default with the caller's denials"
		} else {
			warnUnconfinedSeccomp(before, r)
		}
	}
	prof.Syscalls = denySyscalls(prof.Syscalls, pol.DenySyscalls)
	// SPEC_ALLOW turns the kernel's speculative store bypass mitigation
	// off for the container (seccomp enables it by default).
	prof.Flags = slices.DeleteFunc(slices.Clone(prof.Flags), func(f specs.LinuxSeccompFlag) bool {
		return f == specs.LinuxSeccompFlagSpecAllow
	})
	if native := NativeSeccompArch(); native != "" && !pol.Allow32Bit {
		prof.Architectures = []specs.Arch{native}
	}
	if sameSeccomp(before, &prof) {
		return nil
	}
	r.add(RuleSeccomp, "linux.seccomp", briefSeccomp(before, "caller"), briefSeccomp(&prof, source))
	l.Seccomp = &prof
	return nil
}

// sameSeccomp reports whether two profiles are written to config.json
// alike: nil and empty lists are the same where the field is omitempty
// (all but a rule's names), a nil and a zero errno are not. Comparing
// their JSON instead allocated a whole document twice at every create
// (tests/bench/README.md).
func sameSeccomp(a, b *specs.LinuxSeccomp) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.DefaultAction == b.DefaultAction &&
		sameOptional(a.DefaultErrnoRet, b.DefaultErrnoRet) &&
		slices.Equal(a.Architectures, b.Architectures) &&
		slices.Equal(a.Flags, b.Flags) &&
		a.ListenerPath == b.ListenerPath &&
		a.ListenerMetadata == b.ListenerMetadata &&
		slices.EqualFunc(a.Syscalls, b.Syscalls, func(x, y specs.LinuxSyscall) bool {
			return x.Action == y.Action &&
				sameOptional(x.ErrnoRet, y.ErrnoRet) &&
				(x.Names == nil) == (y.Names == nil) && slices.Equal(x.Names, y.Names) &&
				slices.Equal(x.Args, y.Args)
		})
}

func sameOptional(a, b *uint) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// NativeSeccompArch is the seccomp architecture of the ABI this binary
// runs, "" for an architecture the rule does not know (whose profile then
// keeps its list).
func NativeSeccompArch() specs.Arch {
	switch runtime.GOARCH {
	case "amd64":
		return specs.ArchX86_64
	case "arm64":
		return specs.ArchAARCH64
	case "ppc64le":
		return specs.ArchPPC64LE
	case "s390x":
		return specs.ArchS390X
	case "riscv64":
		return specs.ArchRISCV64
	}
	return ""
}

// denySyscalls returns rules with every denied name removed, followed by
// the rules that deny them.
func denySyscalls(rules []specs.LinuxSyscall, deny []string) []specs.LinuxSyscall {
	out := make([]specs.LinuxSyscall, 0, len(rules)+3)
	for _, rule := range rules {
		names := make([]string, 0, len(rule.Names))
		for _, n := range rule.Names {
			if !slices.Contains(deny, n) {
				names = append(names, n)
			}
		}
		if len(names) == 0 {
			continue
		}
		rule.Names = names
		out = append(out, rule)
	}
	var plain []string
	for _, n := range deny {
		if n != "clone" && n != "clone3" && !slices.Contains(plain, n) {
			plain = append(plain, n)
		}
	}
	if len(plain) > 0 {
		eperm := uint(unix.EPERM)
		out = append(out, specs.LinuxSyscall{Names: plain, Action: specs.ActErrno, ErrnoRet: &eperm})
	}
	if slices.Contains(deny, "clone") {
		out = append(out, cloneWithoutNamespaces())
	}
	if slices.Contains(deny, "clone3") {
		enosys := uint(unix.ENOSYS)
		out = append(out, specs.LinuxSyscall{Names: []string{"clone3"}, Action: specs.ActErrno, ErrnoRet: &enosys})
	}
	return out
}

// namespaceFlags are the clone flags that create namespaces.
const namespaceFlags = unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_NEWUSER |
	unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWCGROUP

// cloneWithoutNamespaces allows clone when no namespace flag is set, as
// Docker's profile does for containers without CAP_SYS_ADMIN. The flags
// are the first argument except on s390, where they are the second.
func cloneWithoutNamespaces() specs.LinuxSyscall {
	var index uint
	if runtime.GOARCH == "s390x" {
		index = 1
	}
	return specs.LinuxSyscall{
		Names:  []string{"clone"},
		Action: specs.ActAllow,
		Args:   []specs.LinuxSeccompArg{{Index: index, Value: namespaceFlags, ValueTwo: 0, Op: specs.OpMaskedEqual}},
	}
}

// seccompBrief is what a report shows of a profile (a whole profile is
// several hundred lines).
type seccompBrief struct {
	Profile       string                   `json:"profile"`
	DefaultAction specs.LinuxSeccompAction `json:"defaultAction,omitempty"`
	Rules         int                      `json:"rules"`
}

func briefSeccomp(p *specs.LinuxSeccomp, source string) seccompBrief {
	if p == nil {
		return seccompBrief{Profile: "none"}
	}
	return seccompBrief{Profile: source, DefaultAction: p.DefaultAction, Rules: len(p.Syscalls)}
}
