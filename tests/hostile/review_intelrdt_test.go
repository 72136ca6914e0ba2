package hostile

import (
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// reviewRdt sets linux.intelRdt.
func reviewRdt(closID string, schemata ...string) func(*testing.T, *testutil.Bundle, *specs.Spec) {
	return func(_ *testing.T, _ *testutil.Bundle, s *specs.Spec) {
		s.Linux.IntelRdt = &specs.LinuxIntelRdt{ClosID: closID, Schemata: schemata}
	}
}

// TestReviewIntelRdtClasses: linux.intelRdt.closID names the resctrl
// group libcontainer puts the container in and writes the schemata into,
// as host root, whether the group is the container's or not (its source
// says: "TODO: verify that l3CacheSchema and/or memBwSchema match the
// existing schemata"). closID "/" is the root group, the one every host
// process is in: "MB:0=10" throttled the whole host's memory bandwidth,
// "L3:0=1" its cache; another name joins and rewrites a class the host
// set up for its own workloads. Now refused by the intel-rdt rule unless
// the policy lists the class; the container's own group (no closID) is
// not this rule's. (This host has no resctrl: libcontainer would refuse
// the section afterwards anyway; the refusal now comes first.)
func TestReviewIntelRdtClasses(t *testing.T) {
	expectAllRefused(t, []attack{
		{name: "the root group", tweak: reviewRdt("/", "MB:0=10"),
			want: []string{`linux.intelRdt.closID "/" names a resctrl group`, `(rule intel-rdt, allow with "allowRdtClasses": ["/"]`}},
		{name: "a host class", tweak: reviewRdt("latency-critical", "L3:0=1"),
			want: []string{`closID "latency-critical"`, `"allowRdtClasses": ["latency-critical"]`}},
	})
}
