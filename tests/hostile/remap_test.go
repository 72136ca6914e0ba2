package hostile

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// An engine's remap range ("remapSubidUsers", dockerd --userns-remap) is
// kept only for a mapping wholly inside the remap user's subordinate IDs
// without host ID 0; only such a container gets its read-write cgroup
// mount made read-only instead of refused; the range is never shared
// with a container of another range. These tests give a user of their
// own subordinate IDs for their duration (testutil.AddSubIDUser).

const (
	remapHostileUser  = "ht-remap-hostile"
	remapHostileStart = 430_000_000
	remapHostileSize  = 65536
)

// remapHostileBundle is a bundle whose config creates a user namespace
// with the given mappings and mounts the cgroup filesystem read-write, as
// dockerd --userns-remap does.
func remapHostileBundle(t *testing.T, uid, gid []specs.LinuxIDMapping, args ...string) *testutil.Bundle {
	t.Helper()
	b := callerMapBundle(t, uid, gid, args...)
	b.Edit(t, func(s *specs.Spec) {
		for i, m := range s.Mounts {
			if m.Type == "cgroup" || m.Type == "cgroup2" {
				s.Mounts[i].Options = slices.DeleteFunc(slices.Clone(m.Options), func(o string) bool { return o == "ro" })
			}
		}
	})
	return b
}

// remapReadOnlyCgroupScript prints the mapped host root, whether every
// cgroup mount is read-only, and whether a cgroup can be made in the
// first one, as the container sees it.
const remapReadOnlyCgroupScript = `set -- $(cat /proc/self/uid_map); echo "root=$2"
awk '/ - cgroup2? / { n++; if ($6 !~ /^ro/) w++ } END { print (n > 0 && w == 0) ? "cgroup=ro" : "cgroup=rw" }' /proc/self/mountinfo
d=$(awk '/ - cgroup2? / { print $5; exit }' /proc/self/mountinfo); mkdir "$d/ht-escape" 2>/dev/null && echo mkdir=ok || echo mkdir=denied`

func TestHostileRemapRange(t *testing.T) {
	testutil.AddSubIDUser(t, remapHostileUser, remapHostileStart, remapHostileSize)
	flag, _ := testutil.WritePolicy(t, fmt.Sprintf(`{"userNamespace": {"remapSubidUsers": [%q]}}`, remapHostileUser))
	in := oneMapping(0, remapHostileStart, remapHostileSize)
	const cgroupRefused = `read-write cgroup filesystem at /sys/fs/cgroup (rule host-mounts, allow with "allowHostMounts": ["/sys/fs/cgroup"])`

	t.Run("inside the remap range: kept, cgroup made read-only", func(t *testing.T) {
		rt := testutil.NewRuntime(t)
		out, exit := runInside(t, rt, remapHostileBundle(t, in, in), remapReadOnlyCgroupScript, flag)
		if want := fmt.Sprintf("root=%d\ncgroup=ro\nmkdir=denied\n", remapHostileStart); exit != 0 || out != want {
			t.Errorf("exit %d, %q; want %q", exit, out, want)
		}
	})
	for _, tc := range []struct {
		name     string
		uid, gid []specs.LinuxIDMapping
	}{
		{"sneaky: one ID past the remap range", oneMapping(0, remapHostileStart+1, remapHostileSize), oneMapping(0, remapHostileStart+1, remapHostileSize)},
		{"sneaky: an extra gid entry mapping host root", in, append(oneMapping(0, remapHostileStart, 1000), specs.LinuxIDMapping{ContainerID: 1000, HostID: 0, Size: 1})},
		{"sneaky: uid mapping only", in, nil},
	} {
		t.Run(tc.name+": its read-write cgroup mount refused", func(t *testing.T) {
			rt := testutil.NewRuntime(t)
			rt.ExpectRefused(t, remapHostileBundle(t, tc.uid, tc.gid), []string{flag}, cgroupRefused)
		})
	}
	t.Run("sneaky: inside the remap range with a read-write sysfs: refused", func(t *testing.T) {
		rt := testutil.NewRuntime(t)
		b := remapHostileBundle(t, in, in)
		b.Edit(t, func(s *specs.Spec) {
			for i, m := range s.Mounts {
				if m.Type == "sysfs" {
					s.Mounts[i].Options = slices.DeleteFunc(slices.Clone(m.Options), func(o string) bool { return o == "ro" })
				}
			}
		})
		rt.ExpectRefused(t, b, []string{flag}, `read-write sysfs at /sys (rule host-mounts, allow with "allowHostMounts": ["/sys"])`)
	})
	t.Run("two containers of the remap range at once", func(t *testing.T) {
		rt := testutil.NewRuntime(t)
		first := remapHostileBundle(t, in, in, "sleep", "1000")
		rt.MustRun(flag, "run", "--detach", "--bundle", first.Dir, rt.NewID())
		out, exit := runInside(t, rt, remapHostileBundle(t, in, in), remapReadOnlyCgroupScript, flag)
		if !strings.HasPrefix(out, fmt.Sprintf("root=%d\n", remapHostileStart)) || exit != 0 {
			t.Errorf("second container: exit %d, %q", exit, out)
		}
	})
}

// TestHostileRemapRangeHeld: a caller's own mapping (callerSubidUsers)
// that overlaps the engine's range and is live keeps the engine's
// containers out: the range is shared among the engine's containers
// only.
func TestHostileRemapRangeHeld(t *testing.T) {
	const callerUser = "ht-remap-caller"
	testutil.AddSubIDUser(t, remapHostileUser, remapHostileStart, remapHostileSize)
	testutil.AddSubIDUser(t, callerUser, remapHostileStart-remapHostileSize, 2*remapHostileSize)
	flag, _ := testutil.WritePolicy(t, fmt.Sprintf(`{"userNamespace": {"remapSubidUsers": [%q], "callerSubidUsers": [%q]}}`, remapHostileUser, callerUser))
	rt := testutil.NewRuntime(t)
	straddle := oneMapping(0, remapHostileStart-remapHostileSize/2, remapHostileSize)
	owner := callerMapBundle(t, straddle, straddle, "sleep", "1000")
	rt.MustRun(flag, "run", "--detach", "--bundle", owner.Dir, rt.NewID())
	in := oneMapping(0, remapHostileStart, remapHostileSize)
	rt.ExpectRefused(t, remapHostileBundle(t, in, in), []string{flag}, "the engine's remap range", "held by another container")
}
