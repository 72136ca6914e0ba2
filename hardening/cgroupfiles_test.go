package hardening

import (
	"errors"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestRefuseCgroupFiles(t *testing.T) {
	unified := func(kv ...string) func(*specs.Spec) {
		return func(s *specs.Spec) {
			s.Linux.Resources = &specs.LinuxResources{Unified: map[string]string{}}
			for i := 0; i+1 < len(kv); i += 2 {
				s.Linux.Resources.Unified[kv[i]] = kv[i+1]
			}
		}
	}
	runRefusalCases(t, RuleCgroupFiles, RefuseCgroupFiles, []refusalCase{
		{name: "no resources"},
		{name: "limits", tweak: unified("memory.max", "1G", "pids.max", "100", "cpu.weight", "50", "io.max", "8:0 rbps=1", "cgroup.max.depth", "2", "cpuset.cpus.partition", "member")},
		{name: "cgroup.procs", tweak: unified("cgroup.procs", "1"),
			want: []string{`linux.resources.unified["cgroup.procs"] is not a resource limit`}},
		{name: "every one named, sorted", tweak: unified("cgroup.type", "threaded", "cgroup.subtree_control", "+cpu", "memory.max", "1G"),
			want: []string{`"cgroup.subtree_control"`, `"cgroup.type"`}},
		{name: "cgroup.threads and cgroup.kill", tweak: unified("cgroup.threads", "1", "cgroup.kill", "1"),
			want: []string{`"cgroup.kill"`, `"cgroup.threads"`}},
		{name: "cpuset partition root", tweak: unified("cpuset.cpus.partition", "root"), want: []string{`"cpuset.cpus.partition"`}},
		{name: "cpuset exclusive", tweak: unified("cpuset.cpus.exclusive", "0-3"), want: []string{`"cpuset.cpus.exclusive"`}},
	})
}

func TestClampUpdateRefusesCgroupFiles(t *testing.T) {
	res := &specs.LinuxResources{Unified: map[string]string{"cgroup.procs": "1"}}
	rep, err := ClampUpdate(res, DefaultPolicy())
	if !errors.Is(err, ErrRefused) || len(rep.Refusals) != 1 || rep.Refusals[0].Rule != RuleCgroupFiles {
		t.Fatalf("ClampUpdate: %v, refusals %+v", err, rep.Refusals)
	}
}
