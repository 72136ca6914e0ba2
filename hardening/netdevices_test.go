package hardening

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestRefuseNetDevices(t *testing.T) {
	move := func(names ...string) func(*specs.Spec) {
		return func(s *specs.Spec) {
			s.Linux.NetDevices = map[string]specs.LinuxNetDevice{}
			for _, n := range names {
				s.Linux.NetDevices[n] = specs.LinuxNetDevice{Name: "net0"}
			}
		}
	}
	allow := func(names ...string) func(*Policy) {
		return func(p *Policy) { p.AllowNetDevices = names }
	}
	runRefusalCases(t, RuleNetDevices, RefuseNetDevices, []refusalCase{
		{name: "none"},
		{name: "empty map", tweak: move()},
		{name: "the host's uplink", tweak: move("eth0"),
			want: []string{`linux.netDevices moves host network interface eth0 into the container / "allowNetDevices": ["eth0"]`}},
		{name: "every one named, sorted", tweak: move("eth1", "bond0"),
			want: []string{`interface bond0 `, `interface eth1 `}},
		{name: "allowed", tweak: move("sriov3"), pol: allow("sriov3")},
		{name: "one allowed, one not", tweak: move("sriov3", "eth0"), pol: allow("sriov3"),
			want: []string{`"allowNetDevices": ["eth0"]`}},
	})
}

func TestPolicyAllowNetDevices(t *testing.T) {
	for _, tc := range []struct {
		policy string
		ok     bool
	}{
		{`{"allowNetDevices": ["eth1"]}`, true},
		{`{"exceptions": [{"match": {"io.kubernetes.pod.name": "dpdk"}, "allow": {"allowNetDevices": ["sriov0"]}}]}`, true},
		{`{"allowNetDevices": ["../eth0"]}`, false},
		{`{"allowNetDevices": ["a-name-longer-than-15"]}`, false},
		{`{"allowNetDevices": [""]}`, false},
	} {
		_, err := ParsePolicy("test", []byte(tc.policy))
		if (err == nil) != tc.ok {
			t.Errorf("%s: err %v, want ok %v", tc.policy, err, tc.ok)
		}
	}
}
