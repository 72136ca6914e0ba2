package hardening

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/runc/libcontainer/configs/validate"
	"github.com/opencontainers/runc/libcontainer/specconv"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/spec"

	"github.com/hardened-runtime/hardened/idmap"
)

var testRange = idmap.Range{Start: 0x70000000, Size: 65536}

func usernsPolicy() *Policy {
	p := DefaultPolicy()
	p.UserNamespace.Enabled = true
	return p
}

// usernsFacts are the example's facts with an allocated range.
func usernsFacts() HostFacts {
	f := allDirs("/bundles/example/rootfs")
	r := testRange
	f.IDRange = &r
	return f
}

func mapping(start, size uint32) []specs.LinuxIDMapping {
	return []specs.LinuxIDMapping{{ContainerID: 0, HostID: start, Size: size}}
}

func userEntry(s *specs.Spec) (specs.LinuxNamespace, bool) {
	i := slices.IndexFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.UserNamespace })
	if i < 0 {
		return specs.LinuxNamespace{}, false
	}
	return s.Linux.Namespaces[i], true
}

// a container's user namespace as seen from /proc: maps 0 -> testRange.
var podUserns = idmap.UsernsInfo{
	Path:   "/proc/4242/ns/user",
	UIDMap: []idmap.Mapping{{ContainerID: 0, Host: testRange}},
	GIDMap: []idmap.Mapping{{ContainerID: 0, Host: testRange}},
}

// rootUserns maps host root: a privileged container's or a hand-made one.
var rootUserns = idmap.UsernsInfo{
	Path:   "/proc/777/ns/user",
	UIDMap: []idmap.Mapping{{ContainerID: 0, Host: idmap.Range{Start: 0, Size: 65536}}},
	GIDMap: []idmap.Mapping{{ContainerID: 0, Host: idmap.Range{Start: 0, Size: 65536}}},
}

func TestUserNamespace(t *testing.T) {
	t.Parallel()
	newNS := specs.LinuxNamespace{Type: specs.UserNamespace}
	tests := []struct {
		name     string
		disabled bool
		audit    bool
		tweak    func(*specs.Spec, *HostFacts)
		// wantNS is the user namespace entry after the rule; zero: none.
		wantNS  specs.LinuxNamespace
		wantMap []specs.LinuxIDMapping
		refused string // substring of the refusal
		note    string // substring of a note
	}{
		{name: "disabled: nothing", disabled: true},
		{name: "new user namespace", wantNS: newNS, wantMap: mapping(testRange.Start, testRange.Size)},
		{name: "caller mapping equal to the allocation kept",
			tweak: func(s *specs.Spec, _ *HostFacts) {
				s.Linux.Namespaces = append(s.Linux.Namespaces, newNS)
				s.Linux.UIDMappings, s.Linux.GIDMappings = mapping(testRange.Start, testRange.Size), mapping(testRange.Start, testRange.Size)
			},
			wantNS: newNS, wantMap: mapping(testRange.Start, testRange.Size)},
		{name: "caller mapping of host root replaced",
			tweak: func(s *specs.Spec, _ *HostFacts) {
				s.Linux.Namespaces = append(s.Linux.Namespaces, newNS)
				s.Linux.UIDMappings, s.Linux.GIDMappings = mapping(0, 65536), mapping(0, 65536)
			},
			wantNS: newNS, wantMap: mapping(testRange.Start, testRange.Size)},
		{name: "sneaky: mapping only root, in an extra entry, replaced",
			tweak: func(s *specs.Spec, _ *HostFacts) {
				s.Linux.UIDMappings = append(mapping(testRange.Start, testRange.Size), specs.LinuxIDMapping{ContainerID: 70000, HostID: 0, Size: 1})
			},
			wantNS: newNS, wantMap: mapping(testRange.Start, testRange.Size)},
		{name: "overlay rootfs: noted, no user namespace",
			tweak: func(_ *specs.Spec, f *HostFacts) { f.IDRange = nil; f.UsernsUnsupported = "rootfs is an overlay" },
			note:  "rootfs is an overlay"},
		{name: "no range allocated in enforce: error",
			tweak:   func(_ *specs.Spec, f *HostFacts) { f.IDRange = nil },
			refused: "no ID range allocated"},
		{name: "no range in audit: noted", audit: true,
			tweak: func(_ *specs.Spec, f *HostFacts) { f.IDRange = nil },
			note:  "would be added"},
		{name: "join a pod's user namespace by path",
			tweak: func(s *specs.Spec, f *HostFacts) {
				s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace, Path: "/proc/4242/ns/user"})
				s.Linux.UIDMappings, s.Linux.GIDMappings = mapping(testRange.Start, testRange.Size), mapping(testRange.Start, testRange.Size)
				f.Usernses = map[string]idmap.UsernsInfo{"/proc/4242/ns/user": podUserns}
			},
			wantNS: specs.LinuxNamespace{Type: specs.UserNamespace, Path: "/proc/4242/ns/user"}},
		{name: "sneaky: join a user namespace that maps host root",
			tweak: func(s *specs.Spec, f *HostFacts) {
				s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace, Path: "/proc/777/ns/user"})
				f.Usernses = map[string]idmap.UsernsInfo{"/proc/777/ns/user": rootUserns}
			},
			refused: "maps host ID 0"},
		{name: "sneaky: join the host user namespace through another pid",
			tweak: func(s *specs.Spec, f *HostFacts) {
				s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace, Path: "/proc/99/ns/user"})
				f.Usernses = map[string]idmap.UsernsInfo{"/proc/99/ns/user": {Host: true}}
			},
			refused: "host user namespace"},
		{name: "join containerd's pinned user namespace (hostUsers: false), mappings read",
			tweak: func(s *specs.Spec, f *HostFacts) {
				s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace, Path: "/run/c/sandboxes/s1/pinned-namespaces/user"})
				f.Usernses = map[string]idmap.UsernsInfo{"/run/c/sandboxes/s1/pinned-namespaces/user": {UIDMap: podUserns.UIDMap, GIDMap: podUserns.GIDMap}}
			},
			wantNS: specs.LinuxNamespace{Type: specs.UserNamespace, Path: "/run/c/sandboxes/s1/pinned-namespaces/user"}},
		{name: "sneaky: pinned user namespace that maps host root",
			tweak: func(s *specs.Spec, f *HostFacts) {
				s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace, Path: "/run/c/sandboxes/s1/pinned-namespaces/user"})
				f.Usernses = map[string]idmap.UsernsInfo{"/run/c/sandboxes/s1/pinned-namespaces/user": {UIDMap: podUserns.UIDMap, GIDMap: rootUserns.GIDMap}}
			},
			refused: "maps host ID 0"},
		{name: "pinned user namespace whose mappings could not be read",
			tweak: func(s *specs.Spec, f *HostFacts) {
				s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace, Path: "/run/c/sandboxes/s1/pinned-namespaces/user"})
				f.Usernses = map[string]idmap.UsernsInfo{"/run/c/sandboxes/s1/pinned-namespaces/user": {UIDMap: podUserns.UIDMap}}
			},
			refused: "mappings of user namespace"},
		{name: "join of a user namespace that cannot be inspected",
			tweak: func(s *specs.Spec, _ *HostFacts) {
				s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace, Path: "/run/userns/x"})
			},
			refused: "cannot be inspected"},
		{name: "audit: refusal reported, no error", audit: true,
			tweak: func(s *specs.Spec, _ *HostFacts) {
				s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace, Path: "/run/userns/x"})
			},
			refused: "cannot be inspected"},
		{name: "network namespace of another container: join its user namespace",
			tweak: func(s *specs.Spec, f *HostFacts) {
				setNSPath(s, specs.NetworkNamespace, "/proc/4242/ns/net")
				f.Usernses = map[string]idmap.UsernsInfo{"/proc/4242/ns/net": podUserns}
			},
			wantNS: specs.LinuxNamespace{Type: specs.UserNamespace, Path: "/proc/4242/ns/user"},
			note:   "owner of the network namespace"},
		{name: "network namespace owned by the host user namespace: new user namespace",
			tweak: func(s *specs.Spec, f *HostFacts) {
				setNSPath(s, specs.NetworkNamespace, "/run/netns/cni-1")
				f.Usernses = map[string]idmap.UsernsInfo{"/run/netns/cni-1": {Host: true}}
			},
			wantNS: newNS, wantMap: mapping(testRange.Start, testRange.Size)},
		{name: "ipc namespace owned by a user namespace mapping host root: refused",
			tweak: func(s *specs.Spec, f *HostFacts) {
				setNSPath(s, specs.IPCNamespace, "/proc/777/ns/ipc")
				f.Usernses = map[string]idmap.UsernsInfo{"/proc/777/ns/ipc": rootUserns}
			},
			refused: "maps host ID 0"},
		{name: "namespaces of two user namespaces: refused",
			tweak: func(s *specs.Spec, f *HostFacts) {
				setNSPath(s, specs.NetworkNamespace, "/proc/4242/ns/net")
				setNSPath(s, specs.IPCNamespace, "/proc/5000/ns/ipc")
				other := podUserns
				other.Path = "/proc/5000/ns/user"
				f.Usernses = map[string]idmap.UsernsInfo{"/proc/4242/ns/net": podUserns, "/proc/5000/ns/ipc": other}
			},
			refused: "two user namespaces"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, f, pol := exampleSpec(), usernsFacts(), usernsPolicy()
			pol.UserNamespace.Enabled = !tt.disabled
			if tt.audit {
				pol.Mode = ModeAudit
			}
			if tt.tweak != nil {
				tt.tweak(s, &f)
			}
			rep := &Report{}
			err := UserNamespace(s, pol, f, rep)
			if tt.refused != "" {
				got := ""
				if err != nil {
					got = err.Error()
					if !strings.Contains(got, "no ID range") && !errors.Is(err, ErrRefused) {
						t.Errorf("error %v does not wrap ErrRefused", err)
					}
				} else if len(rep.Refusals) > 0 {
					got = rep.Refusals[0].Reason
				}
				if !strings.Contains(got, tt.refused) {
					t.Fatalf("refusal %q (err %v, refusals %v), want %q", got, err, rep.Refusals, tt.refused)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ns, ok := userEntry(s)
			if (tt.wantNS == specs.LinuxNamespace{}) {
				if ok {
					t.Errorf("user namespace %+v added", ns)
				}
			} else if ns != tt.wantNS {
				t.Errorf("user namespace %+v, want %+v", ns, tt.wantNS)
			}
			if !reflect.DeepEqual(s.Linux.UIDMappings, tt.wantMap) || !reflect.DeepEqual(s.Linux.GIDMappings, tt.wantMap) {
				t.Errorf("mappings uid %v gid %v, want %v", s.Linux.UIDMappings, s.Linux.GIDMappings, tt.wantMap)
			}
			if tt.note != "" && !slices.ContainsFunc(rep.Notes, func(n Note) bool { return strings.Contains(n.Message, tt.note) }) {
				t.Errorf("notes %v, want one with %q", rep.Notes, tt.note)
			}
		})
	}
}

func setNSPath(s *specs.Spec, t specs.LinuxNamespaceType, path string) {
	for i, ns := range s.Linux.Namespaces {
		if ns.Type == t {
			s.Linux.Namespaces[i].Path = path
		}
	}
}

func TestUserNamespacePingGroupRange(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"0 2147483647", "0 65535"}, // Docker 20.10
		{"0 65535", "0 65535"},
		{"100 200", "100 200"},
		{"70000 80000", "1 0"},
		{"1 0", "1 0"},
		{"garbage", "1 0"},
	}
	for _, tt := range tests {
		s := dockerSpec(t)
		s.Linux.Sysctl["net.ipv4.ping_group_range"] = tt.in
		f := dockerFacts()
		r := testRange
		f.IDRange = &r
		if err := UserNamespace(s, usernsPolicy(), f, &Report{}); err != nil {
			t.Fatal(err)
		}
		if got := s.Linux.Sysctl["net.ipv4.ping_group_range"]; got != tt.want {
			t.Errorf("ping_group_range %q -> %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestUserNamespaceIDMapBindMounts(t *testing.T) {
	t.Parallel()
	want := mapping(testRange.Start, testRange.Size)
	for _, on := range []bool{false, true} {
		s := dockerSpec(t)
		f := dockerFacts()
		r := testRange
		f.IDRange = &r
		pol := usernsPolicy()
		pol.UserNamespace.IDMapBindMounts = on
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/inside", Type: "bind", Source: dockerRootfs + "/var/lib", Options: []string{"rbind"}})
		if err := UserNamespace(s, pol, f, &Report{}); err != nil {
			t.Fatal(err)
		}
		for _, m := range s.Mounts {
			isHostBind := spec.IsBind(m) && !strings.HasPrefix(m.Source, dockerRootfs)
			mapped := reflect.DeepEqual(m.UIDMappings, want) && reflect.DeepEqual(m.GIDMappings, want)
			if mapped != (on && isHostBind) {
				t.Errorf("idmapBindMounts=%v: %s (source %s) mapped=%v", on, m.Destination, m.Source, mapped)
			}
			if mapped && (!slices.Contains(m.Options, "nosuid") || !slices.Contains(m.Options, "nodev")) {
				t.Errorf("%s idmapped without nosuid,nodev: %v", m.Destination, m.Options)
			}
		}
	}
}

// TestUserNamespaceDockerVolumes: with Docker's data root known (the
// runtime found this container's /etc/hosts under it), named volumes
// <root>/volumes/<name>/_data are idmapped with nosuid,nodev and nothing
// else is: not Docker's own files, not host directories, not a path that
// only looks like a volume elsewhere or one level off.
func TestUserNamespaceDockerVolumes(t *testing.T) {
	t.Parallel()
	const root = "/var/lib/docker"
	s := dockerSpec(t)
	f := dockerFacts()
	r := testRange
	f.IDRange = &r
	f.DockerRoot = root
	s.Mounts = append(s.Mounts,
		specs.Mount{Destination: "/data", Type: "bind", Source: root + "/volumes/pg/_data", Options: []string{"rbind"}},
		specs.Mount{Destination: "/srv", Type: "bind", Source: "/srv/data", Options: []string{"rbind"}},
		specs.Mount{Destination: "/other", Type: "bind", Source: "/elsewhere/volumes/pg/_data", Options: []string{"rbind"}},
		specs.Mount{Destination: "/deep", Type: "bind", Source: root + "/volumes/pg/_data/sub", Options: []string{"rbind"}},
		specs.Mount{Destination: "/hosts-like", Type: "bind", Source: root + "/containers/abc/hosts", Options: []string{"rbind"}},
	)
	rep := &Report{}
	if err := UserNamespace(s, usernsPolicy(), f, rep); err != nil {
		t.Fatal(err)
	}
	want := mapping(testRange.Start, testRange.Size)
	for _, m := range s.Mounts {
		mapped := reflect.DeepEqual(m.UIDMappings, want) && reflect.DeepEqual(m.GIDMappings, want)
		volume := m.Destination == "/data" || m.Source == root+"/volumes/pgdata/_data"
		if mapped != volume {
			t.Errorf("%s (source %s): idmapped=%v", m.Destination, m.Source, mapped)
		}
		if mapped && (!slices.Contains(m.Options, "nosuid") || !slices.Contains(m.Options, "nodev")) {
			t.Errorf("%s idmapped without nosuid,nodev: %v", m.Destination, m.Options)
		}
	}
	if !slices.ContainsFunc(rep.Changes, func(c Change) bool { return c.Path == "mounts[destination=/data].uidMappings" }) {
		t.Errorf("the volume's mapping is not in the report: %+v", rep.Changes)
	}
}

// TestHardenWithUserns runs the whole list with user namespaces on: the
// result is stable under a second Harden, passes libcontainer's
// conversion and validation, and keeps the policy's properties.
func TestHardenWithUserns(t *testing.T) {
	t.Parallel()
	for name, mk := range map[string]func() (*specs.Spec, HostFacts){
		"example": func() (*specs.Spec, HostFacts) { return exampleSpec(), usernsFacts() },
		"docker": func() (*specs.Spec, HostFacts) {
			f := dockerFacts()
			r := testRange
			f.IDRange = &r
			return dockerSpec(t), f
		},
	} {
		t.Run(name, func(t *testing.T) {
			s, f := mk()
			hardenTwice(t, s, usernsPolicy(), f)
			if ns, ok := userEntry(s); !ok || ns.Path != "" {
				t.Fatalf("no new user namespace: %+v", s.Linux.Namespaces)
			}
			cfg, err := specconv.CreateLibcontainerConfig(&specconv.CreateOpts{Spec: s, CgroupName: "x"})
			if err != nil {
				t.Fatalf("CreateLibcontainerConfig: %v", err)
			}
			if err := validate.Validate(cfg); err != nil && !strings.Contains(err.Error(), "no such file") {
				t.Fatalf("validate: %v", err)
			}
			if uid, _ := cfg.HostRootUID(); uid != int(testRange.Start) {
				t.Errorf("host root uid %d, want %d", uid, testRange.Start)
			}
		})
	}
}

func TestParsePolicyUserNamespace(t *testing.T) {
	t.Parallel()
	tests := []struct {
		json string
		err  string
		want UserNamespacePolicy
	}{
		{json: `{}`, want: DefaultUserNamespacePolicy()},
		{json: `{"userNamespace": {"enabled": true}}`, want: UserNamespacePolicy{Enabled: true, SubIDUser: "hardened", RangeSize: 65536, CallerSubIDUsers: []string{"containers"}}},
		{json: `{"userNamespace": {"enabled": true, "pool": {"start": 1000000, "size": 6553600}, "rangeSize": 131072, "subidUser": "x", "idmapBindMounts": true}}`,
			want: UserNamespacePolicy{Enabled: true, SubIDUser: "x", Pool: &idmap.Range{Start: 1000000, Size: 6553600}, RangeSize: 131072, IDMapBindMounts: true, CallerSubIDUsers: []string{"containers"}}},
		{json: `{"userNamespace": {"pool": {"start": 0, "size": 6553600}}}`, err: "host ID 0"},
		{json: `{"userNamespace": {"pool": {"start": 100000, "size": 1000}}}`, err: "cannot hold one range"},
		{json: `{"userNamespace": {"rangeSize": 1000}}`, err: "multiple of 65536"},
		{json: `{"userNamespace": {"enable": true}}`, err: "unknown key"},
	}
	for _, tt := range tests {
		p, err := ParsePolicy("test.json", []byte(tt.json))
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: err %v, want %q", tt.json, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.json, err)
			continue
		}
		if !reflect.DeepEqual(p.UserNamespace, tt.want) {
			t.Errorf("%s: %+v, want %+v", tt.json, p.UserNamespace, tt.want)
		}
	}
}

// TestRefuseUsernsJoin: the user namespaces a container may not join are
// refusals of their own rule, from the plan Check made or planned alone.
func TestRefuseUsernsJoin(t *testing.T) {
	t.Parallel()
	const userPath = "/run/netns/pinned-user"
	joinUser := func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace, Path: userPath})
	}
	rootMap := []idmap.Mapping{{Host: idmap.Range{Start: 0, Size: 65536}}}
	ownMap := []idmap.Mapping{{Host: idmap.Range{Start: 1 << 20, Size: 65536}}}
	runRefusalCases(t, RuleUsernsJoin, RefuseUsernsJoin, []refusalCase{
		{name: "no join"},
		{name: "unknown namespace", tweak: joinUser, want: []string{`cannot be inspected / "allowHostNamespaces": ["user"]`}},
		{name: "host's namespace", tweak: joinUser,
			facts: HostFacts{Usernses: map[string]idmap.UsernsInfo{userPath: {Host: true}}}, want: []string{"joins the host user namespace"}},
		{name: "maps host root", tweak: joinUser,
			facts: HostFacts{Usernses: map[string]idmap.UsernsInfo{userPath: {UIDMap: rootMap, GIDMap: rootMap}}}, want: []string{"maps host ID 0"}},
		{name: "own mapping", tweak: joinUser,
			facts: HostFacts{Usernses: map[string]idmap.UsernsInfo{userPath: {UIDMap: ownMap, GIDMap: ownMap}}}},
		{name: "allowed", tweak: joinUser, pol: func(p *Policy) { p.AllowHostNamespaces = []string{"user"} }},
		{name: "the plan Check made", facts: HostFacts{UsernsPlan: &UsernsPlan{Refused: "joins the host user namespace at /x"}},
			want: []string{"/x"}},
	})
}
