package hostile

import (
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// reviewMountType adds a mount of type typ at dest.
func reviewMountType(typ, dest string, opts ...string) func(*testing.T, *testutil.Bundle, *specs.Spec) {
	return func(_ *testing.T, _ *testutil.Bundle, s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: dest, Type: typ, Source: typ, Options: opts})
	}
}

// TestReviewKernelFilesystems: filesystems the host-mounts rule let
// through. A proc mounted anywhere but /proc escapes the masked and
// read-only paths (they are applied at /proc only): with user namespaces
// off its sys/kernel/core_pattern was writable by container root, host
// root's pipe on the next crash anywhere on the host. binfmt_misc without
// a user namespace is the host's own instance, and its register file was
// writable by container root: a handler it registers runs for every
// exec on the host (with the C flag as root). A cgroup v1 cpuset
// hierarchy mounted read-write is the host's. Refused now, with user
// namespaces on and off.
func TestReviewKernelFilesystems(t *testing.T) {
	attacks := []attack{
		{name: "proc at /mnt", tweak: reviewMountType("proc", "/mnt"),
			want: []string{"proc filesystem at /mnt (only /proc gets the masked and read-only paths)", `(rule host-mounts, allow with "allowHostMounts": ["/mnt"]`}},
		{name: "proc at /proc/../mnt", tweak: reviewMountType("proc", "/proc/../mnt"), want: []string{"proc filesystem at /proc/../mnt", "rule host-mounts"}},
		{name: "binfmt_misc", tweak: reviewMountType("binfmt_misc", "/mnt"),
			want: []string{"binfmt_misc filesystem at /mnt", `"allowHostMounts": ["/mnt"]`}},
		{name: "fusectl", tweak: reviewMountType("fusectl", "/mnt"), want: []string{"fusectl filesystem at /mnt", "rule host-mounts"}},
		{name: "cpuset read-write", tweak: reviewMountType("cpuset", "/mnt", "rw"), want: []string{"read-write cgroup filesystem at /mnt", "rule host-mounts"}},
	}
	t.Run("user namespaces on", func(t *testing.T) { expectAllRefused(t, attacks) })
	off, _ := testutil.WritePolicy(t, `{"userNamespace": {"enabled": false}}`)
	t.Run("user namespaces off", func(t *testing.T) {
		var offAttacks []attack
		for _, a := range attacks {
			tweak := a.tweak
			a.tweak = func(t *testing.T, b *testutil.Bundle, s *specs.Spec) { reviewUsernsOff(s); tweak(t, b, s) }
			offAttacks = append(offAttacks, a)
		}
		expectAllRefused(t, offAttacks, off)
	})
	// The container's own /proc still mounts.
	t.Run("proc at /proc//", func(t *testing.T) {
		rt := testutil.NewRuntime(t)
		b := testutil.NewBundle(t, "true")
		b.Edit(t, func(s *specs.Spec) {
			for i := range s.Mounts {
				if s.Mounts[i].Type == "proc" {
					s.Mounts[i].Destination = "/proc//"
				}
			}
		})
		rt.RunIn(t, b)
	})
}
