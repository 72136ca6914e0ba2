package hardening

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestHardenDockerDefault(t *testing.T) {
	t.Parallel()
	s := dockerSpec(t)
	rep, err := Harden(s, DefaultPolicy(), dockerFacts())
	if err != nil {
		t.Fatalf("Harden: %v", err)
	}
	if rep.Refused() {
		t.Fatalf("refused: %+v", rep.Refusals)
	}
	if got, want := s.Process.Capabilities.Bounding, LevelCapabilities(LevelBaseline); !sameSet(got, want) {
		t.Errorf("bounding = %v, want %v", got, want)
	}
	if !s.Process.NoNewPrivileges || !s.Root.Readonly {
		t.Errorf("noNewPrivileges %v, root.readonly %v, want both true", s.Process.NoNewPrivileges, s.Root.Readonly)
	}
	t.Logf("summary: %s", rep.Summary())
	var sb strings.Builder
	if err := rep.WriteText(&sb); err != nil {
		t.Fatal(err)
	}
	t.Log(sb.String())
}

func TestHardenRefusedLeavesSpec(t *testing.T) {
	t.Parallel()
	s := dockerSpec(t)
	s.Linux.Namespaces = s.Linux.Namespaces[:1] // mount only: host net, uts, pid, ipc, cgroup
	orig := dockerSpec(t)
	orig.Linux.Namespaces = orig.Linux.Namespaces[:1]
	rep, err := Harden(s, DefaultPolicy(), dockerFacts())
	if !errors.Is(err, ErrRefused) {
		t.Fatalf("err = %v, want ErrRefused", err)
	}
	if !reflect.DeepEqual(s, orig) {
		t.Error("refused spec was modified")
	}
	if len(rep.Changes) != 0 {
		t.Errorf("refused report lists changes: %v", changedPaths(rep))
	}
	want := `refused by policy "baseline": host pid namespace (rule host-namespaces, allow with "allowHostNamespaces": ["pid"]); host network namespace (rule host-namespaces, allow with "allowHostNamespaces": ["network"]); host ipc namespace`
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("err =\n%v\nwant prefix\n%v", err, want)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Error("error is not one line")
	}
}

func TestHardenAuditLeavesSpec(t *testing.T) {
	t.Parallel()
	pol := DefaultPolicy()
	pol.Mode = ModeAudit
	s := dockerSpec(t)
	s.Linux.Namespaces = s.Linux.Namespaces[:1]
	orig := dockerSpec(t)
	orig.Linux.Namespaces = orig.Linux.Namespaces[:1]
	rep, err := Harden(s, pol, dockerFacts())
	if err != nil {
		t.Fatalf("audit returned error %v", err)
	}
	if !reflect.DeepEqual(s, orig) {
		t.Error("audit modified the spec")
	}
	if !rep.Refused() || len(rep.Changes) == 0 {
		t.Errorf("audit report: %d refusals, %d changes; want both", len(rep.Refusals), len(rep.Changes))
	}
}

func TestHardenOff(t *testing.T) {
	t.Parallel()
	pol, err := ParsePolicy("off.json", []byte(`{"mode":"off"}`))
	if err != nil {
		t.Fatal(err)
	}
	s := dockerSpec(t)
	rep, err := Harden(s, pol, dockerFacts())
	if err != nil || len(rep.Changes) != 0 || rep.Refused() {
		t.Fatalf("off: err %v, report %+v", err, rep)
	}
	if !reflect.DeepEqual(s, dockerSpec(t)) {
		t.Error("off modified the spec")
	}
}

// TestDockerPrivilegedLike is the stand-in for --privileged:
// --cap-add ALL --cap-drop SYS_RESOURCE --security-opt seccomp=unconfined
// --device /dev/sda.
func TestDockerPrivilegedLike(t *testing.T) {
	t.Parallel()
	s := dockerSpec(t)
	all := []string{"CAP_SYS_ADMIN", "CAP_NET_ADMIN", "CAP_SYS_MODULE", "CAP_SYS_PTRACE", "CAP_CHOWN", "CAP_KILL"}
	s.Process.Capabilities.Bounding = all
	s.Process.Capabilities.Effective = all
	s.Process.Capabilities.Permitted = all
	s.Linux.Seccomp = nil
	s.Linux.Devices = append(s.Linux.Devices, devNode("/dev/sda", "b", 8, 0))
	maj, mnr := int64(8), int64(0)
	s.Linux.Resources.Devices = append(s.Linux.Resources.Devices, rwmRule("b", &maj, &mnr))
	_, err := Harden(s, DefaultPolicy(), dockerFacts())
	if !errors.Is(err, ErrRefused) {
		t.Fatalf("err = %v, want refusal", err)
	}
	for _, want := range []string{
		`host device /dev/sda (b 8:0) (rule host-devices, allow with "allowDevices": ["b 8:0"])`,
		`device cgroup allows b 8:0 rwm (rule host-devices`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("err %q lacks %q", err, want)
		}
	}
	// Capabilities and seccomp are made safe, not refused.
	if strings.Contains(err.Error(), "capabilit") || strings.Contains(err.Error(), "seccomp") {
		t.Errorf("err %q refuses what is clamped", err)
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !strings.Contains(strings.Join(b, ","), x) {
			return false
		}
	}
	return true
}
