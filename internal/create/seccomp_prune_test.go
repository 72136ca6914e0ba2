//go:build linux && cgo && seccomp

package create

import (
	"bytes"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/specconv"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/hardening"
	seccompcache "github.com/hardened-runtime/hardened/internal/seccomp/cache"
	"github.com/hardened-runtime/hardened/spec"
)

// The test binary is also the compile helper seccompcache starts.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == seccompcache.HelperArg {
		os.Exit(seccompcache.HelperMain(os.Args[2:]))
	}
	os.Exit(m.Run())
}

// Pruning must leave the program libseccomp builds as it was: compiled
// with libcontainer's own code through the cache's helper, with and
// without pruning, for the default policy's native-only profile and for
// the one "allow32bit" keeps.
func TestPruneSeccompKeepsTheProgram(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the cache's helper loads a seccomp filter without no_new_privs: needs root")
	}
	for _, tc := range []struct {
		name       string
		allow32bit bool
		minDropped int
	}{
		{"native only", false, 60},
		{"with 32-bit ABIs", true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			full := hardenedSeccomp(t, tc.allow32bit)
			pruned := *full
			pruned.Syscalls = slices.Clone(full.Syscalls)
			pruneSeccomp(&pruned)
			if dropped := len(full.Syscalls) - len(pruned.Syscalls); dropped < tc.minDropped {
				t.Fatalf("dropped %d of %d rules, want at least %d", dropped, len(full.Syscalls), tc.minDropped)
			}
			cache := seccompcache.Cache{Dir: t.TempDir(), Build: "test"}
			want, err := cache.Program(full)
			if err != nil {
				t.Fatal(err)
			}
			got, err := cache.Program(&pruned)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("pruned profile compiles to %d bytes of program, the full one to %d; they differ", len(got), len(want))
			}
		})
	}
}

// hardenedSeccomp is the filter a create gives libcontainer for a plain
// spec under the default policy.
func hardenedSeccomp(t testing.TB, allow32bit bool) *configs.Seccomp {
	t.Helper()
	s := &specs.Spec{
		Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: []string{"CAP_CHOWN", "CAP_KILL"}}},
		Linux:   &specs.Linux{},
	}
	pol := hardening.DefaultPolicy()
	pol.Allow32Bit = allow32bit
	if err := hardening.EnforceSeccomp(s, pol, hardening.HostFacts{}, &hardening.Report{}); err != nil {
		t.Fatal(err)
	}
	cfg, err := specconv.SetupSeccomp(s.Linux.Seccomp)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// BenchmarkPruneSeccomp is the cost pruning adds to every create: one
// libseccomp name lookup per rule of the default policy's profile (~56 us
// here, against the init's 69 lookups and rule adds it saves).
func BenchmarkPruneSeccomp(b *testing.B) {
	full := hardenedSeccomp(b, false)
	for b.Loop() {
		pruned := *full
		pruned.Syscalls = slices.Clone(full.Syscalls)
		pruneSeccomp(&pruned)
	}
}

// A filter with rules that add nothing gets them dropped, and the create's
// Report says how many.
func TestConvertNotesPrunedSeccomp(t *testing.T) {
	t.Setenv(seccompCacheEnv, "off")
	s := specconv.Example()
	s.Root.Path = t.TempDir()
	s.Linux.Seccomp = &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"read", "write"}, Action: specs.ActAllow},
			{Names: []string{"no_such_syscall"}, Action: specs.ActAllow},
		},
	}
	c := &creation{
		opts:    Options{ID: "prune"},
		bundle:  &spec.Bundle{Dir: t.TempDir(), Spec: s},
		checked: &hardening.Checked{Report: &hardening.Report{}},
		audit:   &createAudit{},
	}
	if err := c.convert(); err != nil {
		t.Fatal(err)
	}
	notes := c.checked.Report.Notes
	if len(notes) != 1 || notes[0].Rule != RuleSeccompPrune || !strings.HasPrefix(notes[0].Message, "1 of 3 seccomp rules dropped") {
		t.Errorf("notes %+v, want one %s note: 1 of 3 rules dropped", notes, RuleSeccompPrune)
	}
	for _, sc := range c.cfg.Seccomp.Syscalls {
		if sc.Name == "no_such_syscall" {
			t.Error("the unknown syscall's rule was kept")
		}
	}
}
