package hardening

import (
	"fmt"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// RefuseSharedCgroup is the shared-cgroup rule.
//
// Threat: linux.cgroupsPath naming an existing cgroup puts the container
// into it: the container's limits (pids, memory, devices) are written
// there, `pause` freezes every process in it and `delete --force` kills
// them. A config.json could so raise the limits of, freeze or kill host
// services or another container.
//
// Fields (read only): linux.cgroupsPath. The cgroup it names, and every
// cgroup below it, on every hierarchy (cgroup v1 controllers, the v2
// unified tree; a relative path both from the root and from the runtime's
// own cgroup; "slice:prefix:name" as systemd's), must hold no process: a
// new container has none of its own yet (HostFacts.CgroupProcs).
//
// Relaxed by: "allowSharedCgroups": true.
func RefuseSharedCgroup(s *specs.Spec, pol *Policy, f HostFacts, r *Report) error {
	if pol.AllowSharedCgroups || s.Linux == nil || s.Linux.CgroupsPath == "" || len(f.CgroupProcs) == 0 {
		return nil
	}
	dirs := make([]string, 0, len(f.CgroupProcs))
	for d := range f.CgroupProcs {
		dirs = append(dirs, d)
	}
	slices.Sort(dirs)
	var held []string
	for _, d := range dirs {
		held = append(held, fmt.Sprintf("%s holds %v", d, f.CgroupProcs[d]))
	}
	r.refuse(RuleSharedCgroup, fmt.Sprintf("cgroupsPath %s names a cgroup that already holds processes this container did not start (%s)",
		s.Linux.CgroupsPath, strings.Join(held, "; ")), `"allowSharedCgroups": true`)
	return nil
}
