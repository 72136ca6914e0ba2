package hardening

import (
	"fmt"
	"slices"
	"sort"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// RefuseNetDevices is the net-devices rule.
//
// Threat: linux.netDevices names host network interfaces that
// libcontainer, as host root, moves into the container's network
// namespace before the container starts. A config.json naming the host's
// uplink takes it off the host (the host loses its network until the
// container's namespace is gone, and the interface comes back without
// its addresses and routes) and hands the container raw access to the
// host's network segment, past any bridge, CNI plugin or firewall; it
// could equally take another container's interface.
//
// Fields (read only): linux.netDevices, every key (the host interface)
// not listed by the policy; the name it gets inside does not matter.
//
// Relaxed by: "allowNetDevices" (host interface names, matched exactly).
func RefuseNetDevices(s *specs.Spec, pol *Policy, _ HostFacts, r *Report) error {
	if s.Linux == nil || len(s.Linux.NetDevices) == 0 {
		return nil
	}
	names := make([]string, 0, len(s.Linux.NetDevices))
	for name := range s.Linux.NetDevices {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if slices.Contains(pol.AllowNetDevices, name) {
			continue
		}
		r.refuse(RuleNetDevices, fmt.Sprintf("linux.netDevices moves host network interface %s into the container", name),
			fmt.Sprintf(`"allowNetDevices": [%q]`, name))
	}
	return nil
}

// validInterfaceName reports whether n can name a network interface: 1
// to 15 bytes, no "/", ":" or white space, not "." or "..".
func validInterfaceName(n string) bool {
	if n == "" || len(n) > 15 || n == "." || n == ".." {
		return false
	}
	for _, c := range n {
		if c == '/' || c == ':' || c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}
