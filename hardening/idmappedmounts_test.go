package hardening

import (
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/idmap"
)

func TestRefuseIDMappedMounts(t *testing.T) {
	t.Parallel()
	own := mapping(testRange.Start, testRange.Size) // allDirs' IDRange
	other := mapping(0x60000000, 65536)
	root := mapping(0, 65536)
	bind := func(src, dst string, opts []string, uid, gid []specs.LinuxIDMapping) func(*specs.Spec) {
		return func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: dst, Type: "bind", Source: src, Options: append([]string{"rbind"}, opts...), UIDMappings: uid, GIDMappings: gid})
		}
	}
	both := func(tweaks ...func(*specs.Spec)) func(*specs.Spec) {
		return func(s *specs.Spec) {
			for _, tw := range tweaks {
				tw(s)
			}
		}
	}
	withUserns := func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		s.Linux.UIDMappings, s.Linux.GIDMappings = own, own
	}
	const pinned = "/var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/abc/pinned-namespaces/user"
	joinPinned := func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace, Path: pinned})
		s.Linux.UIDMappings, s.Linux.GIDMappings = other, other
	}
	facts := allDirs("/bundles/example/rootfs")
	noUserns := func(p *Policy) { p.UserNamespace.Enabled = false }
	pod := "/var/lib/kubelet/pods/0f1e/volumes/kubernetes.io~empty-dir/cache"
	runRefusalCases(t, RuleIDMappedMounts, RefuseIDMappedMounts, []refusalCase{
		{name: "no idmapped mount", facts: facts, tweak: bind("/srv", "/srv", nil, nil, nil)},
		{name: "idmap option on /usr/local/bin", facts: facts, tweak: bind("/usr/local/bin", "/x", []string{"idmap"}, nil, nil),
			want: []string{`idmapped mount of /usr/local/bin at /x: /usr/local/bin is not below a directory where engines idmap volumes / "idmapMountSources": ["/usr/local/bin"]`}},
		{name: "ridmap on /var/spool/cron", facts: facts, tweak: bind("/var/spool/cron", "/x", []string{"ridmap"}, nil, nil),
			want: []string{"idmapped mount of /var/spool/cron at /x: /var/spool/cron is not below"}},
		{name: "own mapping on /home", facts: facts, tweak: bind("/home", "/home", nil, own, own),
			want: []string{"/home is not below"}},
		{name: "another mapping", facts: facts, tweak: bind(pod, "/cache", nil, other, other),
			want: []string{"mapping (uid 0:1610612736:65536, gid 0:1610612736:65536) is not the container's own (uid 0:1879048192:65536, gid 0:1879048192:65536) / "}},
		{name: "uid mapping only", facts: facts, tweak: bind(pod, "/cache", nil, own, nil),
			want: []string{"is not the container's own"}},
		{name: "host ID 0", facts: facts, tweak: bind(pod, "/cache", nil, root, root),
			want: []string{"its mapping includes host ID 0"}},
		{name: "host ID 0 inside a range of several", facts: facts, tweak: bind(pod, "/cache", nil, append(slices2(own), specs.LinuxIDMapping{ContainerID: 70000, HostID: 0, Size: 1}), own),
			want: []string{"includes host ID 0"}},
		{name: "engine-style on a kubelet volume", facts: facts, tweak: bind(pod, "/cache", nil, own, own)},
		{name: "engine-style with idmap option", facts: facts, tweak: bind(pod, "/cache", []string{"idmap"}, nil, nil)},
		{name: "the listed directory itself", facts: facts, tweak: bind("/var/lib/kubelet/pods", "/pods", nil, own, own),
			want: []string{"/var/lib/kubelet/pods is not below"}},
		{name: "below a listed directory by name, resolving elsewhere",
			facts: func() HostFacts {
				f := allDirs("/bundles/example/rootfs")
				f.MountSources = map[string]string{pod: "/usr/local/bin"}
				return f
			}(),
			tweak: bind(pod, "/cache", nil, own, own), want: []string{"/usr/local/bin is not below"}},
		{name: "relative source", facts: facts, tweak: bind("volumes/x", "/cache", nil, own, own), want: []string{"volumes/x is not an absolute host path below a directory where engines idmap volumes / "}},
		{name: "listed by the policy", facts: facts, pol: func(p *Policy) { p.IDMapMountSources = append(p.IDMapMountSources, "/srv") },
			tweak: bind("/srv/data", "/data", []string{"idmap"}, nil, nil)},
		{name: "a pattern entry", facts: facts, pol: func(p *Policy) { p.IDMapMountSources = []string{"/tmp/cri-*/root/io.containerd.grpc.v1.cri"} },
			tweak: bind("/tmp/cri-42/root/io.containerd.grpc.v1.cri/sandboxes/abc/hosts", "/etc/hosts", []string{"idmap"}, nil, nil)},
		{name: "a pattern entry, other directory", facts: facts, pol: func(p *Policy) { p.IDMapMountSources = []string{"/tmp/cri-*/root/io.containerd.grpc.v1.cri"} },
			tweak: bind("/tmp/cri-42/root/other/hosts", "/etc/hosts", []string{"idmap"}, nil, nil), want: []string{"/tmp/cri-42/root/other/hosts is not below"}},
		{name: "a pattern entry, its directory itself", facts: facts, pol: func(p *Policy) { p.IDMapMountSources = []string{"/tmp/cri-*/root/io.containerd.grpc.v1.cri"} },
			tweak: bind("/tmp/cri-42/root/io.containerd.grpc.v1.cri", "/x", []string{"idmap"}, nil, nil), want: []string{"is not below"}},
		{name: "no range allocated and no user namespace", pol: noUserns, tweak: bind(pod, "/cache", []string{"idmap"}, nil, nil),
			want: []string{"the container has no user namespace"}},
		{name: "userns off, caller's own new namespace", pol: noUserns, tweak: both(withUserns, bind(pod, "/cache", nil, own, own))},
		{name: "userns off, mapping differs from the container's", pol: noUserns, tweak: both(withUserns, bind(pod, "/cache", nil, other, other)),
			want: []string{"is not the container's own"}},
		{name: "containerd 2 pod: pinned namespace, matching mappings", pol: noUserns, tweak: both(joinPinned, bind(pod, "/cache", nil, other, other))},
		{name: "containerd 2 pod on a host directory", pol: noUserns, tweak: both(joinPinned, bind("/etc/cron.d", "/x", nil, other, other)),
			want: []string{"/etc/cron.d is not below"}},
		{name: "joined namespace whose real mapping differs", pol: noUserns,
			facts: HostFacts{Usernses: map[string]idmap.UsernsInfo{pinned: {Path: "/proc/7/ns/user", UIDMap: []idmap.Mapping{{Host: idmap.Range{Start: 0x50000000, Size: 65536}}}, GIDMap: []idmap.Mapping{{Host: idmap.Range{Start: 0x50000000, Size: 65536}}}}}},
			tweak: both(joinPinned, bind(pod, "/cache", nil, other, other)), want: []string{"is not the container's own"}},
		{name: "joined namespace, mapping unknown", pol: noUserns,
			tweak: both(func(s *specs.Spec) {
				s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace, Path: pinned})
			}, bind(pod, "/cache", []string{"idmap"}, nil, nil)),
			want: []string{"the mapping of the joined user namespace " + pinned + " is unknown"}},
		{name: "idmapBindMounts: what the runtime would do itself", facts: facts,
			pol:   func(p *Policy) { p.UserNamespace.IDMapBindMounts = true },
			tweak: bind("/srv/data", "/data", nil, own, own)},
		{name: "a tmpfs with mappings", facts: facts, tweak: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/t", Type: "tmpfs", Source: "tmpfs", UIDMappings: own, GIDMappings: own})
		}, want: []string{"idmapped mount of tmpfs at /t: tmpfs is not an absolute host path"}},
	})
}

func slices2(m []specs.LinuxIDMapping) []specs.LinuxIDMapping {
	return append([]specs.LinuxIDMapping{}, m...)
}

func TestIDMappedMountOptions(t *testing.T) {
	t.Parallel()
	own := mapping(testRange.Start, testRange.Size)
	s := exampleSpec()
	s.Mounts = append(s.Mounts,
		specs.Mount{Destination: "/a", Type: "bind", Source: "/var/lib/kubelet/pods/x/volumes/a", Options: []string{"rbind", "suid", "dev"}, UIDMappings: own, GIDMappings: own},
		specs.Mount{Destination: "/b", Type: "bind", Source: "/var/lib/kubelet/pods/x/volumes/b", Options: []string{"rbind", "idmap", "nosuid", "nodev"}},
		specs.Mount{Destination: "/c", Type: "bind", Source: "/srv", Options: []string{"rbind", "suid"}},
	)
	r := &Report{}
	IDMappedMountOptions(s, nil, HostFacts{}, r)
	n := len(s.Mounts)
	for i, want := range [][]string{{"rbind", "nosuid", "nodev"}, {"rbind", "idmap", "nosuid", "nodev"}, {"rbind", "suid"}} {
		if got := s.Mounts[n-3+i].Options; !reflect.DeepEqual(got, want) {
			t.Errorf("%s: options %v, want %v", s.Mounts[n-3+i].Destination, got, want)
		}
	}
	if got := changedPaths(r); !reflect.DeepEqual(got, []string{"mounts[destination=/a].options"}) {
		t.Errorf("changes %v", got)
	}
}

// TestIDMappedMountsThroughHarden: a caller's idmapped volume on a listed
// source survives hardening with nosuid,nodev; one on a host directory is
// refused and the spec left as it was.
func TestIDMappedMountsThroughHarden(t *testing.T) {
	t.Parallel()
	own := mapping(testRange.Start, testRange.Size)
	s := exampleSpec()
	s.Annotations = map[string]string{AnnotationCRISandboxUID: "x"} // the pod's own volume
	s.Mounts = append(s.Mounts, specs.Mount{Destination: "/cache", Type: "bind", Source: "/var/lib/kubelet/pods/x/volumes/c", Options: []string{"rbind"}, UIDMappings: own, GIDMappings: own})
	f := allDirs("/bundles/example/rootfs")
	if _, err := Harden(s, DefaultPolicy(), f); err != nil {
		t.Fatal(err)
	}
	m := s.Mounts[len(exampleSpec().Mounts)]
	if !reflect.DeepEqual(m.Options, []string{"rbind", "nosuid", "nodev"}) || !reflect.DeepEqual(m.UIDMappings, own) {
		t.Errorf("mount %+v", m)
	}
	hardenTwice(t, s, DefaultPolicy(), f)

	s = exampleSpec()
	s.Mounts = append(s.Mounts, specs.Mount{Destination: "/x", Type: "bind", Source: "/usr/local/bin", Options: []string{"rbind", "idmap"}})
	rep, err := Harden(s, DefaultPolicy(), f)
	if err == nil || len(rep.Refusals) != 1 || rep.Refusals[0].Rule != RuleIDMappedMounts {
		t.Errorf("err %v, refusals %+v", err, rep.Refusals)
	}
}
