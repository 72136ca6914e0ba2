package hardening

import (
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/idmap"
)

// podmanRange is what /etc/subuid gives "containers" in these tests.
var podmanRange = idmap.Range{Start: 1_000_000_000, Size: 100_000_000}

// TestUserNamespaceCallerMapping: a caller's own mapping (Podman's
// --userns=auto, --uidmap) is kept only when it lies in the subordinate
// IDs of callerSubidUsers and maps no host ID 0; any other is replaced.
func TestUserNamespaceCallerMapping(t *testing.T) {
	t.Parallel()
	auto := mapping(podmanRange.Start+65536, 1024)
	tests := []struct {
		name   string
		uid    []specs.LinuxIDMapping
		gid    []specs.LinuxIDMapping
		path   string        // user namespace path; "" for a new one
		ranges []idmap.Range // HostFacts.CallerIDRanges
		want   []specs.LinuxIDMapping
		caller bool // plan.Caller
	}{
		{name: "--userns=auto kept", uid: auto, gid: auto, ranges: []idmap.Range{podmanRange}, want: auto, caller: true},
		{name: "--uidmap with two entries kept",
			uid:    append(mapping(podmanRange.Start, 1), specs.LinuxIDMapping{ContainerID: 1, HostID: podmanRange.Start + 10, Size: 100}),
			gid:    mapping(podmanRange.Start, 101),
			ranges: []idmap.Range{podmanRange},
			want:   append(mapping(podmanRange.Start, 1), specs.LinuxIDMapping{ContainerID: 1, HostID: podmanRange.Start + 10, Size: 100}),
			caller: true},
		{name: "no callerSubidUsers ranges on the host: replaced", uid: auto, gid: auto, want: mapping(testRange.Start, testRange.Size)},
		{name: "sneaky: outside the subordinate IDs by one ID: replaced",
			uid: mapping(podmanRange.Start+podmanRange.Size-1023, 1024), gid: mapping(podmanRange.Start+podmanRange.Size-1023, 1024),
			ranges: []idmap.Range{podmanRange}, want: mapping(testRange.Start, testRange.Size)},
		{name: "sneaky: gid mapping of host root: replaced",
			uid: auto, gid: append(mapping(podmanRange.Start, 1), specs.LinuxIDMapping{ContainerID: 1, HostID: 0, Size: 1}),
			ranges: []idmap.Range{podmanRange, {Start: 0, Size: 10}}, want: mapping(testRange.Start, testRange.Size)},
		{name: "sneaky: uid mapping only, no gid mapping: replaced", uid: auto,
			ranges: []idmap.Range{podmanRange}, want: mapping(testRange.Start, testRange.Size)},
		{name: "sneaky: container root not mapped: replaced",
			uid:    []specs.LinuxIDMapping{{ContainerID: 1, HostID: podmanRange.Start, Size: 10}},
			gid:    []specs.LinuxIDMapping{{ContainerID: 1, HostID: podmanRange.Start, Size: 10}},
			ranges: []idmap.Range{podmanRange}, want: mapping(testRange.Start, testRange.Size)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := exampleSpec()
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace, Path: tc.path})
			s.Linux.UIDMappings, s.Linux.GIDMappings = slices.Clone(tc.uid), slices.Clone(tc.gid)
			pol := usernsPolicy()
			f := HostFacts{CallerIDRanges: tc.ranges}
			plan, err := PlanUserNamespace(s, pol, f)
			if err != nil {
				t.Fatal(err)
			}
			if plan.Caller != tc.caller || plan.New == tc.caller || plan.Stage == tc.caller {
				t.Fatalf("plan %+v, want Caller %v", plan, tc.caller)
			}
			if plan.New {
				r := testRange
				f.IDRange = &r
			}
			f.UsernsPlan = &plan
			var rep Report
			if err := UserNamespace(s, pol, f, &rep); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(s.Linux.UIDMappings, tc.want) {
				t.Errorf("uidMappings %v, want %v", s.Linux.UIDMappings, tc.want)
			}
			if tc.caller {
				if !slices.Equal(s.Linux.GIDMappings, tc.gid) {
					t.Errorf("gidMappings %v, want the caller's %v", s.Linux.GIDMappings, tc.gid)
				}
				if len(rep.Notes) == 0 || !strings.Contains(rep.Notes[0].Message, `caller's own user namespace mapping`) || !strings.Contains(rep.Notes[0].Message, "containers") {
					t.Errorf("notes %+v, want one naming the caller's mapping and callerSubidUsers", rep.Notes)
				}
			}
		})
	}
}

func TestParsePolicyCallerSubIDUsers(t *testing.T) {
	t.Parallel()
	if got := DefaultPolicy().UserNamespace.CallerSubIDUsers; !slices.Equal(got, []string{"containers"}) {
		t.Errorf("default callerSubidUsers %v, want [containers]", got)
	}
	for _, bad := range []string{`""`, `"a:b"`, `"../x"`} {
		_, err := ParsePolicy("test.json", []byte(`{"userNamespace": {"callerSubidUsers": [`+bad+`]}}`))
		if err == nil || !strings.Contains(err.Error(), "userNamespace.callerSubidUsers") {
			t.Errorf("callerSubidUsers [%s]: %v, want an error naming the key", bad, err)
		}
	}
	// A list adds to the default; "replace" names it to replace it.
	for _, tc := range []struct{ json, want string }{
		{`{"userNamespace": {"callerSubidUsers": ["alice"]}}`, "containers alice"},
		{`{"userNamespace": {"callerSubidUsers": ["containers", "alice"]}}`, "containers alice"},
		{`{"replace": ["userNamespace.callerSubidUsers"], "userNamespace": {"callerSubidUsers": ["alice"]}}`, "alice"},
		{`{"replace": ["userNamespace.callerSubidUsers"], "userNamespace": {"callerSubidUsers": []}}`, ""},
	} {
		p, err := ParsePolicy("test.json", []byte(tc.json))
		if err != nil {
			t.Fatalf("%s: %v", tc.json, err)
		}
		if got := strings.Join(p.UserNamespace.CallerSubIDUsers, " "); got != tc.want {
			t.Errorf("%s: callerSubidUsers %q, want %q", tc.json, got, tc.want)
		}
	}
	// The default's user cannot also be an engine's remap user.
	if _, err := ParsePolicy("test.json", []byte(`{"userNamespace": {"remapSubidUsers": ["containers"]}}`)); err == nil || !strings.Contains(err.Error(), "remapSubidUsers") {
		t.Errorf("remapSubidUsers [containers] with the default callerSubidUsers: %v, want refused", err)
	}
}

// TestUserNamespacePodmanVolumes: Podman's named volumes
// (<PodmanRoot>/volumes/<name>/_data) are idmapped like Docker's; its
// other binds and look-alike paths elsewhere are not.
func TestUserNamespacePodmanVolumes(t *testing.T) {
	t.Parallel()
	const root = "/var/lib/containers/storage"
	s := exampleSpec()
	f := usernsFacts()
	f.PodmanRoot = root
	s.Mounts = append(s.Mounts,
		specs.Mount{Destination: "/data", Type: "bind", Source: root + "/volumes/pg/_data", Options: []string{"rbind"}},
		specs.Mount{Destination: "/srv", Type: "bind", Source: "/srv/data", Options: []string{"rbind"}},
		specs.Mount{Destination: "/other", Type: "bind", Source: "/elsewhere/volumes/pg/_data", Options: []string{"rbind"}},
		specs.Mount{Destination: "/deep", Type: "bind", Source: root + "/volumes/pg/_data/sub", Options: []string{"rbind"}},
		specs.Mount{Destination: "/etc/hosts", Type: "bind", Source: "/run/containers/storage/overlay-containers/abc/userdata/hosts", Options: []string{"bind"}},
	)
	if err := UserNamespace(s, usernsPolicy(), f, &Report{}); err != nil {
		t.Fatal(err)
	}
	want := mapping(testRange.Start, testRange.Size)
	for _, m := range s.Mounts {
		mapped := slices.Equal(m.UIDMappings, want) && slices.Equal(m.GIDMappings, want)
		if mapped != (m.Destination == "/data") {
			t.Errorf("%s (source %s): idmapped=%v", m.Destination, m.Source, mapped)
		}
		if mapped && (!slices.Contains(m.Options, "nosuid") || !slices.Contains(m.Options, "nodev")) {
			t.Errorf("%s idmapped without nosuid,nodev: %v", m.Destination, m.Options)
		}
	}
}
