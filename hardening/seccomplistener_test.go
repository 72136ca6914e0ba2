package hardening

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestRefuseSeccompListener(t *testing.T) {
	listener := func(path string) func(*specs.Spec) {
		return func(s *specs.Spec) {
			s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, ListenerPath: path}
		}
	}
	allow := func(paths ...string) func(*Policy) {
		return func(p *Policy) { p.AllowSeccompListeners = paths }
	}
	runRefusalCases(t, RuleSeccompListener, RefuseSeccompListener, []refusalCase{
		{name: "no profile"},
		{name: "no listener", tweak: listener("")},
		{name: "a host socket", tweak: listener("/run/docker.sock"),
			want: []string{`seccomp notify listener /run/docker.sock / "allowSeccompListeners": ["/run/docker.sock"]`}},
		{name: "relative", tweak: listener("agent.sock"), pol: allow("/agent.sock"),
			want: []string{`seccomp notify listener agent.sock`}},
		{name: "allowed agent", tweak: listener("/run/seccomp-agent.sock"), pol: allow("/run/seccomp-agent.sock")},
		{name: "allowed after cleaning", tweak: listener("/run//seccomp-agent.sock"), pol: allow("/run/seccomp-agent.sock")},
		{name: "another socket than the allowed one", tweak: listener("/run/seccomp-agent.sock.other"), pol: allow("/run/seccomp-agent.sock"),
			want: []string{`"allowSeccompListeners": ["/run/seccomp-agent.sock.other"]`}},
	})
}

// A caller's blocking profile is kept, but not its SPEC_ALLOW flag.
func TestEnforceSeccompDropsSpecAllow(t *testing.T) {
	s := example(t)
	s.Linux.Seccomp = &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Flags:         []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow},
		Syscalls:      []specs.LinuxSyscall{{Names: []string{"read", "write", "exit_group"}, Action: specs.ActAllow}},
	}
	if err := EnforceSeccomp(s, DefaultPolicy(), HostFacts{}, &Report{}); err != nil {
		t.Fatal(err)
	}
	if got := s.Linux.Seccomp.Flags; len(got) != 1 || got[0] != specs.LinuxSeccompFlagLog {
		t.Errorf("flags %v, want only %s", got, specs.LinuxSeccompFlagLog)
	}
}
