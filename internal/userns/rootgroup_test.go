package userns

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/hardening"
	"github.com/hardened-runtime/hardened/idmap"
)

// TestRootGroup: the staging directory's group is the host group of the
// container's group 0, or unknown (-1) when it cannot be told for sure.
func TestRootGroup(t *testing.T) {
	t.Parallel()
	withGIDs := func(ms ...specs.LinuxIDMapping) *specs.Spec {
		return &specs.Spec{Linux: &specs.Linux{GIDMappings: ms}}
	}
	rng := idmap.Range{Start: 300000, Size: 65536}
	for _, tc := range []struct {
		name  string
		s     *specs.Spec
		plan  hardening.UsernsPlan
		facts hardening.HostFacts
		want  int64
	}{
		{"allocated range", &specs.Spec{}, hardening.UsernsPlan{New: true}, hardening.HostFacts{IDRange: &rng}, 300000},
		{"new namespace, no range yet", &specs.Spec{}, hardening.UsernsPlan{New: true}, hardening.HostFacts{}, -1},
		{"caller's mapping", withGIDs(specs.LinuxIDMapping{ContainerID: 0, HostID: 500000, Size: 65536}), hardening.UsernsPlan{Caller: true}, hardening.HostFacts{}, 500000},
		{"caller's mapping without group 0", withGIDs(specs.LinuxIDMapping{ContainerID: 1, HostID: 500000, Size: 10}), hardening.UsernsPlan{Caller: true}, hardening.HostFacts{}, -1},
		{"joined namespace", &specs.Spec{}, hardening.UsernsPlan{Join: "/proc/42/ns/user"},
			hardening.HostFacts{Usernses: map[string]idmap.UsernsInfo{"/proc/42/ns/user": {GIDMap: []idmap.Mapping{{ContainerID: 0, Host: idmap.Range{Start: 700000, Size: 65536}}}}}}, 700000},
		{"joined namespace of unknown mapping", &specs.Spec{}, hardening.UsernsPlan{Join: "/proc/42/ns/user"}, hardening.HostFacts{}, -1},
		{"no user namespace", &specs.Spec{}, hardening.UsernsPlan{}, hardening.HostFacts{}, 0},
	} {
		if got := rootGroup(tc.s, tc.plan, tc.facts); got != tc.want {
			t.Errorf("%s: rootGroup = %d, want %d", tc.name, got, tc.want)
		}
	}
}
