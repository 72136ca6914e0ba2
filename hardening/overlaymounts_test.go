package hardening

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestRefuseHostMountsOverlayDirs(t *testing.T) {
	overlay := func(opts ...string) func(*specs.Spec) {
		return func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Type: "overlay", Source: "overlay", Options: opts})
		}
	}
	inRootfs := HostFacts{Bundle: "/srv/b", Rootfs: "/srv/b/rootfs"}
	runRefusalCases(t, RuleHostMounts, RefuseHostMounts, []refusalCase{
		{name: "layers in the rootfs", facts: inRootfs, tweak: overlay("lowerdir=/srv/b/rootfs/a:/srv/b/rootfs/b")},
		{name: "podman-style volume overlay", tweak: overlay("lowerdir=/srv/data", "upperdir=/var/lib/containers/storage/overlay-containers/x/userdata/overlay/1/upper", "workdir=/var/lib/containers/storage/overlay-containers/x/userdata/overlay/1/work")},
		{name: "host /etc as a lower layer", tweak: overlay("lowerdir=/etc:/srv/x"),
			want: []string{`overlay mount at /mnt: lowerdir /etc exposes /etc/shadow / "allowHostMounts": ["/etc"]`}},
		{name: "read-only layer of /etc/ssl is as fine as a read-only bind", tweak: overlay("lowerdir=/etc/ssl:/srv/x")},
		{name: "upper layer in /etc is not", tweak: overlay("lowerdir=/srv/x", "upperdir=/etc/cron.d", "workdir=/etc/w"),
			want: []string{`upperdir /etc/cron.d exposes /etc / "allowHostMounts": ["/etc/cron.d"]`, `workdir /etc/w`}},
		{name: "allowed by allowHostMounts", tweak: overlay("lowerdir=/root/a:/root/b"), pol: func(p *Policy) { p.AllowHostMounts = []string{"/root"} }},
		{name: "comma inside one option", tweak: overlay("lowerdir=/srv/x,lowerdir=/root"), want: []string{`lowerdir /root / "allowHostMounts": ["/root"]`}},
		{name: "datadir+", tweak: overlay("lowerdir+=/srv/x", "datadir+=/var/lib/docker"), want: []string{`datadir+ /var/lib/docker`}},
		{name: "resolved through a symlink", facts: HostFacts{MountSources: map[string]string{"/srv/link": "/root"}}, tweak: overlay("lowerdir=/srv/link:/srv/x"),
			want: []string{`lowerdir /srv/link (resolves to /root)`}},
		{name: "relative", tweak: overlay("lowerdir=etc:/srv/x"), want: []string{`lowerdir etc is not an absolute path`}},
		{name: "escape", tweak: overlay(`lowerdir=/srv/x\:/etc`), want: []string{`option "lowerdir=/srv/x\\:/etc" holds an escape`}},
		{name: "any type with layer options", tweak: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Type: "fuse.fuse-overlayfs", Source: "x", Options: []string{"upperdir=/root/u"}})
		}, want: []string{`upperdir /root/u`}},
	})
}
