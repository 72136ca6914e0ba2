package integration

// Process-level hardening read from inside the container: the five
// capability sets, NoNewPrivs and the seccomp mode, for init and for
// exec'd processes, at both levels and with a policy exception.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

func TestHardeningCapabilities(t *testing.T) {
	exampleCaps := []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	dockerPlusAdmin := append(dockerDefaultCaps(), "CAP_SYS_ADMIN")
	for _, tc := range []struct {
		name  string
		tweak func(*specs.Spec)
		want  []string
	}{
		{
			// runc spec: AUDIT_WRITE, KILL, NET_BIND_SERVICE in bounding,
			// permitted and effective.
			name: "runc-spec-example",
			want: intersect(exampleCaps, baselineCaps()),
		},
		{
			name:  "docker-defaults-plus-sys-admin",
			tweak: func(s *specs.Spec) { setAllCapSets(s.Process, dockerPlusAdmin) },
			want:  []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_NET_BIND_SERVICE"},
		},
		{
			// Sneaky: only the ambient and inheritable sets ask for more.
			name: "ambient-and-inheritable-only",
			tweak: func(s *specs.Spec) {
				s.Process.Capabilities.Ambient = []string{"CAP_SYS_ADMIN", "CAP_KILL"}
				s.Process.Capabilities.Inheritable = []string{"CAP_SYS_ADMIN", "CAP_KILL"}
			},
			want: intersect(exampleCaps, baselineCaps()),
		},
		{
			// Sneaky: no capabilities section at all (runc would give the
			// parent's full set).
			name:  "no-capabilities-section",
			tweak: func(s *specs.Spec) { s.Process.Capabilities = nil },
			want:  nil,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := testutil.NewRuntime(t)
			b := testutil.NewBundle(t, "cat", "/proc/self/status")
			if tc.tweak != nil {
				b.Edit(t, tc.tweak)
			}
			st := procStatus(t, rt.RunIn(t, b))
			checkCapSets(t, "init", st, tc.want...)
		})
	}
}

// The restricted level, chosen through HARDENED_POLICY, keeps
// NET_BIND_SERVICE only.
func TestHardeningCapabilitiesRestricted(t *testing.T) {
	rt := testutil.NewRuntime(t)
	_, path := testutil.WritePolicy(t, `{"level": "restricted"}`)
	t.Setenv("HARDENED_POLICY", path)
	b := testutil.NewBundle(t, "cat", "/proc/self/status")
	b.Edit(t, func(s *specs.Spec) { setAllCapSets(s.Process, append(dockerDefaultCaps(), "CAP_SYS_ADMIN")) })
	st := procStatus(t, rt.RunIn(t, b))
	checkCapSets(t, "restricted init", st, "CAP_NET_BIND_SERVICE")
	if got := readSpec(t, b.ConfigPath()).Process.Capabilities.Bounding; len(got) != 1 || got[0] != "CAP_NET_BIND_SERVICE" {
		t.Errorf("config.json bounding = %v, want [CAP_NET_BIND_SERVICE]", got)
	}
}

// NoNewPrivs is on even when the caller turns it off; the seccomp filter
// is installed (mode 2) although the caller gives no profile.
func TestHardeningNoNewPrivsAndSeccompMode(t *testing.T) {
	rt := testutil.NewRuntime(t)
	b := testutil.NewBundle(t, "cat", "/proc/self/status")
	b.Edit(t, func(s *specs.Spec) {
		s.Process.NoNewPrivileges = false
		s.Linux.Seccomp = nil
	})
	st := procStatus(t, rt.RunIn(t, b))
	if st["NoNewPrivs"] != "1" {
		t.Errorf("NoNewPrivs = %q, want 1 (config asked for false)", st["NoNewPrivs"])
	}
	if st["Seccomp"] != "2" {
		t.Errorf("Seccomp = %q, want 2 (filter)", st["Seccomp"])
	}
}

// An exec'd process is clamped like init: `exec --cap CAP_SYS_ADMIN` and a
// --process JSON asking for every capability with noNewPrivileges false
// both get the baseline set and NoNewPrivs 1.
func TestHardeningExecClamp(t *testing.T) {
	rt := testutil.NewRuntime(t)
	b := testutil.NewBundle(t, sleeper...)
	b.Edit(t, func(s *specs.Spec) { setAllCapSets(s.Process, append(dockerDefaultCaps(), "CAP_SYS_ADMIN")) })
	id := rt.NewID()
	rt.MustRun("run", "--detach", "--bundle", b.Dir, id)
	rt.WaitStatus(id, "running", 5*time.Second)
	wantInit := baselineCaps()

	t.Run("cap-flag", func(t *testing.T) {
		out := rt.MustRun("exec", "--cap", "CAP_SYS_ADMIN", "--cap", "CAP_SYS_MODULE", id, "cat", "/proc/self/status")
		st := procStatus(t, out)
		checkCapSets(t, "exec --cap CAP_SYS_ADMIN", st, wantInit...)
		if st["NoNewPrivs"] != "1" || st["Seccomp"] != "2" {
			t.Errorf("exec --cap: NoNewPrivs %q Seccomp %q, want 1 and 2", st["NoNewPrivs"], st["Seccomp"])
		}
	})
	t.Run("process-json", func(t *testing.T) {
		p := specs.Process{
			Args:            []string{"cat", "/proc/self/status"},
			Cwd:             "/",
			Env:             []string{"PATH=/bin"},
			NoNewPrivileges: false,
		}
		setAllCapSets(&p, allCaps())
		data, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		pf := filepath.Join(t.TempDir(), "process.json")
		if err := os.WriteFile(pf, data, 0o644); err != nil {
			t.Fatal(err)
		}
		st := procStatus(t, rt.MustRun("exec", "--process", pf, id))
		checkCapSets(t, "exec --process (all caps)", st, baselineCaps()...)
		if st["NoNewPrivs"] != "1" {
			t.Errorf("exec --process with noNewPrivileges false: NoNewPrivs %q, want 1", st["NoNewPrivs"])
		}
	})
}

// An exception in the host policy matching an orchestrator annotation
// grants NET_RAW to the matching container only, for init and exec alike.
func TestHardeningException(t *testing.T) {
	rt := testutil.NewRuntime(t)
	flag, _ := testutil.WritePolicy(t, `{"exceptions": [{"match": {"io.kubernetes.pod.namespace": "kube-system"}, "allow": {"allowCapabilities": ["NET_RAW"]}}]}`)
	withRaw := append(baselineCaps(), "CAP_NET_RAW")
	for _, tc := range []struct {
		name        string
		annotations map[string]string
		want        []string
	}{
		{"kube-system", map[string]string{"io.kubernetes.pod.namespace": "kube-system"}, withRaw},
		{"default-namespace", map[string]string{"io.kubernetes.pod.namespace": "default"}, baselineCaps()},
		{"no-annotation", nil, baselineCaps()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := testutil.NewBundle(t, sleeper...)
			b.Edit(t, func(s *specs.Spec) {
				setAllCapSets(s.Process, dockerDefaultCaps())
				s.Annotations = tc.annotations
			})
			id := rt.NewID()
			rt.MustRun(flag, "run", "--detach", "--bundle", b.Dir, id)
			rt.WaitStatus(id, "running", 5*time.Second)
			st := procStatus(t, rt.MustRun(flag, "exec", id, "cat", "/proc/1/status"))
			checkCapSets(t, "init", st, tc.want...)
			st = procStatus(t, rt.MustRun(flag, "exec", "--cap", "CAP_NET_RAW", id, "cat", "/proc/self/status"))
			checkCapSets(t, "exec --cap CAP_NET_RAW", st, tc.want...)
			rt.MustRun("delete", "--force", id)
		})
	}
}
