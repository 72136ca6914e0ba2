package hardening

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// allCapabilities returns every capability the kernel library knows, as
// engines list them for a privileged container.
func allCapabilities() []string {
	var out []string
	for _, c := range capability.ListKnown() {
		out = append(out, "CAP_"+strings.ToUpper(c.String()))
	}
	return out
}

// makePrivileged turns s into what `docker run --privileged` writes:
// every capability, no masked or read-only paths, no seccomp, a writable
// /sys, every device allowed and a host device list.
func makePrivileged(s *specs.Spec) {
	caps := allCapabilities()
	s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps}
	s.Linux.MaskedPaths, s.Linux.ReadonlyPaths, s.Linux.Seccomp = nil, nil, nil
	for i, m := range s.Mounts {
		if m.Type == "sysfs" {
			s.Mounts[i].Options = slices.DeleteFunc(slices.Clone(m.Options), func(o string) bool { return o == "ro" })
		}
	}
	if s.Linux.Resources == nil {
		s.Linux.Resources = &specs.LinuxResources{}
	}
	s.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
	for i := int64(0); i < 40; i++ {
		s.Linux.Devices = append(s.Linux.Devices, specs.LinuxDevice{Path: "/dev/sd" + string(rune('a'+i%26)), Type: "b", Major: 8, Minor: i})
	}
}

func TestIsPrivileged(t *testing.T) {
	t.Parallel()
	docker := func(testing.TB) *specs.Spec { s := dockerSpec(t); makePrivileged(s); return s }
	example := func(testing.TB) *specs.Spec { s := exampleSpec(); makePrivileged(s); return s }
	tests := []struct {
		name  string
		spec  func(testing.TB) *specs.Spec
		tweak func(*specs.Spec)
		want  bool
	}{
		{"docker --privileged", docker, nil, true},
		{"containerd WithPrivileged", example, nil, true},
		{"only the device cgroup open", example, func(s *specs.Spec) { s.Mounts = nil }, true},
		{"only /sys writable", example, func(s *specs.Spec) { s.Linux.Resources.Devices = nil }, true},
		{"without CAP_SYS_ADMIN", docker, func(s *specs.Spec) {
			s.Process.Capabilities.Bounding = slices.DeleteFunc(s.Process.Capabilities.Bounding, func(c string) bool { return c == "CAP_SYS_ADMIN" })
		}, false},
		{"masked paths kept", docker, func(s *specs.Spec) { s.Linux.MaskedPaths = []string{"/proc/kcore"} }, false},
		{"cap-add SYS_ADMIN only", func(t testing.TB) *specs.Spec {
			s := dockerSpec(t)
			s.Process.Capabilities.Bounding = append(s.Process.Capabilities.Bounding, "CAP_SYS_ADMIN")
			return s
		}, nil, false},
		{"plain docker", dockerSpec, nil, false},
		{"no linux section", func(testing.TB) *specs.Spec { return &specs.Spec{Process: &specs.Process{}} }, nil, false},
	}
	sandbox := exampleSpec()
	sandbox.Annotations = map[string]string{"io.kubernetes.cri.container-type": "sandbox"}
	if IsPrivilegedPodSandbox(sandbox) {
		t.Error("a sandbox with a read-only /sys is a privileged pod's")
	}
	for i, m := range sandbox.Mounts {
		if m.Type == "sysfs" {
			sandbox.Mounts[i].Options = []string{"nosuid", "noexec", "nodev", "rw"}
		}
	}
	if !IsPrivilegedPodSandbox(sandbox) {
		t.Error("containerd's privileged pod sandbox (read-write /sys) is not recognised")
	}
	rep := &Report{}
	RefusePrivileged(sandbox, DefaultPolicy(), rep)
	if len(rep.Refusals) != 1 || !strings.HasPrefix(rep.Refusals[0].Reason, "privileged pod") {
		t.Errorf("sandbox refusals %+v", rep.Refusals)
	}
	sandbox.Annotations = nil
	if IsPrivilegedPodSandbox(sandbox) {
		t.Error("a container that is no sandbox is taken for a privileged pod's sandbox")
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := tt.spec(t)
			if tt.tweak != nil {
				tt.tweak(s)
			}
			if got := IsPrivileged(s); got != tt.want {
				t.Errorf("IsPrivileged = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestPrivilegedOneLine: a privileged container is refused in one short
// line naming privileged and the key, in enforce mode and (as the same
// text) in audit mode; allowed, it runs unhardened.
func TestPrivilegedOneLine(t *testing.T) {
	t.Parallel()
	s := dockerSpec(t)
	makePrivileged(s)
	c, err := Check(s, DefaultPolicy(), HostFacts{})
	if !errors.Is(err, ErrRefused) {
		t.Fatalf("Check: %v, want refused", err)
	}
	want := `refused by policy "baseline": privileged container (rule privileged, allow with "allowPrivileged": true (best in an exception matching the pod or container))`
	if err.Error() != want {
		t.Errorf("error %q\nwant  %q", err, want)
	}
	if len(c.Report.Refusals) != 1 || len(err.Error()) > 200 {
		t.Errorf("%d refusals, %d characters: want one short line", len(c.Report.Refusals), len(err.Error()))
	}

	audit := DefaultPolicy()
	audit.Mode = ModeAudit
	rep, err := Harden(s, audit, HostFacts{})
	if err != nil {
		t.Fatal(err)
	}
	if sum := rep.Summary(); !strings.HasSuffix(sum, "(1 refused: "+strings.TrimPrefix(want, `refused by policy "baseline": `)+")") {
		t.Errorf("audit summary %q does not name the refusal as enforce does", sum)
	}

	allowed := DefaultPolicy()
	allowed.Exceptions = []Exception{{Match: map[string]string{"io.kubernetes.cri.sandbox-name": "cni"}, Allow: Allowances{AllowPrivileged: true}}}
	if _, err := Check(s, allowed, HostFacts{}); !errors.Is(err, ErrRefused) {
		t.Errorf("exception not matching: %v, want refused", err)
	}
	s.Annotations = map[string]string{"io.kubernetes.cri.sandbox-name": "cni"}
	before := string(jsonValue(s))
	rep, err = Harden(s, allowed, HostFacts{})
	if err != nil {
		t.Fatalf("allowed privileged: %v", err)
	}
	if rep.Mode != ModeOff || len(rep.Changes) != 0 || len(rep.Notes) != 1 || rep.Notes[0].Rule != RulePrivileged {
		t.Errorf("allowed privileged report %+v: want mode off, no changes, a privileged note", rep)
	}
	if string(jsonValue(s)) != before {
		t.Error("allowed privileged container was rewritten")
	}
}
