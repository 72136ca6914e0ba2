package hardening

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func devNode(path, typ string, major, minor int64) specs.LinuxDevice {
	return specs.LinuxDevice{Path: path, Type: typ, Major: major, Minor: minor}
}

func rwmRule(typ string, major, minor *int64) specs.LinuxDeviceCgroup {
	return specs.LinuxDeviceCgroup{Allow: true, Type: typ, Major: major, Minor: minor, Access: "rwm"}
}

func i64(v int64) *int64 { return &v }

func TestRefuseHostDevices(t *testing.T) {
	t.Parallel()
	docker := func(t testing.TB) *specs.Spec { return dockerSpec(t) }
	addNode := func(d specs.LinuxDevice) func(*specs.Spec) {
		return func(s *specs.Spec) { s.Linux.Devices = append(s.Linux.Devices, d) }
	}
	addRule := func(d specs.LinuxDeviceCgroup) func(*specs.Spec) {
		return func(s *specs.Spec) {
			if s.Linux.Resources == nil {
				s.Linux.Resources = &specs.LinuxResources{}
			}
			s.Linux.Resources.Devices = append(s.Linux.Resources.Devices, d)
		}
	}
	runRefusalCases(t, RuleHostDevices, RefuseHostDevices, []refusalCase{
		{name: "runc example passes"},
		{name: "docker defaults pass (mknod-only wildcards, tun)", base: docker},
		{name: "standard nodes pass", tweak: addNode(devNode("/dev/null", "c", 1, 3))},
		{name: "pty slave passes", tweak: addNode(devNode("/dev/pts/3", "c", 136, 3))},
		{name: "host disk", tweak: addNode(devNode("/dev/sda", "b", 8, 0)), want: []string{`host device /dev/sda (b 8:0) / "allowDevices": ["b 8:0"]`}},
		{name: "a disk named /dev/null is still a disk", tweak: addNode(devNode("/dev/null", "b", 8, 0)), want: []string{"host device /dev/null (b 8:0)"}},
		{name: "kmsg", tweak: addNode(devNode("/dev/kmsg", "c", 1, 11)), want: []string{"c 1:11"}},
		{name: "fuse allowed by policy", pol: func(p *Policy) { p.AllowDevices = []string{"c 10:229"} },
			tweak: func(s *specs.Spec) {
				addNode(devNode("/dev/fuse", "c", 10, 229))(s)
				addRule(rwmRule("c", i64(10), i64(229)))(s)
			}},
		{name: "allow all (privileged)", tweak: addRule(specs.LinuxDeviceCgroup{Allow: true, Access: "rwm"}), want: []string{"device cgroup allows a *:* rwm"}},
		{name: "allow all type a", tweak: addRule(specs.LinuxDeviceCgroup{Allow: true, Type: "a"}), want: []string{"device cgroup allows a *:* rwm"}},
		{name: "all block devices readable", tweak: addRule(specs.LinuxDeviceCgroup{Allow: true, Type: "b", Access: "r"}), want: []string{"b *:* r"}},
		{name: "deny rules are fine", tweak: addRule(specs.LinuxDeviceCgroup{Allow: false, Access: "rwm"})},
		{name: "mknod-only is fine", tweak: addRule(specs.LinuxDeviceCgroup{Allow: true, Type: "b", Access: "m"})},
	})
}

func TestParseDeviceSpec(t *testing.T) {
	t.Parallel()
	// Every form a refusal's hint prints must parse back to itself.
	for in, want := range map[string]string{"c 10:229": "c 10:229", "b 8:*": "b 8:*", "a *:*": "a *:*", "c *:*": "c *:*", "a 1:3": "a 1:3"} {
		d, err := parseDeviceSpec(in)
		if err != nil || d.String() != want {
			t.Errorf("%q: %v %v", in, d, err)
		}
	}
	for _, bad := range []string{"", "c", "x 1:3", "c x:1", "c **:1", "c 1:-1", "c -1:2", "c 1:3:4"} {
		if _, err := parseDeviceSpec(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}
