package hardening

import (
	"bufio"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/cgroups"
)

// cgroupMounts lists what /proc/self/mountinfo says: every cgroup v1
// mount of a hierarchy's root, and the cgroup v2 mount libcontainer uses;
// each with the key of its hierarchy in /proc/self/cgroup.
func TestCgroupMountsMatchMountinfo(t *testing.T) {
	t.Parallel()
	fh, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Skip(err)
	}
	defer fh.Close()
	var want []string
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		pre, post, _ := strings.Cut(sc.Text(), " - ")
		fields, tail := strings.Fields(pre), strings.Fields(post)
		if len(fields) < 5 || len(tail) < 1 || fields[3] != "/" {
			continue
		}
		switch {
		case tail[0] == "cgroup",
			tail[0] == "cgroup2" && (fields[4] == unifiedCgroupMountpoint || fields[4] == hybridCgroupMountpoint):
			if !slices.Contains(want, fields[4]) {
				want = append(want, fields[4])
			}
		}
	}
	owns, err := cgroups.ParseCgroupFile("/proc/self/cgroup")
	if err != nil {
		t.Skip(err)
	}
	var got []string
	for _, m := range cgroupMounts() {
		got = append(got, m.point)
		if _, ok := owns[m.key]; !ok {
			t.Errorf("mount %s: key %q is not in /proc/self/cgroup %v", m.point, m.key, owns)
		}
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("cgroupMounts %q, mountinfo says %q", got, want)
	}
	if len(got) == 0 {
		t.Skip("no cgroup mounts here")
	}
}
