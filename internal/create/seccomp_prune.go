//go:build linux && cgo && seccomp

package create

import (
	"slices"

	"github.com/opencontainers/runc/libcontainer/configs"
	libseccomp "github.com/seccomp/libseccomp-golang"
)

// pruneSeccomp drops from a filter the rules that add nothing to the
// program libcontainer builds for it: names the host's libseccomp does not
// know (libcontainer skips them itself, one lookup each, in every init)
// and, when the filter is for the native ABI only, names without a native
// number (x86's chown32, socketcall, ...: libseccomp adds no rule for a
// pseudo syscall on an ABI that lacks it). The default policy's profile
// loses 69 of its 417 rules: a sixth less config to send to the init, to
// keep in state.json and to walk in the init. The program stays the same
// (TestPruneSeccompKeepsTheProgram compares them). It returns how many
// rules it dropped.
func pruneSeccomp(cfg *configs.Seccomp) int {
	if cfg == nil {
		return 0
	}
	native, err := libseccomp.GetNativeArch()
	if err != nil {
		return 0
	}
	nativeOnly := !slices.ContainsFunc(cfg.Architectures, func(a string) bool { return a != native.String() })
	before := len(cfg.Syscalls)
	cfg.Syscalls = slices.DeleteFunc(cfg.Syscalls, func(sc *configs.Syscall) bool {
		if sc == nil {
			return false
		}
		nr, err := libseccomp.GetSyscallFromName(sc.Name)
		return err != nil || (nativeOnly && nr < 0)
	})
	return before - len(cfg.Syscalls)
}
