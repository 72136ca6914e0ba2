package hardening

import (
	"errors"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/idmap"
)

// remapRange is what /etc/subuid and /etc/subgid give the remap user
// "dockremap" in these tests, and what the fixture
// testdata/docker-20.10-userns-remap.json (dockerd --userns-remap, data
// root /var/lib/docker) maps.
var remapRange = idmap.Range{Start: 420_000_000, Size: 65536}

// remapSpec returns the config.json dockerd 20.10 --userns-remap wrote.
func remapSpec(t testing.TB) *specs.Spec {
	t.Helper()
	return specFixture(t, "docker-20.10-userns-remap.json")
}

// remapFacts are the host facts of the fixture: the remap user's ranges
// read, dockerd's hook resolved, no allocated range (the plan keeps the
// engine's).
func remapFacts(s *specs.Spec) HostFacts {
	f := allDirs(s.Root.Path)
	f.IDRange = nil
	f.Bundle = "/var/run/docker/containerd/daemon/io.containerd.runtime.v2.task/moby/beec63805a2c"
	f.HookPaths = map[string]string{}
	//lint:ignore SA1019 Docker 20.10's libnetwork-setkey hook is a prestart hook
	for _, h := range s.Hooks.Prestart {
		f.HookPaths[h.Path] = "/usr/sbin/dockerd"
	}
	f.HookPaths["/usr/sbin/dockerd"] = "/usr/sbin/dockerd"
	f.RemapIDRanges = map[string][]idmap.Range{"dockremap": {remapRange}}
	f.CallerIDRanges = []idmap.Range{{Start: 1_000_000_000, Size: 100_000_000}}
	return f
}

func remapPolicy() *Policy {
	p := usernsPolicy()
	p.UserNamespace.RemapSubIDUsers = []string{"dockremap"}
	return p
}

// TestHardenDockerUsernsRemap: the config of dockerd --userns-remap keeps
// the engine's mapping under "remapSubidUsers", with its rootfs, and gets
// the rest of the policy; its read-write cgroup mount is made read-only.
// Without the key it is refused for that mount.
func TestHardenDockerUsernsRemap(t *testing.T) {
	t.Parallel()
	s := remapSpec(t)
	orig := remapSpec(t)
	rep, err := Harden(s, remapPolicy(), remapFacts(s))
	if err != nil {
		t.Fatalf("Harden: %v", err)
	}
	if !slices.Equal(s.Linux.UIDMappings, orig.Linux.UIDMappings) || !slices.Equal(s.Linux.GIDMappings, orig.Linux.GIDMappings) {
		t.Errorf("mappings %v %v, want the engine's %v %v", s.Linux.UIDMappings, s.Linux.GIDMappings, orig.Linux.UIDMappings, orig.Linux.GIDMappings)
	}
	if s.Root.Path != orig.Root.Path || !s.Root.Readonly || !s.Process.NoNewPrivileges || s.Linux.Seccomp == nil {
		t.Errorf("root %+v, noNewPrivileges %v, seccomp %v: want Docker's rootfs read-only, no new privileges, a filter", s.Root, s.Process.NoNewPrivileges, s.Linux.Seccomp != nil)
	}
	for _, m := range s.Mounts {
		if isCgroupMount(m) && !readOnly(m.Options) {
			t.Errorf("cgroup mount %s options %v, want read-only", m.Destination, m.Options)
		}
	}
	if !slices.Contains(changedPaths(rep), "mounts[destination=/sys/fs/cgroup].options") {
		t.Errorf("changes %v, want the cgroup mount's options", changedPaths(rep))
	}
	if !slices.ContainsFunc(rep.Notes, func(n Note) bool {
		return strings.Contains(n.Message, "engine's user namespace mapping") && strings.Contains(n.Message, `"remapSubidUsers"`)
	}) {
		t.Errorf("notes %+v, want one naming the engine's mapping and the key", rep.Notes)
	}

	s = remapSpec(t)
	_, err = Harden(s, usernsPolicy(), remapFacts(s))
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), `read-write cgroup filesystem at /sys/fs/cgroup (rule host-mounts, allow with "allowHostMounts": ["/sys/fs/cgroup"])`) {
		t.Errorf("without remapSubidUsers: %v, want the read-write cgroup mount refused", err)
	}
}

// TestPlanUserNamespaceRemap: a mapping is the engine's only inside the
// remap user's subordinate IDs, without host ID 0, with uid and gid
// mappings both; a namespace joined through a shared namespace is the
// engine's when its mapping lies there too.
func TestPlanUserNamespaceRemap(t *testing.T) {
	t.Parallel()
	in := mapping(remapRange.Start, remapRange.Size)
	const netns = "/proc/4242/ns/net"
	tests := []struct {
		name     string
		uid, gid []specs.LinuxIDMapping
		users    []string          // remapSubidUsers
		joined   *idmap.UsernsInfo // owner of a joined network namespace
		userns   *idmap.UsernsInfo // a user namespace joined by path
		want     UsernsPlan        // Why not compared
	}{
		{name: "engine's range kept", uid: in, gid: in, users: []string{"dockremap"},
			want: UsernsPlan{Caller: true, Remap: "dockremap", Size: remapRange.Size}},
		{name: "part of the range kept", uid: mapping(remapRange.Start+10, 100), gid: mapping(remapRange.Start+10, 100), users: []string{"dockremap"},
			want: UsernsPlan{Caller: true, Remap: "dockremap", Size: 100}},
		{name: "key unset: a new namespace", uid: in, gid: in,
			want: UsernsPlan{New: true, Stage: true}},
		{name: "another user named: a new namespace", uid: in, gid: in, users: []string{"other"},
			want: UsernsPlan{New: true, Stage: true}},
		{name: "sneaky: one ID past the range", uid: mapping(remapRange.Start+1, remapRange.Size), gid: in, users: []string{"dockremap"},
			want: UsernsPlan{New: true, Stage: true}},
		{name: "sneaky: gid mapping of host root", uid: in,
			gid:   append(mapping(remapRange.Start, 1), specs.LinuxIDMapping{ContainerID: 1, HostID: 0, Size: 1}),
			users: []string{"dockremap"}, want: UsernsPlan{New: true, Stage: true}},
		{name: "sneaky: no gid mapping", uid: in, users: []string{"dockremap"},
			want: UsernsPlan{New: true, Stage: true}},
		{name: "shares the network namespace of an engine's container", uid: in, gid: in, users: []string{"dockremap"},
			joined: &idmap.UsernsInfo{Path: "/proc/4242/ns/user", UIDMap: []idmap.Mapping{{Host: remapRange}}, GIDMap: []idmap.Mapping{{Host: remapRange}}},
			want:   UsernsPlan{Join: "/proc/4242/ns/user", Size: remapRange.Size, Remap: "dockremap"}},
		{name: "joins an engine container's user namespace by path (Docker's --network container:X)", uid: in, gid: in, users: []string{"dockremap"},
			userns: &idmap.UsernsInfo{Path: "/proc/4242/ns/user", UIDMap: []idmap.Mapping{{Host: remapRange}}, GIDMap: []idmap.Mapping{{Host: remapRange}}},
			want:   UsernsPlan{Join: "/proc/4242/ns/user", Size: remapRange.Size, Remap: "dockremap"}},
		{name: "joins by path a user namespace of another range", uid: in, gid: in, users: []string{"dockremap"},
			userns: &idmap.UsernsInfo{Path: "/proc/4242/ns/user", UIDMap: []idmap.Mapping{{Host: testRange}}, GIDMap: []idmap.Mapping{{Host: testRange}}},
			want:   UsernsPlan{Join: "/proc/4242/ns/user", Size: testRange.Size}},
		{name: "shares the network namespace of an engine's container, own mapping elsewhere", uid: mapping(testRange.Start, testRange.Size), gid: mapping(testRange.Start, testRange.Size), users: []string{"dockremap"},
			joined: &idmap.UsernsInfo{Path: "/proc/4242/ns/user", UIDMap: []idmap.Mapping{{Host: remapRange}}, GIDMap: []idmap.Mapping{{Host: remapRange}}},
			want:   UsernsPlan{Join: "/proc/4242/ns/user", Size: remapRange.Size, Stage: true}},
		{name: "shares the network namespace of a container of another range", uid: in, gid: in, users: []string{"dockremap"},
			joined: &idmap.UsernsInfo{Path: "/proc/4242/ns/user", UIDMap: []idmap.Mapping{{Host: testRange}}, GIDMap: []idmap.Mapping{{Host: testRange}}},
			want:   UsernsPlan{Join: "/proc/4242/ns/user", Size: testRange.Size, Stage: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := exampleSpec()
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
			s.Linux.UIDMappings, s.Linux.GIDMappings = slices.Clone(tc.uid), slices.Clone(tc.gid)
			pol := usernsPolicy()
			pol.UserNamespace.RemapSubIDUsers = tc.users
			f := HostFacts{RemapIDRanges: map[string][]idmap.Range{"dockremap": {remapRange}}}
			if tc.joined != nil {
				for i, ns := range s.Linux.Namespaces {
					if ns.Type == specs.NetworkNamespace {
						s.Linux.Namespaces[i].Path = netns
					}
				}
				f.Usernses = map[string]idmap.UsernsInfo{netns: *tc.joined}
			}
			if tc.userns != nil {
				for i, ns := range s.Linux.Namespaces {
					if ns.Type == specs.UserNamespace {
						s.Linux.Namespaces[i].Path = tc.userns.Path
					}
				}
				f.Usernses = map[string]idmap.UsernsInfo{tc.userns.Path: *tc.userns}
			}
			plan, err := PlanUserNamespace(s, pol, f)
			if err != nil {
				t.Fatal(err)
			}
			plan.Why = ""
			if plan != tc.want {
				t.Errorf("plan %+v, want %+v", plan, tc.want)
			}
		})
	}
}

// TestRefuseHostMountsRemapCgroup: a read-write cgroup mount passes the
// host-mounts rule only for a container Check keeps in an engine's remap
// range (the user-namespace rule makes it read-only).
func TestRefuseHostMountsRemapCgroup(t *testing.T) {
	t.Parallel()
	cg := specs.Mount{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev"}}
	for _, tc := range []struct {
		name    string
		plan    *UsernsPlan
		refused bool
	}{
		{"no plan", nil, true},
		{"a new user namespace", &UsernsPlan{New: true, Stage: true}, true},
		{"a caller's own mapping", &UsernsPlan{Caller: true}, true},
		{"the engine's remap range", &UsernsPlan{Caller: true, Remap: "dockremap"}, false},
	} {
		s := exampleSpec()
		s.Mounts = append(s.Mounts, cg)
		f := allDirs(s.Root.Path)
		f.UsernsPlan = tc.plan
		var r Report
		if err := RefuseHostMounts(s, usernsPolicy(), f, &r); err != nil {
			t.Fatal(err)
		}
		if r.Refused() != tc.refused {
			t.Errorf("%s: refusals %+v, want refused %v", tc.name, r.Refusals, tc.refused)
		}
	}
}

// TestRemapDataRootSources: the per-container files of dockerd
// --userns-remap (<data-root>/<uid>.<gid>/containers/<id>/...) are
// runtime-owned like the default data root's; the rest of that directory
// is not.
func TestRemapDataRootSources(t *testing.T) {
	t.Parallel()
	for p, want := range map[string]string{
		"/var/lib/docker/420000000.420000000/containers/abc/hosts":          "",
		"/var/lib/docker/420000000.420000000/containers/abc/mounts/shm":     "",
		"/var/lib/docker/420000000.420000000/volumes/data/_data":            "",
		"/var/lib/docker/420000000.420000000/containers/abc/config.v2.json": "/var/lib/docker",
		"/var/lib/docker/420000000.420000000/overlay2":                      "/var/lib/docker",
		"/var/lib/docker/420000000.420000000":                               "/var/lib/docker",
	} {
		if got, _ := sensitiveMatch(p, false, false, "", engineLayoutOf(DefaultPolicy(), HostFacts{})); got != want {
			t.Errorf("bind of %s exposes %q, want %q", p, got, want)
		}
	}
}

func TestParsePolicyRemapSubIDUsers(t *testing.T) {
	t.Parallel()
	if got := DefaultPolicy().UserNamespace.RemapSubIDUsers; len(got) != 0 {
		t.Errorf("default remapSubidUsers %v, want none", got)
	}
	p, err := ParsePolicy("test.json", []byte(`{"userNamespace": {"remapSubidUsers": ["dockremap"]}}`))
	if err != nil || !slices.Equal(p.UserNamespace.RemapSubIDUsers, []string{"dockremap"}) || !p.UserNamespace.Enabled {
		t.Fatalf("remapSubidUsers [dockremap]: %v %+v", err, p)
	}
	for _, bad := range []string{
		`"remapSubidUsers": [""]`,
		`"remapSubidUsers": ["a:b"]`,
		`"remapSubidUsers": ["../x"]`,
		`"remapSubidUsers": ["root"]`,
		`"remapSubidUsers": ["hardened"]`,
		`"remapSubidUsers": ["containers"]`,
		`"subidUser": "pool", "remapSubidUsers": ["pool"]`,
	} {
		_, err := ParsePolicy("test.json", []byte(`{"userNamespace": {`+bad+`}}`))
		if err == nil || !strings.Contains(err.Error(), "userNamespace.remapSubidUsers") {
			t.Errorf("%s: %v, want an error naming the key", bad, err)
		}
	}
	if _, err := ParsePolicy("test.json", []byte(`{"userNamespace": {"pool": {"start": 1879048192, "size": 65536}, "remapSubidUsers": ["hardened"]}}`)); err != nil {
		t.Errorf("remap user named like subidUser with an explicit pool: %v", err)
	}
}
