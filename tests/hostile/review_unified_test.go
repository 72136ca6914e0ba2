package hostile

import (
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// reviewUnified sets linux.resources.unified[k] = v.
func reviewUnified(k, v string) func(*testing.T, *testutil.Bundle, *specs.Spec) {
	return func(_ *testing.T, _ *testutil.Bundle, s *specs.Spec) {
		if s.Linux.Resources == nil {
			s.Linux.Resources = &specs.LinuxResources{}
		}
		s.Linux.Resources.Unified = map[string]string{k: v}
	}
}

// TestReviewUnifiedCgroupFiles: linux.resources.unified writes any file
// of the container's cgroup v2 directory, not only limits: libcontainer
// refuses a slash and nothing else. {"cgroup.procs": "<pid>"} moved a
// host process (sshd, dockerd) into the container's cgroup, where the
// container's limits, pause's freezer and delete --force's kill then
// reached it, as the shared-cgroup rule refuses for cgroupsPath;
// cgroup.subtree_control and cgroup.type change the tree's shape, and
// cpuset.cpus.partition "root" takes CPUs away from the rest of the
// host. Refused now by the cgroup-files rule, at create and at update
// (containerd's update --resources JSON). (This host is cgroup v1 with
// v2 hybrid, where libcontainer refuses unified altogether; the refusal
// now comes first, naming the rule, on every host.)
func TestReviewUnifiedCgroupFiles(t *testing.T) {
	attacks := []attack{
		{name: "cgroup.procs", tweak: reviewUnified("cgroup.procs", "1"),
			want: []string{`linux.resources.unified["cgroup.procs"] is not a resource limit`, "(rule cgroup-files"}},
		{name: "cgroup.threads", tweak: reviewUnified("cgroup.threads", "1"), want: []string{`unified["cgroup.threads"]`, "rule cgroup-files"}},
		{name: "cgroup.subtree_control", tweak: reviewUnified("cgroup.subtree_control", "+cpuset"), want: []string{`unified["cgroup.subtree_control"]`, "rule cgroup-files"}},
		{name: "cgroup.type", tweak: reviewUnified("cgroup.type", "threaded"), want: []string{`unified["cgroup.type"]`, "rule cgroup-files"}},
		{name: "cpuset partition root", tweak: reviewUnified("cpuset.cpus.partition", "root"), want: []string{`unified["cpuset.cpus.partition"]`, "rule cgroup-files"}},
	}
	expectAllRefused(t, attacks)

	t.Run("update --resources", func(t *testing.T) {
		rt := testutil.NewRuntime(t)
		b := testutil.NewBundle(t)
		id := limitsDetached(t, rt, b)
		_, errOut, exit := rt.RunInput(strings.NewReader(`{"unified":{"cgroup.procs":"1"}}`), "update", "--resources", "-", id)
		if exit == 0 || !strings.Contains(errOut, `linux.resources.unified["cgroup.procs"] is not a resource limit`) || !strings.Contains(errOut, "rule cgroup-files") {
			t.Errorf("update with unified cgroup.procs: exit %d, stderr:\n%s", exit, errOut)
		}
	})
}
