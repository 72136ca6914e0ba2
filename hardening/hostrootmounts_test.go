package hardening

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Without a user namespace of its own, container root is host root, and
// host-mounts refuses more: anything under /run, read-write binds of the
// host's program directories and /var/spool.
func TestRefuseHostMountsAsHostRoot(t *testing.T) {
	bind := func(src string, opts ...string) func(*specs.Spec) {
		return func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Type: "bind", Source: src, Options: append([]string{"rbind"}, opts...)})
		}
	}
	noUserns := func(tweak func(*specs.Spec)) func(*specs.Spec) {
		return func(s *specs.Spec) {
			var ns []specs.LinuxNamespace
			for _, n := range s.Linux.Namespaces {
				if n.Type != specs.UserNamespace {
					ns = append(ns, n)
				}
			}
			s.Linux.Namespaces = ns
			tweak(s)
		}
	}
	off := func(p *Policy) { p.UserNamespace.Enabled = false }
	runRefusalCases(t, RuleHostMounts, RefuseHostMounts, []refusalCase{
		{name: "user namespaces on: /usr/local/bin read-write", tweak: bind("/usr/local/bin", "rw")},
		{name: "user namespaces on: /run/dbus", tweak: bind("/run/dbus")},
		{name: "off: /usr/local/bin read-write", pol: off, tweak: noUserns(bind("/usr/local/bin", "rw")),
			want: []string{`bind mount of host path /usr/local/bin at /mnt exposes /usr (container root is host root) / "allowHostMounts": ["/usr/local/bin"]`}},
		{name: "off: /usr/share read-only", pol: off, tweak: noUserns(bind("/usr/share", "ro"))},
		{name: "off: /run/dbus read-only", pol: off, tweak: noUserns(bind("/run/dbus", "ro")), want: []string{`/run/dbus at /mnt exposes /run (container root is host root)`}},
		{name: "off: /var/run/dbus/system_bus_socket", pol: off, tweak: noUserns(bind("/var/run/dbus/system_bus_socket")), want: []string{`"allowHostMounts": ["/run/dbus/system_bus_socket"]`}},
		{name: "off: allowed by allowHostMounts", pol: func(p *Policy) { off(p); p.AllowHostMounts = []string{"/run/app"} }, tweak: noUserns(bind("/run/app/sock"))},
		{name: "off: Podman's per-container files", pol: off, tweak: noUserns(bind("/run/containers/storage/overlay-containers/abc/userdata/hosts"))},
		{name: "off: a data directory read-write", pol: off, tweak: noUserns(bind("/srv/data", "rw"))},
		{name: "off: the CNI plugins read-write", pol: off, tweak: noUserns(bind("/opt/cni/bin", "rw")), want: []string{`/opt/cni/bin at /mnt exposes /opt (container root is host root)`}},
		{name: "off: dpkg's maintainer scripts read-write", pol: off, tweak: noUserns(bind("/var/lib/dpkg/info", "rw")), want: []string{`exposes /var/lib/dpkg`}},
		{name: "off, but the caller's own user namespace", pol: off, tweak: func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
			bind("/usr/local/bin", "rw")(s)
		}},
		{name: "off, the caller's user namespace maps host root", pol: off, tweak: func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 0, Size: 65536}}
			bind("/usr/local/bin", "rw")(s)
		}, want: []string{`(container root is host root)`}},
		{name: "the host cannot make a user namespace", facts: HostFacts{UsernsUnsupported: "no user namespaces"}, tweak: noUserns(bind("/sbin", "rw")),
			want: []string{`/sbin at /mnt (container root is host root)`}},
	})
}
