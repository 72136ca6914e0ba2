package hardening

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func setSysctl(kv ...string) func(*specs.Spec) {
	return func(s *specs.Spec) {
		if s.Linux == nil {
			s.Linux = &specs.Linux{}
		}
		s.Linux.Sysctl = map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			s.Linux.Sysctl[kv[i]] = kv[i+1]
		}
	}
}

func TestRefuseSysctls(t *testing.T) {
	t.Parallel()
	rule := RefuseSysctls
	docker := func(t testing.TB) *specs.Spec { return dockerSpec(t) }
	runRefusalCases(t, RuleSysctls, rule, []refusalCase{
		{name: "docker's ping_group_range and unprivileged ports pass", base: docker},
		{name: "ipc set passes", tweak: setSysctl("kernel.shmmax", "1", "kernel.msgmnb", "2", "kernel.sem", "3", "fs.mqueue.msg_max", "4")},
		{name: "slash form passes", tweak: setSysctl("net/ipv4/ip_forward", "1")},
		{name: "core_pattern", tweak: setSysctl("kernel.core_pattern", "|/tmp/x"),
			want: []string{`sysctl kernel.core_pattern / "allowSysctls": ["kernel.core_pattern"]`}},
		{name: "vm", tweak: setSysctl("vm.overcommit_memory", "1"), want: []string{"sysctl vm.overcommit_memory"}},
		{name: "kernel.shm prefix is not a wildcard", tweak: setSysctl("kernel.shmfoo", "1"), want: []string{"kernel.shmfoo"}},
		{name: "both refused in name order", tweak: setSysctl("vm.swappiness", "1", "kernel.panic", "1"), want: []string{"kernel.panic", "vm.swappiness"}},
		{name: "net in host network namespace", tweak: func(s *specs.Spec) {
			withoutNS(specs.NetworkNamespace)(s)
			setSysctl("net.ipv4.ip_forward", "1")(s)
		}, want: []string{"sysctl net.ipv4.ip_forward in the host network namespace"}},
		{name: "net in the joined host namespace", tweak: func(s *specs.Spec) {
			joinNS(specs.NetworkNamespace, "/proc/1/ns/net")(s)
			setSysctl("net.ipv4.ip_forward", "1")(s)
		}, want: []string{"in the host network namespace"}},
		{name: "ipc in host ipc namespace", tweak: func(s *specs.Spec) {
			withoutNS(specs.IPCNamespace)(s)
			setSysctl("kernel.shmmax", "1")(s)
		}, want: []string{"sysctl kernel.shmmax in the host ipc namespace"}},
		{name: "allowed by prefix", pol: func(p *Policy) { p.AllowSysctls = []string{"vm.*"} }, tweak: setSysctl("vm.swappiness", "1")},
	})
}
