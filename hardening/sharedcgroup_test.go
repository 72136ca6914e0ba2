package hardening

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func withCgroupsPath(p string) func(*specs.Spec) {
	return func(s *specs.Spec) { s.Linux.CgroupsPath = p }
}

func TestRefuseSharedCgroup(t *testing.T) {
	t.Parallel()
	rule := RefuseSharedCgroup
	held := HostFacts{CgroupProcs: map[string][]int{"/sys/fs/cgroup/pids/system/sshd": {812}, "/sys/fs/cgroup/unified/system/sshd": {812}}}
	runRefusalCases(t, RuleSharedCgroup, rule, []refusalCase{
		{name: "new cgroup", tweak: withCgroupsPath("/docker/abc")},
		{name: "no cgroupsPath", facts: held},
		{name: "existing cgroup with processes", tweak: withCgroupsPath("/system/sshd"), facts: held,
			want: []string{`cgroupsPath /system/sshd names a cgroup that already holds processes this container did not start (/sys/fs/cgroup/pids/system/sshd holds [812]; /sys/fs/cgroup/unified/system/sshd holds [812]) / "allowSharedCgroups": true`}},
		{name: "allowed by policy", tweak: withCgroupsPath("/system/sshd"), facts: held, pol: func(p *Policy) { p.AllowSharedCgroups = true }},
	})
}

func TestCgroupCandidates(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"/docker/abc", []string{"/docker/abc"}},
		{"system.slice:docker:abc", []string{"system.slice:docker:abc", "/system.slice/docker-abc.scope"}},
		{"kubepods-burstable-pod1.slice:cri-containerd:abc", []string{"kubepods-burstable-pod1.slice:cri-containerd:abc",
			"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/cri-containerd-abc.scope"}},
		{":runc:abc", []string{":runc:abc", "/system.slice/runc-abc.scope"}},
		{"-.slice:x:user.slice", []string{"-.slice:x:user.slice", "/user.slice"}},
	} {
		if got := cgroupCandidates(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.in, got, tc.want)
		}
	}
}

// GatherCgroupFacts on this host: the runtime's own cgroup (relative path
// "." from it) holds this test process on some hierarchy; a cgroup that
// does not exist holds nothing.
func TestGatherCgroupFacts(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("reads every hierarchy")
	}
	t.Parallel()
	s := exampleSpec()
	s.Linux.CgroupsPath = "hardened-test-does-not-exist-" + filepath.Base(t.TempDir())
	var f HostFacts
	GatherCgroupFacts(s, &f)
	if len(f.CgroupProcs) != 0 {
		t.Errorf("a missing cgroup holds %v", f.CgroupProcs)
	}
	s.Linux.CgroupsPath = "."
	GatherCgroupFacts(s, &f)
	found := false
	for _, pids := range f.CgroupProcs {
		found = found || len(pids) > 0
	}
	if !found {
		t.Errorf("the runtime's own cgroup shows no process: %v", f.CgroupProcs)
	}
}
