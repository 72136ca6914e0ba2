package integration

// The seccomp deny-list seen from inside the container: the probe
// (tests/probe) makes each named syscall and prints the errno it got.

import (
	"slices"
	"strings"
	"testing"

	"github.com/moby/profiles/seccomp"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// deniedSyscalls are the probe's attempts the default policy answers with
// EPERM. mount is not on the deny-list: Docker's default profile allows it
// only with CAP_SYS_ADMIN, and its default action is EPERM. clone_newns is
// clone(CLONE_NEWNS|CLONE_FS): clone is allowed only without namespace
// flags.
var deniedSyscalls = []string{
	"unshare", "setns", "keyctl", "add_key", "request_key",
	"io_uring_setup", "io_uring_enter", "io_uring_register",
	"userfaultfd", "bpf", "perf_event_open",
	"kexec_load", "kexec_file_load", "open_by_handle_at",
	"mount", "clone_newns",
}

// kernelNotEPERM are the attempts whose arguments make the kernel itself
// answer something other than EPERM (see tests/probe): for them, EPERM
// under the policy can only come from the seccomp filter.
var kernelNotEPERM = []string{
	"unshare", "setns", "keyctl", "add_key", "request_key",
	"io_uring_setup", "io_uring_enter", "io_uring_register",
	"userfaultfd", "perf_event_open", "mount", "clone_newns", "clone3",
}

func probeArgs() []string {
	return append(append([]string{"/probe", "getpid", "getppid"}, deniedSyscalls...), "clone3")
}

func TestHardeningSeccompDenyList(t *testing.T) {
	rt := testutil.NewRuntime(t)

	// Without the policy (mode off, no profile in config.json) the kernel
	// answers: the probe's arguments are not what makes EPERM.
	t.Run("off-baseline", func(t *testing.T) {
		flag, _ := testutil.WritePolicy(t, `{"mode": "off"}`)
		b := testutil.NewBundle(t, probeArgs()...)
		installProbe(t, b)
		res := probeResults(t, rt.RunIn(t, b, flag))
		t.Logf("kernel answers without seccomp: %v", res)
		for _, name := range kernelNotEPERM {
			if r := res[name]; r == "" || r == "EPERM" {
				t.Errorf("mode off, no seccomp: %s = %q; the probe's arguments should make the kernel answer something else than EPERM", name, r)
			}
		}
	})

	t.Run("default-policy", func(t *testing.T) {
		b := testutil.NewBundle(t, probeArgs()...)
		installProbe(t, b)
		res := probeResults(t, rt.RunIn(t, b))
		if res["getpid"] != "OK" || res["getppid"] != "OK" {
			t.Errorf("ordinary syscalls: getpid %q getppid %q, want OK", res["getpid"], res["getppid"])
		}
		for _, name := range deniedSyscalls {
			if res[name] != "EPERM" {
				t.Errorf("%s = %q, want EPERM", name, res[name])
			}
		}
		// clone3 gets ENOSYS so that libc falls back to clone.
		if res["clone3"] != "ENOSYS" {
			t.Errorf("clone3 = %q, want ENOSYS", res["clone3"])
		}
	})

	// A caller's own blocking profile is kept, but cannot re-allow a
	// syscall on the deny-list: this one allows keyctl and add_key
	// explicitly, and makes getppid fail with EACCES to show it is in
	// force.
	t.Run("caller-profile-allows-keyctl", func(t *testing.T) {
		b := testutil.NewBundle(t, probeArgs()...)
		installProbe(t, b)
		b.Edit(t, func(s *specs.Spec) { s.Linux.Seccomp = callerProfileAllowingKeyctl(t, s.Process.Capabilities) })
		res := probeResults(t, rt.RunIn(t, b))
		if res["getppid"] != "EACCES" {
			t.Errorf("getppid = %q, want EACCES from the caller's profile (was it replaced?)", res["getppid"])
		}
		if res["getpid"] != "OK" {
			t.Errorf("getpid = %q, want OK", res["getpid"])
		}
		for _, name := range []string{"keyctl", "add_key", "unshare", "bpf"} {
			if res[name] != "EPERM" {
				t.Errorf("%s = %q with a caller profile allowing keyctl and add_key, want EPERM", name, res[name])
			}
		}
		// config.json: keyctl appears only in an EPERM rule.
		for _, r := range readSpec(t, b.ConfigPath()).Linux.Seccomp.Syscalls {
			if slices.Contains(r.Names, "keyctl") && (r.Action != specs.ActErrno || r.ErrnoRet == nil || *r.ErrnoRet != uint(unix.EPERM)) {
				t.Errorf("hardened config.json keeps a keyctl rule %s %v", r.Action, strings.Join(r.Names, ","))
			}
		}
	})

	// "unconfined" (an allow-by-default profile) is not accepted: it is
	// replaced.
	t.Run("caller-allow-all-profile", func(t *testing.T) {
		b := testutil.NewBundle(t, probeArgs()...)
		installProbe(t, b)
		b.Edit(t, func(s *specs.Spec) {
			s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow}
		})
		res := probeResults(t, rt.RunIn(t, b))
		for _, name := range []string{"keyctl", "bpf", "mount", "unshare", "clone_newns"} {
			if res[name] != "EPERM" {
				t.Errorf("%s = %q under a caller's allow-all profile, want EPERM", name, res[name])
			}
		}
	})
}

// callerProfileAllowingKeyctl is a caller's own blocking profile: Docker's
// default for caps, plus a rule explicitly allowing keyctl and add_key,
// and getppid failing with EACCES (to show the profile is in force).
func callerProfileAllowingKeyctl(t *testing.T, caps *specs.LinuxCapabilities) *specs.LinuxSeccomp {
	t.Helper()
	prof, err := seccomp.GetDefaultProfile(&specs.Spec{Process: &specs.Process{Capabilities: caps}})
	if err != nil {
		t.Fatal(err)
	}
	var rules []specs.LinuxSyscall
	for _, r := range prof.Syscalls {
		r.Names = slices.DeleteFunc(slices.Clone(r.Names), func(n string) bool {
			return n == "getppid" || n == "keyctl" || n == "add_key"
		})
		if len(r.Names) > 0 {
			rules = append(rules, r)
		}
	}
	eacces := uint(unix.EACCES)
	rules = append(rules,
		specs.LinuxSyscall{Names: []string{"keyctl", "add_key"}, Action: specs.ActAllow},
		specs.LinuxSyscall{Names: []string{"getppid"}, Action: specs.ActErrno, ErrnoRet: &eacces},
	)
	prof.Syscalls = rules
	return prof
}
