package hostile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// devicesAdd returns a tweak adding a linux.devices entry with a
// permitted type and numbers but a hostile path.
func devicesAdd(path, typ string, major, minor int64) func(*testing.T, *testutil.Bundle, *specs.Spec) {
	return func(_ *testing.T, _ *testutil.Bundle, s *specs.Spec) {
		s.Linux.Devices = append(s.Linux.Devices, specs.LinuxDevice{Path: path, Type: typ, Major: major, Minor: minor})
	}
}

// devicesNeedHost skips unless the host has path as a symlink (wantLink)
// or as a node, so each case tests what it says.
func devicesNeedHost(t *testing.T, path string, wantLink bool) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil || (fi.Mode()&os.ModeSymlink != 0) != wantLink {
		t.Skipf("host %s: %v, mode %v", path, err, fi)
	}
}

// TestDevicesHostPaths: libcontainer bind-mounts a device entry's path
// from the host into a user-namespaced container (it cannot mknod there),
// so an entry naming a host file with permitted numbers (c 1:3, /dev/null)
// would put that file in the container. The path must be a clean path
// under /dev where the host has a node of the entry's type and numbers,
// reached without a symlink.
func TestDevicesHostPaths(t *testing.T) {
	want := func(detail string) []string { return []string{detail, "(rule device-nodes, no policy key allows it)"} }
	attacks := []attack{
		{name: "host /etc/passwd as c 1:3", tweak: devicesAdd("/etc/passwd", "c", 1, 3),
			want: want("linux.devices[0] /etc/passwd is not a clean path under /dev")},
		{name: "host /etc/shadow through /dev/..", tweak: devicesAdd("/dev/../etc/shadow", "c", 1, 3),
			want: want("linux.devices[0] /dev/../etc/shadow is not a clean path under /dev")},
		{name: "relative path", tweak: devicesAdd("etc/hostname", "c", 1, 5),
			want: want("etc/hostname is not a clean path under /dev")},
		{name: "host file the attacker prepared", tweak: func(t *testing.T, b *testutil.Bundle, s *specs.Spec) {
			p := filepath.Join(t.TempDir(), "payload")
			if err := os.WriteFile(p, []byte("x"), 0o666); err != nil {
				t.Fatal(err)
			}
			devicesAdd(p, "c", 1, 9)(t, b, s)
		}, want: want("is not a clean path under /dev")},
		{name: "/dev itself", tweak: devicesAdd("/dev", "c", 1, 3), want: want("linux.devices[0] /dev is not a clean path under /dev")},
		{name: "host symlink /dev/fd/0 (to the init's stdin)", tweak: func(t *testing.T, b *testutil.Bundle, s *specs.Spec) {
			devicesNeedHost(t, "/dev/fd", true)
			devicesAdd("/dev/fd/0", "c", 1, 3)(t, b, s)
		}, want: want("linux.devices[0] /dev/fd/0 (c 1:3): the host has no device node there")},
		{name: "host symlink /dev/stdin", tweak: func(t *testing.T, b *testutil.Bundle, s *specs.Spec) {
			devicesNeedHost(t, "/dev/stdin", true)
			devicesAdd("/dev/stdin", "c", 1, 3)(t, b, s)
		}, want: want("/dev/stdin (c 1:3): the host has no device node there")},
		{name: "host directory /dev/shm", tweak: func(t *testing.T, b *testutil.Bundle, s *specs.Spec) {
			devicesNeedHost(t, "/dev/shm", false)
			devicesAdd("/dev/shm", "c", 1, 3)(t, b, s)
		}, want: want("/dev/shm (c 1:3): the host's /dev/shm is not a device node")},
		{name: "no such node on the host", tweak: devicesAdd("/dev/hardened-no-such-node", "c", 1, 3),
			want: want("/dev/hardened-no-such-node (c 1:3): the host has no device node there")},
		{name: "host /dev/kmsg (kernel log) named c 1:3", tweak: func(t *testing.T, b *testutil.Bundle, s *specs.Spec) {
			devicesNeedHost(t, "/dev/kmsg", false)
			devicesAdd("/dev/kmsg", "c", 1, 3)(t, b, s)
		}, want: want("/dev/kmsg (c 1:3): the host's /dev/kmsg is c 1:11")},
		{name: "host /dev/null named as zero (numbers mismatch)", tweak: devicesAdd("/dev/null", "c", 1, 5),
			want: want("/dev/null (c 1:5): the host's /dev/null is c 1:3")},
		{name: "type mismatch: /dev/full as a block device", tweak: devicesAdd("/dev/full", "b", 1, 7),
			want: []string{"/dev/full (b 1:7): the host's /dev/full is c 1:7", "rule device-nodes", `"allowDevices": ["b 1:7"]`}},
		{name: "the bad entry is named among good ones", tweak: func(t *testing.T, b *testutil.Bundle, s *specs.Spec) {
			devicesAdd("/dev/null", "c", 1, 3)(t, b, s)
			devicesAdd("/dev/zero", "c", 1, 5)(t, b, s)
			devicesAdd("/etc/hostname", "c", 1, 3)(t, b, s)
		}, want: want("linux.devices[2] /etc/hostname is not a clean path under /dev")},
	}
	expectAllRefused(t, attacks)
	t.Run("without user namespaces too", func(t *testing.T) {
		flag, _ := testutil.WritePolicy(t, `{"userNamespace": {"enabled": false}}`)
		expectAllRefused(t, attacks[:1], flag)
	})
}

// TestDevicesLegitimate: devices whose path is the host's matching node
// still work, and the container gets that node.
func TestDevicesLegitimate(t *testing.T) {
	t.Run("standard /dev/null and /dev/zero", func(t *testing.T) {
		rt := testutil.NewRuntime(t)
		b := testutil.NewBundle(t)
		b.Edit(t, func(s *specs.Spec) {
			s.Linux.Devices = append(s.Linux.Devices,
				specs.LinuxDevice{Path: "/dev/null", Type: "c", Major: 1, Minor: 3},
				specs.LinuxDevice{Path: "/dev/zero", Type: "c", Major: 1, Minor: 5})
			// An entry replaces runc's default cgroup rule for its path:
			// allow it as Docker does.
			for _, minor := range []int64{3, 5} {
				s.Linux.Resources.Devices = append(s.Linux.Resources.Devices, specs.LinuxDeviceCgroup{
					Allow: true, Type: "c", Major: &[]int64{1}[0], Minor: &minor, Access: "rwm"})
			}
		})
		out, exit := runInside(t, rt, b, "stat -c '%t:%T' /dev/null /dev/zero")
		if exit != 0 || strings.Fields(out)[0] != "1:3" || strings.Fields(out)[1] != "1:5" {
			t.Fatalf("inside: %q (exit %d)", out, exit)
		}
	})
	t.Run("/dev/fuse allowed by the policy", func(t *testing.T) {
		devicesNeedHost(t, "/dev/fuse", false)
		rt := testutil.NewRuntime(t)
		b := testutil.NewBundle(t)
		b.Edit(t, func(s *specs.Spec) {
			s.Linux.Devices = append(s.Linux.Devices, specs.LinuxDevice{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229})
		})
		flag, _ := testutil.WritePolicy(t, `{"allowDevices": ["c 10:229"]}`)
		out, exit := runInside(t, rt, b, "stat -c '%t:%T' /dev/fuse", flag)
		if exit != 0 || strings.TrimSpace(out) != "a:e5" {
			t.Fatalf("inside: %q (exit %d), want a:e5 (10:229)", out, exit)
		}
	})
}
