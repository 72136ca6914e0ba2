package hardening

import (
	"fmt"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// RefuseRdtClasses is the intel-rdt rule.
//
// Threat: linux.intelRdt.closID names the resctrl group (class of
// service) that libcontainer, as host root, puts the container in and
// writes the section's schemata into, whether the group is the
// container's own or not. "/" is the root group, where every host
// process is: "MB:0=10" throttles the host's memory bandwidth, "L3:0=1"
// its cache. Another name joins a class the host set up for its own
// workloads and rewrites its allocation.
//
// Fields (read only): linux.intelRdt.closID, when set. The container's
// own group (no closID: named after the container) is not this rule's.
//
// Relaxed by: "allowRdtClasses" (closIDs, matched exactly: the classes
// the host made for containers, as containerd's RDT classes).
func RefuseRdtClasses(s *specs.Spec, pol *Policy, _ HostFacts, r *Report) error {
	if s.Linux == nil || s.Linux.IntelRdt == nil || s.Linux.IntelRdt.ClosID == "" {
		return nil
	}
	id := s.Linux.IntelRdt.ClosID
	if slices.Contains(pol.AllowRdtClasses, id) {
		return nil
	}
	r.refuse(RuleIntelRdt, fmt.Sprintf("linux.intelRdt.closID %q names a resctrl group the container would join and write the schemata of", id),
		fmt.Sprintf(`"allowRdtClasses": [%q]`, id))
	return nil
}
