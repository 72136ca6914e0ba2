package userns

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/hardening"
	"github.com/hardened-runtime/hardened/idmap"
)

// These tests need no root: they cover what staging decides, not the
// mounts it makes (overlay_test.go mounts, as root).

// The staging directory depends only on the runtime root and the ID, so
// delete finds it without saved state; two roots never share one.
func TestStagingDir(t *testing.T) {
	a, b := stagingDir("/run/docker/runtime-runc/moby", "c1"), stagingDir("/run/containerd/runc/k8s.io", "c1")
	if a != stagingDir("/run/docker/runtime-runc/moby", "c1") {
		t.Error("stagingDir is not a function of root and id")
	}
	if a == b {
		t.Errorf("two roots share %s", a)
	}
	for _, d := range []string{a, b} {
		if !strings.HasPrefix(d, stagingBase+"/") || filepath.Base(d) != "c1" {
			t.Errorf("%s: not <%s>/<root hash>/<id>", d, stagingBase)
		}
	}
}

// Rewrite points libcontainer's copy of the spec at what was staged: the
// rootfs, the pinned bind sources, the writable paths inside the real or
// the written rootfs; nothing else.
func TestStageRewrite(t *testing.T) {
	u := &Stage{
		rootfs:  "/var/lib/docker/overlay2/abc/merged",
		written: "/bundle/rootfs",
		staged:  "/run/hardened-idmap/x/c1/rootfs",
		dir:     "/run/hardened-idmap/x/c1",
		binds:   map[int]string{0: "/run/hardened-idmap/x/c1/bind0"},
	}
	s := &specs.Spec{
		Root: &specs.Root{Path: "/bundle/rootfs"},
		Mounts: []specs.Mount{
			{Destination: "/etc/hosts", Type: "bind", Source: "/var/lib/docker/containers/c1/hosts", Options: []string{"rbind"}},
			{Destination: "/tmp", Type: "bind", Source: "/var/lib/docker/overlay2/abc/merged/tmp", Options: []string{"bind"}},
			{Destination: "/var/log", Type: "bind", Source: "/bundle/rootfs/var/log", Options: []string{"bind"}},
			{Destination: "/data", Type: "bind", Source: "/bundle/rootfs-other/data", Options: []string{"bind"}},
			{Destination: "/proc", Type: "proc", Source: "/bundle/rootfs/proc"},
		},
	}
	u.Rewrite(s)
	want := []string{
		"/run/hardened-idmap/x/c1/bind0",
		"/run/hardened-idmap/x/c1/rootfs/tmp",
		"/run/hardened-idmap/x/c1/rootfs/var/log",
		"/bundle/rootfs-other/data", // beside the rootfs, not in it
		"/bundle/rootfs/proc",       // not a bind
	}
	for i, m := range s.Mounts {
		if m.Source != want[i] {
			t.Errorf("mount %s: source %s, want %s", m.Destination, m.Source, want[i])
		}
	}
	if s.Root.Path != u.staged {
		t.Errorf("root.path %s, want %s", s.Root.Path, u.staged)
	}
	// No stage (audit mode, no runtime root): nothing changes.
	var none *Stage
	none.Rewrite(s)
}

// A pod's sysfs, mounted from the host side, replaces the spec's sysfs
// mount; the sysctls written there are left out of libcontainer's copy
// only, not of the bundle's spec.
func TestPodNetworkRewrite(t *testing.T) {
	sysctl := map[string]string{"net.ipv4.ip_forward": "1", "kernel.msgmax": "8192"}
	s := &specs.Spec{
		Root:   &specs.Root{Path: "/r"},
		Mounts: []specs.Mount{{Destination: "/proc", Type: "proc"}, {Destination: "/sys", Type: "sysfs", Source: "sysfs"}},
		Linux:  &specs.Linux{Sysctl: sysctl},
	}
	u := &Stage{podNet: &podNetwork{sysfsMount: 1, sysfs: "/run/hardened-idmap/x/c1/sys", sysctls: map[string]string{"net.ipv4.ip_forward": "1"}}}
	u.Rewrite(s)
	if m := s.Mounts[1]; m.Type != "bind" || m.Source != "/run/hardened-idmap/x/c1/sys" || m.Destination != "/sys" || !reflect.DeepEqual(m.Options, []string{"bind", "ro", "nosuid", "nodev", "noexec"}) {
		t.Errorf("sysfs mount: %+v", m)
	}
	if !reflect.DeepEqual(s.Linux.Sysctl, map[string]string{"kernel.msgmax": "8192"}) {
		t.Errorf("sysctls left to libcontainer: %v", s.Linux.Sysctl)
	}
	if len(sysctl) != 2 {
		t.Errorf("the bundle's sysctls changed: %v", sysctl)
	}
	if s.Root.Path != "/r" {
		t.Errorf("root.path changed without a staged rootfs: %s", s.Root.Path)
	}
}

// The caller's own mapping is asked for only when it is one range from
// container ID 0, the same for users and groups.
func TestCallerRange(t *testing.T) {
	m := func(c, h, n uint32) specs.LinuxIDMapping {
		return specs.LinuxIDMapping{ContainerID: c, HostID: h, Size: n}
	}
	for _, tc := range []struct {
		name     string
		uid, gid []specs.LinuxIDMapping
		want     *idmap.Range
	}{
		{"one range", []specs.LinuxIDMapping{m(0, 100000, 65536)}, []specs.LinuxIDMapping{m(0, 100000, 65536)}, &idmap.Range{Start: 100000, Size: 65536}},
		{"none", nil, nil, nil},
		{"uids and gids differ", []specs.LinuxIDMapping{m(0, 100000, 65536)}, []specs.LinuxIDMapping{m(0, 200000, 65536)}, nil},
		{"not from 0", []specs.LinuxIDMapping{m(1, 100000, 65536)}, []specs.LinuxIDMapping{m(1, 100000, 65536)}, nil},
		{"two ranges", []specs.LinuxIDMapping{m(0, 100000, 1), m(1, 200000, 10)}, []specs.LinuxIDMapping{m(0, 100000, 1)}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &specs.Spec{Linux: &specs.Linux{UIDMappings: tc.uid, GIDMappings: tc.gid}}
			if got := callerRange(s); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("callerRange = %v, want %v", got, tc.want)
			}
		})
	}
	if got := callerRange(&specs.Spec{}); got != nil {
		t.Errorf("no linux section: %v", got)
	}
}

// The owner shift of a container's layer: IDs at rest go into the range
// and come back out; IDs of a stale range (a delete that never shifted
// back) go into the new range; others stay.
func TestOwnerShift(t *testing.T) {
	rng := idmap.Range{Start: 200000, Size: 65536}
	stale := &idmap.Range{Start: 300000, Size: 65536}
	into, out := intoRange(rng, stale), outOfRange(rng)
	for _, tc := range []struct {
		id, want uint32
		shifted  bool
	}{
		{0, 200000, true},
		{1000, 201000, true},
		{65535, 265535, true},
		{300000, 200000, true},
		{300000 + 1000, 201000, true},
		{65536, 0, false},
		{400000, 0, false},
	} {
		got, ok := into(tc.id)
		if ok != tc.shifted || (ok && got != tc.want) {
			t.Errorf("into(%d) = %d, %v; want %d, %v", tc.id, got, ok, tc.want, tc.shifted)
			continue
		}
		if !ok || tc.id >= rng.Size {
			continue
		}
		if back, ok := out(got); !ok || back != tc.id {
			t.Errorf("out(%d) = %d, %v; want %d", got, back, ok, tc.id)
		}
	}
	if _, ok := out(100); ok {
		t.Error("outOfRange shifted an ID outside the range")
	}
	if _, ok := intoRange(rng, nil)(300000); ok {
		t.Error("intoRange without a stale range shifted a foreign ID")
	}
}

// A stale range is read off the owner of the upperdir's root only when it
// is owned by neither a container ID nor the new range.
func TestStaleRange(t *testing.T) {
	dir := t.TempDir()
	rng := idmap.Range{Start: 1 << 20, Size: 65536}
	// The test's own directory is owned by the test's user, a container
	// ID (root, or a user below 65536): no stale range.
	if uid := uint32(os.Getuid()); uid < rng.Size {
		if got := staleRange(dir, rng); got != nil {
			t.Errorf("staleRange of a directory owned by %d = %v", uid, got)
		}
	}
	if got := staleRange(filepath.Join(dir, "missing"), rng); got != nil {
		t.Errorf("staleRange of a missing directory = %v", got)
	}
	if os.Geteuid() != 0 {
		return
	}
	for _, tc := range []struct {
		owner int
		want  *idmap.Range
	}{
		{300000, &idmap.Range{Start: 300000, Size: 65536}},
		{1 << 20, nil},      // the new range's own root
		{1<<20 + 10, nil},   // inside the new range
		{1<<20 - 1000, nil}, // overlaps the new range
	} {
		if err := os.Lchown(dir, tc.owner, tc.owner); err != nil {
			t.Fatal(err)
		}
		if got := staleRange(dir, rng); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("owner %d: staleRange = %v, want %v", tc.owner, got, tc.want)
		}
	}
}

// The joined namespace's range is the mapping the rules judged
// (HostFacts.Usernses, read through the namespace file they opened),
// found by the spec's path or by the owner's /proc/<pid>/ns/user path.
func TestJoinedRange(t *testing.T) {
	m := func(c, h, n uint32) idmap.Mapping {
		return idmap.Mapping{ContainerID: c, Host: idmap.Range{Start: h, Size: n}}
	}
	for _, tc := range []struct {
		name   string
		uidMap []idmap.Mapping
		want   *idmap.Range
	}{
		{"one range from 0", []idmap.Mapping{m(0, 100000, 65536)}, &idmap.Range{Start: 100000, Size: 65536}},
		{"two ranges", []idmap.Mapping{m(0, 100000, 1), m(1, 200000, 10)}, nil},
		{"not from 0", []idmap.Mapping{m(1, 100000, 65536)}, nil},
		{"unknown", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := hardening.HostFacts{Usernses: map[string]idmap.UsernsInfo{
				"/proc/42/ns/net": {Path: "/proc/42/ns/user", UIDMap: tc.uidMap},
			}}
			for _, join := range []string{"/proc/42/ns/user", "/proc/42/ns/net"} {
				got, err := joinedRange(join, f)
				if tc.want == nil {
					if err == nil {
						t.Errorf("joinedRange(%s) = %v, want an error", join, got)
					}
					continue
				}
				if err != nil || !reflect.DeepEqual(got, tc.want) {
					t.Errorf("joinedRange(%s) = %v, %v; want %v", join, got, err, tc.want)
				}
			}
			if got, err := joinedRange("/proc/43/ns/user", f); err == nil {
				t.Errorf("another namespace's range: %v", got)
			}
		})
	}
}

// Docker's and Podman's roots are found only from this container's own
// per-container files, as the rules resolved them.
func TestEngineRoots(t *testing.T) {
	bind := func(dest, src string) specs.Mount {
		return specs.Mount{Destination: dest, Type: "bind", Source: src, Options: []string{"rbind"}}
	}
	s := &specs.Spec{Mounts: []specs.Mount{
		bind("/etc/hosts", "/var/lib/docker/containers/c1/hosts"),
		bind("/dev/shm", "/var/lib/containers/storage/overlay-containers/c1/userdata/shm"),
	}}
	if got := hardening.DockerRootOf(s, hardening.HostFacts{}, "c1"); got != "/var/lib/docker" {
		t.Errorf("DockerRootOf = %q", got)
	}
	if got := hardening.DockerRootOf(s, hardening.HostFacts{}, "c2"); got != "" {
		t.Errorf("DockerRootOf of another container's hosts file = %q", got)
	}
	if got := podmanRoot(s, hardening.HostFacts{}, "c1"); got != "/var/lib/containers/storage" {
		t.Errorf("podmanRoot = %q", got)
	}
	// The source as resolved when the facts were gathered counts, not as
	// written.
	f := hardening.HostFacts{MountSources: map[string]string{"/var/lib/docker/containers/c1/hosts": "/srv/docker/containers/c1/hosts"}}
	if got := hardening.DockerRootOf(s, f, "c1"); got != "/srv/docker" {
		t.Errorf("DockerRootOf from the resolved source = %q", got)
	}
	if !isPodmanFile("/run/.containerenv", "/run/containers/storage/overlay-containers/c1/userdata/.containerenv", "c1") {
		t.Error("Podman's .containerenv not recognised")
	}
	if isPodmanFile("/etc/passwd", "/run/containers/storage/overlay-containers/c1/userdata/passwd", "c1") {
		t.Error("a file Podman does not make for the container recognised as its own")
	}
}

// The overlay of a container this runtime rebuilt (its lower layers are
// staging clones) is never rebuilt for another one.
func TestOverlayInUseRebuilt(t *testing.T) {
	ov := idmap.Overlay{Lower: []string{filepath.Join(stagingBase, "x", "c1", "lower0")}}
	err := overlayInUse(ov, idmap.Range{Start: 200000, Size: 65536})
	if err == nil || !strings.Contains(err.Error(), "another container's rootfs") {
		t.Errorf("overlayInUse = %v, want a refusal", err)
	}
	if err := overlayInUse(idmap.Overlay{Lower: []string{"/var/lib/docker/overlay2/l/AAAA"}}, idmap.Range{Start: 200000, Size: 65536}); err != nil {
		t.Errorf("overlayInUse of an engine's read-only overlay = %v", err)
	}
}

// A bind source is inside the rootfs by its checked path or by the path
// config.json gives the rootfs; a sibling sharing its prefix is not.
func TestInRootfs(t *testing.T) {
	u := &Stage{rootfs: "/var/lib/docker/overlay2/abc/merged", written: "/bundle/rootfs"}
	for src, want := range map[string]string{
		"/var/lib/docker/overlay2/abc/merged/tmp": "tmp",
		"/bundle/rootfs/var/log":                  "var/log",
		"/bundle/rootfs":                          ".",
		"/bundle/rootfs2/x":                       "",
		"/bundle":                                 "",
	} {
		rel, ok := u.inRootfs(src)
		if ok != (want != "") || rel != want {
			t.Errorf("inRootfs(%s) = %q, %v; want %q", src, rel, ok, want)
		}
	}
}

// Podman's per-container files are the container's own only when the
// bundle is its userdata directory (Podman's config.json) and the rootfs
// an overlay mount.
func TestOwnPodmanRoot(t *testing.T) {
	const root = "/var/lib/containers/storage"
	userdata := root + "/overlay-containers/c1/userdata"
	s := &specs.Spec{Mounts: []specs.Mount{{Destination: "/dev/shm", Type: "bind", Source: userdata + "/shm", Options: []string{"rbind"}}}}
	for _, tc := range []struct {
		name string
		f    hardening.HostFacts
		id   string
		want string
	}{
		{name: "Podman's bundle", f: hardening.HostFacts{Bundle: userdata, Rootfs: root + "/overlay/l1/merged"}, id: "c1", want: root},
		{name: "a bundle of the caller's", f: hardening.HostFacts{Bundle: "/bundles/c1", Rootfs: root + "/overlay/l1/merged"}, id: "c1"},
		{name: "rootfs no overlay mount", f: hardening.HostFacts{Bundle: userdata, Rootfs: root + "/overlay/l1/merged", RootfsNotOverlayMount: true}, id: "c1"},
		{name: "another container's files", f: hardening.HostFacts{Bundle: root + "/overlay-containers/c2/userdata", Rootfs: root + "/overlay/l1/merged"}, id: "c2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ownPodmanRoot(s, tc.f, tc.id); got != tc.want {
				t.Errorf("ownPodmanRoot = %q, want %q", got, tc.want)
			}
		})
	}
}
