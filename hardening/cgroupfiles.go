package hardening

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// RefuseCgroupFiles is the cgroup-files rule, run at create and update.
//
// Threat: linux.resources.unified names files of the container's cgroup
// v2 directory that libcontainer writes as host root, and it refuses
// only a slash. Not every file there is a limit: "cgroup.procs" (and
// "cgroup.threads") with a host PID moves a host process, such as sshd
// or dockerd, into the container's cgroup, where the container's limits,
// pause's freezer and delete --force's kill reach it (the shared-cgroup
// rule's threat, by another door); "cgroup.subtree_control" and
// "cgroup.type" change the tree's shape under the runtime; a
// "cpuset.cpus.partition" other than "member", or
// "cpuset.cpus.exclusive", takes CPUs away from the rest of the host.
//
// Fields (read only): linux.resources.unified keys: every "cgroup.*"
// but the limits "cgroup.max.descendants" and "cgroup.max.depth",
// "cpuset.cpus.exclusive", and "cpuset.cpus.partition" unless "member".
// The limits of the controllers (memory.max, pids.max...) are not this
// rule's.
//
// Relaxed by: nothing; none of these is a resource limit.
func RefuseCgroupFiles(s *specs.Spec, _ *Policy, _ HostFacts, r *Report) error {
	if s.Linux == nil || s.Linux.Resources == nil {
		return nil
	}
	refuseCgroupFiles(s.Linux.Resources.Unified, r)
	return nil
}

// refuseCgroupFiles records a refusal for every key of unified that is
// no resource limit.
func refuseCgroupFiles(unified map[string]string, r *Report) {
	keys := make([]string, 0, len(unified))
	for k := range unified {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if cgroupFileIsLimit(k, unified[k]) {
			continue
		}
		r.refuse(RuleCgroupFiles, fmt.Sprintf("linux.resources.unified[%q] is not a resource limit (it moves processes, reshapes the cgroup tree or takes CPUs from the host)", k), "")
	}
}

// cgroupFileIsLimit reports whether writing v to the cgroup v2 file k
// only limits the container.
func cgroupFileIsLimit(k, v string) bool {
	switch {
	case strings.HasPrefix(k, "cgroup."):
		return slices.Contains([]string{"cgroup.max.descendants", "cgroup.max.depth"}, k)
	case k == "cpuset.cpus.exclusive":
		return false
	case k == "cpuset.cpus.partition":
		return strings.TrimSpace(v) == "member"
	}
	return true
}
