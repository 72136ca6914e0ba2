package hardening

import (
	"maps"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/idmap"
)

func TestPlanPodNetwork(t *testing.T) {
	const cni = "/var/run/netns/cni-1234"
	sysfs := specs.Mount{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}}
	proc := specs.Mount{Destination: "/proc", Type: "proc", Source: "proc"}
	newUserns := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}}
	hostOwned := map[string]idmap.UsernsInfo{cni: {Host: true}}
	podUserns := idmap.UsernsInfo{Path: "/proc/77/ns/user", GIDMap: []idmap.Mapping{{ContainerID: 0, Host: idmap.Range{Start: 300000, Size: 65536}}}}
	spec := func(user string, net string, sysctl map[string]string, mounts ...specs.Mount) *specs.Spec {
		l := &specs.Linux{Sysctl: sysctl}
		if user != "-" {
			l.Namespaces = append(l.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace, Path: user})
			if user == "" {
				l.UIDMappings, l.GIDMappings = newUserns, newUserns
			}
		}
		if net != "-" {
			l.Namespaces = append(l.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: net})
		}
		return &specs.Spec{Linux: l, Mounts: mounts}
	}
	containerd := map[string]string{
		"net.ipv4.ip_unprivileged_port_start": "0",
		"net.ipv4.ping_group_range":           "0 2147483647",
		"kernel.shmmax":                       "1000",
	}
	tests := []struct {
		name        string
		spec        *specs.Spec
		usernses    map[string]idmap.UsernsInfo
		hostNS      map[string]bool
		want        bool
		wantSysfs   int
		wantSysctls map[string]string
	}{
		{"sandbox in CNI's netns, new user namespace", spec("", cni, containerd, proc, sysfs), hostOwned, nil, true, 1,
			map[string]string{"net.ipv4.ip_unprivileged_port_start": "0", "net.ipv4.ping_group_range": "200000 265535"}},
		{"app container joining the sandbox's user namespace", spec("/proc/77/ns/user", cni, map[string]string{"net/ipv4/ping_group_range": "1000 1000"}, sysfs),
			map[string]idmap.UsernsInfo{cni: {Host: true}, "/proc/77/ns/ipc": podUserns}, nil, true, 0,
			map[string]string{"net/ipv4/ping_group_range": "301000 301000"}},
		{"sysfs only, no sysctls", spec("", cni, nil, sysfs), hostOwned, nil, true, 0, nil},
		{"ping range outside the mapping: nobody", spec("", cni, map[string]string{"net.ipv4.ping_group_range": "70000 80000"}), hostOwned, nil, true, -1,
			map[string]string{"net.ipv4.ping_group_range": "1 0"}},
		{"ping range clamped to the mapping", spec("", cni, map[string]string{"net.ipv4.ping_group_range": "10 100000"}), hostOwned, nil, true, -1,
			map[string]string{"net.ipv4.ping_group_range": "200010 265535"}},
		{"malformed ping range: nobody", spec("", cni, map[string]string{"net.ipv4.ping_group_range": "0"}), hostOwned, nil, true, -1,
			map[string]string{"net.ipv4.ping_group_range": "1 0"}},
		{"no user namespace", spec("-", cni, containerd, sysfs), hostOwned, nil, false, 0, nil},
		{"own network namespace", spec("", "", containerd, sysfs), hostOwned, nil, false, 0, nil},
		{"no network namespace entry", spec("", "-", containerd, sysfs), hostOwned, nil, false, 0, nil},
		{"netns owned by the pod's user namespace (hostUsers: false)", spec("/pinned/user", cni, containerd, sysfs),
			map[string]idmap.UsernsInfo{cni: podUserns}, nil, false, 0, nil},
		{"netns not inspected", spec("", cni, containerd, sysfs), nil, nil, false, 0, nil},
		{"the host's network namespace by /proc/1", spec("", "/proc/1/ns/net", containerd, sysfs), map[string]idmap.UsernsInfo{"/proc/1/ns/net": {Host: true}}, nil, false, 0, nil},
		{"the host's network namespace by another path", spec("", cni, containerd, sysfs), hostOwned, map[string]bool{cni: true}, false, 0, nil},
		{"nothing to do", spec("", cni, map[string]string{"kernel.shmmax": "1"}, proc), hostOwned, nil, false, 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			plan, ok := PlanPodNetwork(tc.spec, HostFacts{Usernses: tc.usernses, HostNamespaces: tc.hostNS})
			if ok != tc.want {
				t.Fatalf("PlanPodNetwork: %v, want %v (plan %+v)", ok, tc.want, plan)
			}
			if !ok {
				return
			}
			if plan.Netns != cni {
				t.Errorf("Netns %q, want %q", plan.Netns, cni)
			}
			if plan.Sysfs != tc.wantSysfs {
				t.Errorf("Sysfs %d, want %d", plan.Sysfs, tc.wantSysfs)
			}
			if !maps.Equal(plan.Sysctls, tc.wantSysctls) {
				t.Errorf("Sysctls %v, want %v", plan.Sysctls, tc.wantSysctls)
			}
		})
	}
}
