package hardening

import (
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// blockingAction reports whether a seccomp action stops the syscall.
func blockingAction(a specs.LinuxSeccompAction) bool {
	switch a {
	case specs.ActErrno, specs.ActKill, specs.ActKillProcess, specs.ActKillThread, specs.ActTrap:
		return true
	}
	return false
}

// callerDenials returns the rules of a caller's profile that stop a
// syscall (the seccomp rule keeps them when it replaces the profile).
func callerDenials(p *specs.LinuxSeccomp) []specs.LinuxSyscall {
	if p == nil {
		return nil
	}
	var out []specs.LinuxSyscall
	for _, rule := range p.Syscalls {
		if blockingAction(rule.Action) && len(rule.Names) > 0 {
			out = append(out, rule)
		}
	}
	return out
}

// withCallerDenials returns base without the names the denials cover
// (libseccomp refuses two rules with different actions for one syscall),
// followed by the denials themselves. base must deny by default (Docker's
// profile does), so a name removed from its rules is denied whatever the
// denial's conditions.
func withCallerDenials(base, denials []specs.LinuxSyscall) []specs.LinuxSyscall {
	var denied []string
	for _, d := range denials {
		denied = append(denied, d.Names...)
	}
	out := make([]specs.LinuxSyscall, 0, len(base)+len(denials))
	for _, rule := range base {
		rule.Names = slices.DeleteFunc(slices.Clone(rule.Names), func(n string) bool { return slices.Contains(denied, n) })
		if len(rule.Names) > 0 {
			out = append(out, rule)
		}
	}
	return append(out, denials...)
}
