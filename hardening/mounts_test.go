package hardening

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func addBind(src, dst string, opts ...string) func(*specs.Spec) {
	return func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: dst, Type: "bind", Source: src, Options: append([]string{"rbind"}, opts...)})
	}
}

func TestRefuseHostMounts(t *testing.T) {
	t.Parallel()
	docker := func(t testing.TB) *specs.Spec { return dockerSpec(t) }
	runRefusalCases(t, RuleHostMounts, RefuseHostMounts, []refusalCase{
		{name: "runc example passes"},
		{name: "docker fixture with its shm, hosts and volume passes", base: docker, facts: dockerFacts()},
		{name: "docker socket", tweak: addBind("/var/run/docker.sock", "/var/run/docker.sock"),
			want: []string{`bind mount of host path /var/run/docker.sock at /var/run/docker.sock / "allowHostMounts": ["/run/docker.sock"]`}},
		{name: "docker socket via dot-dot", tweak: addBind("/var/run/../run/docker.sock", "/sock"),
			want: []string{"/var/run/../run/docker.sock"}},
		{name: "containerd socket anywhere", tweak: addBind("/opt/k3s/containerd/containerd.sock", "/c.sock"), want: []string{"containerd.sock"}},
		{name: "host root read-only", tweak: addBind("/", "/host", "ro"), want: []string{"bind mount of host path / at /host"}},
		{name: "host /var exposes docker state", tweak: addBind("/var", "/hostvar", "ro"), want: []string{"exposes /var/lib/docker"}},
		{name: "etc read-write", tweak: addBind("/etc", "/hostetc"), want: []string{"host path /etc at /hostetc"}},
		{name: "etc/localtime read-only is fine", tweak: addBind("/etc/localtime", "/etc/localtime", "ro")},
		{name: "etc/shadow read-only is not", tweak: addBind("/etc/shadow", "/x", "ro"), want: []string{"/etc/shadow"}},
		{name: "etc read-only exposes shadow", tweak: addBind("/etc", "/hostetc", "ro"), want: []string{"exposes /etc/shadow"}},
		{name: "ro then rw is rw", tweak: addBind("/etc/passwd", "/x", "ro", "rw"), want: []string{"/etc/passwd"}},
		{name: "ro then rrw is rw", tweak: addBind("/etc/cron.d", "/x", "ro", "rrw"), want: []string{"/etc/cron.d at /x exposes /etc"}},
		{name: "sys ro then rrw is rw", tweak: addBind("/sys", "/s", "ro", "rrw"), want: []string{`host path /sys at /s / "allowHostMounts": ["/sys"]`}},
		{name: "sysfs-typed bind ro then rrw is rw", tweak: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/s", Type: "sysfs", Source: "/sys", Options: []string{"rbind", "ro", "rrw"}})
		}, want: []string{"host path /sys at /s"}},
		{name: "rro then rw is read-only", tweak: addBind("/etc/cron.d", "/x", "rro", "rw")},
		{name: "sys read-write", tweak: addBind("/sys/kernel", "/k"), want: []string{"/sys/kernel"}},
		{name: "sys read-only is fine", tweak: addBind("/sys/class/net", "/n", "ro")},
		{name: "dev disk", tweak: addBind("/dev/sda", "/dev/sda"), want: []string{"/dev/sda"}},
		{name: "lib/modules", tweak: addBind("/lib/modules", "/lib/modules", "ro"), want: []string{"/lib/modules"}},
		{name: "another container's rootfs", tweak: addBind("/var/lib/docker/overlay2/other/merged", "/o"), want: []string{"/var/lib/docker/overlay2/other/merged"}},
		{name: "docker volume subpath is fine", tweak: addBind("/var/lib/docker/volumes/data/_data/sub", "/d")},
		{name: "docker volume parent is not", tweak: addBind("/var/lib/docker/volumes", "/v"), want: []string{"/var/lib/docker/volumes"}},
		{name: "containerd CRI shm is fine", tweak: addBind("/run/containerd/io.containerd.grpc.v1.cri/sandboxes/abc/shm", "/dev/shm")},
		{name: "ordinary data dir is fine", tweak: addBind("/srv/data", "/data")},
		{name: "relative source against the bundle", facts: HostFacts{Bundle: "/bundles/x"}, tweak: addBind("../../etc", "/e"), want: []string{"host path ../../etc"}},
		{name: "innocent source resolving to the docker socket",
			facts: HostFacts{MountSources: map[string]string{"/srv/sock": "/run/docker.sock"}},
			tweak: addBind("/srv/sock", "/sock"), want: []string{"(resolves to /run/docker.sock)"}},
		{name: "own rootfs subdirectory is fine", facts: HostFacts{Rootfs: "/var/lib/docker/overlay2/x/merged"},
			tweak: addBind("/var/lib/docker/overlay2/x/merged/tmp", "/tmp")},
		{name: "own rootfs subdirectory that is a symlink to /etc",
			facts: HostFacts{Rootfs: "/var/lib/docker/overlay2/x/merged", MountSources: map[string]string{"/var/lib/docker/overlay2/x/merged/evil": "/etc"}},
			tweak: addBind("/var/lib/docker/overlay2/x/merged/evil", "/e"), want: []string{"(resolves to /etc)"}},
		{name: "socket allowed by policy", pol: func(p *Policy) { p.AllowHostMounts = []string{"/var/run/docker.sock"} },
			tweak: addBind("/var/run/docker.sock", "/var/run/docker.sock")},
		{name: "read-write sysfs (privileged)", tweak: func(s *specs.Spec) {
			for i := range s.Mounts {
				if s.Mounts[i].Type == "sysfs" {
					s.Mounts[i].Options = []string{"nosuid", "noexec", "nodev", "rw"}
				}
			}
		}, want: []string{`read-write sysfs at /sys / "allowHostMounts": ["/sys"]`}},
		{name: "read-write cgroup", tweak: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/sys/fs/cgroup", Type: "cgroup2", Source: "cgroup"})
		}, want: []string{"read-write cgroup filesystem at /sys/fs/cgroup"}},
		{name: "devtmpfs", tweak: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/hostdev", Type: "devtmpfs", Source: "devtmpfs"})
		}, want: []string{"devtmpfs filesystem at /hostdev"}},
	})
}
