package hardening

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// RefuseDeviceNodePaths is the device-nodes rule.
//
// Threat: libcontainer cannot mknod in a user namespace, so it creates a
// container's device by bind-mounting the host's node at the entry's path
// (the container path, taken as a host path). An entry naming a host file
// with permitted numbers ("/etc/shadow", type c 1:3) puts that file in the
// container, writable as far as its owner allows; a path reached through a
// host symlink (/dev/fd/..., /dev/core) or with ".." goes anywhere.
//
// Fields (read only): linux.devices[].path, which must be a clean path
// under /dev where the host has a device node of the entry's type and
// numbers (HostFacts.DeviceNodes, no symlink followed). /dev/ptmx is not
// checked: libcontainer never creates it from the entry. The type and
// numbers themselves are judged by the host-devices rule.
//
// Relaxed by: no policy key; a device the host lacks cannot be given, and
// "allowDevices" only widens which numbers are allowed.
func RefuseDeviceNodePaths(s *specs.Spec, _ *Policy, facts HostFacts, r *Report) error {
	if s.Linux == nil {
		return nil
	}
	for i, d := range s.Linux.Devices {
		where := fmt.Sprintf("linux.devices[%d] %s", i, d.Path)
		if !underDev(d.Path) {
			r.refuse(RuleDeviceNodes, fmt.Sprintf("%s is not a clean path under /dev (libcontainer binds the host's file at that path)", where), "")
			continue
		}
		if d.Path == "/dev/ptmx" {
			continue
		}
		want := DeviceNode{Type: d.Type, Major: d.Major, Minor: d.Minor}
		if want.Type == "u" {
			want.Type = "c"
		}
		if want.Type == "p" {
			want.Major, want.Minor = 0, 0
		}
		host, ok := facts.DeviceNodes[d.Path]
		switch {
		case !ok:
			r.refuse(RuleDeviceNodes, fmt.Sprintf("%s (%s): the host has no device node there (missing, or reached through a symlink)", where, want), "")
		case host != want:
			r.refuse(RuleDeviceNodes, fmt.Sprintf("%s (%s): the host's %s is %s", where, want, d.Path, host), "")
		}
	}
	return nil
}

// String renders n as "c 1:3", "p" or "not a device node".
func (n DeviceNode) String() string {
	switch n.Type {
	case "c", "b":
		return fmt.Sprintf("%s %d:%d", n.Type, n.Major, n.Minor)
	case "p":
		return "p (FIFO)"
	case "":
		return "not a device node"
	}
	return n.Type
}
