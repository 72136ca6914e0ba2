package hostile

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hardened-runtime/hardened/idmap"
	"github.com/hardened-runtime/hardened/tests/testutil"
)

// containerd's pinned user namespace of a `hostUsers: false` pod (issue
// #13): a bind-mounted user namespace file, <state>/io.containerd.grpc.v1.cri/
// sandboxes/<id>/pinned-namespaces/user, that no process is in when the
// sandbox is created. The runtime reads its mappings with a helper that
// joins it; it is joined only by that sandbox's own containers, only when
// it maps no host ID 0 and overlaps no range the runtime gave a live
// container, and its range is recorded in the host-wide registry.

// pinnedSandboxAnnotation is containerd's CRI sandbox ID annotation.
const pinnedSandboxAnnotation = "io.kubernetes.cri.sandbox-id"

// pinnedUserns makes a user namespace with the given mappings, pins it
// at dir/io.containerd.grpc.v1.cri/sandboxes/<sandbox>/pinned-namespaces/user
// (or at dir/userns when sandbox is ""), lets its process exit unless
// keep, and returns the path.
func pinnedUserns(t *testing.T, uid, gid syscall.SysProcIDMap, sandbox string, keep bool) string {
	t.Helper()
	cmd := exec.Command("sleep", "1000")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{uid},
		GidMappings: []syscall.SysProcIDMap{gid},
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stop := func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	pin := filepath.Join(t.TempDir(), "userns")
	if sandbox != "" {
		pin = filepath.Join(filepath.Dir(pin), "io.containerd.grpc.v1.cri", "sandboxes", sandbox, "pinned-namespaces", "user")
	}
	if err := os.MkdirAll(filepath.Dir(pin), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pin, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("/proc/"+strconv.Itoa(cmd.Process.Pid)+"/ns/user", pin, "", unix.MS_BIND, ""); err != nil {
		stop()
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(pin, unix.MNT_DETACH) })
	if keep {
		t.Cleanup(stop)
	} else {
		stop()
	}
	return pin
}

// pinnedMap is a mapping of size IDs from container ID 0 to host.
func pinnedMap(host int) syscall.SysProcIDMap {
	return syscall.SysProcIDMap{ContainerID: 0, HostID: host, Size: 65536}
}

// pinnedKubeletHost is a kubelet-like block, away from the runtime's
// built-in pool and from the CRI suite's blocks.
func pinnedKubeletHost(i int) int { return 65536 * (4200 + i) }

// pinnedJoin makes the spec a container of sandbox in the user namespace
// at pin.
func pinnedJoin(s *specs.Spec, pin, sandbox string) {
	if sandbox != "" {
		if s.Annotations == nil {
			s.Annotations = map[string]string{}
		}
		s.Annotations[pinnedSandboxAnnotation] = sandbox
	}
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace, Path: pin})
	s.Linux.UIDMappings, s.Linux.GIDMappings = nil, nil
}

// TestPinnedUsernsRefused: what a config.json may not do with a pinned
// user namespace.
func TestPinnedUsernsRefused(t *testing.T) {
	expectAllRefused(t, []attack{
		{
			name: "pinned namespace mapping host root (uids)",
			tweak: func(t *testing.T, _ *testutil.Bundle, s *specs.Spec) {
				pinnedJoin(s, pinnedUserns(t, pinnedMap(0), pinnedMap(pinnedKubeletHost(1)), "sb-root", false), "sb-root")
			},
			want: []string{"maps host ID 0", "rule user-namespace", `"allowHostNamespaces": ["user"]`},
		},
		{
			name: "pinned namespace mapping host root (gids only)",
			tweak: func(t *testing.T, _ *testutil.Bundle, s *specs.Spec) {
				pinnedJoin(s, pinnedUserns(t, pinnedMap(pinnedKubeletHost(2)), pinnedMap(0), "sb-gid", false), "sb-gid")
			},
			want: []string{"maps host ID 0", "rule user-namespace"},
		},
		{
			name: "pinned namespace mapping host root at container ID 1000",
			tweak: func(t *testing.T, _ *testutil.Bundle, s *specs.Spec) {
				m := syscall.SysProcIDMap{ContainerID: 1000, HostID: 0, Size: 1}
				pinnedJoin(s, pinnedUserns(t, m, pinnedMap(pinnedKubeletHost(3)), "sb-high", false), "sb-high")
			},
			want: []string{"maps host ID 0", "rule user-namespace"},
		},
		{
			name: "another pod's pinned namespace",
			tweak: func(t *testing.T, _ *testutil.Bundle, s *specs.Spec) {
				pin := pinnedUserns(t, pinnedMap(pinnedKubeletHost(4)), pinnedMap(pinnedKubeletHost(4)), "sb-victim", false)
				pinnedJoin(s, pin, "sb-attacker")
			},
			want: []string{"pinned namespace of another pod sandbox", "rule namespace-joins", `"allowUnrelatedJoins": ["user"]`},
		},
		{
			name: "a pod's pinned namespace from a container of no pod",
			tweak: func(t *testing.T, _ *testutil.Bundle, s *specs.Spec) {
				pinnedJoin(s, pinnedUserns(t, pinnedMap(pinnedKubeletHost(5)), pinnedMap(pinnedKubeletHost(5)), "sb-nopod", false), "")
			},
			want: []string{"pinned namespace of another pod sandbox", "rule namespace-joins"},
		},
		{
			name: "a bind-mounted user namespace outside containerd's layout",
			tweak: func(t *testing.T, _ *testutil.Bundle, s *specs.Spec) {
				pinnedJoin(s, pinnedUserns(t, pinnedMap(pinnedKubeletHost(6)), pinnedMap(pinnedKubeletHost(6)), "", false), "sb-loose")
			},
			want: []string{"not containerd's pinned namespace", "rule namespace-joins"},
		},
		{
			name: "a pinned namespace a host process is in",
			tweak: func(t *testing.T, _ *testutil.Bundle, s *specs.Spec) {
				pinnedJoin(s, pinnedUserns(t, pinnedMap(pinnedKubeletHost(7)), pinnedMap(pinnedKubeletHost(7)), "sb-busy", true), "sb-busy")
			},
			want: []string{"holds process", "rule namespace-joins"},
		},
	})
}

// TestPinnedUsernsOverlapsRuntimeRange: a pod's pinned namespace whose
// (kubelet's) range overlaps the range the runtime gave a live container
// is refused, with a message that says how to keep the two apart.
func TestPinnedUsernsOverlapsRuntimeRange(t *testing.T) {
	rt := testutil.NewRuntime(t)
	b := testutil.NewBundle(t, "sleep", "1000")
	live := rt.NewID()
	rt.MustRun("run", "--detach", "--bundle", b.Dir, live)
	uids, err := idmap.ReadIDMap(fmt.Sprintf("/proc/%d/uid_map", rt.MustState(live).Pid))
	if err != nil || len(uids) != 1 {
		t.Fatalf("live container's uid_map: %v %v", uids, err)
	}
	start := int(uids[0].Host.Start) + 1000
	pod := testutil.NewBundle(t, "true")
	pod.Edit(t, func(s *specs.Spec) {
		pinnedJoin(s, pinnedUserns(t, pinnedMap(start), pinnedMap(start), "sb-overlap", false), "sb-overlap")
	})
	rt.ExpectRefused(t, pod, rt.Global(), "maps host IDs that the runtime gave a live container", "/etc/subuid", `"kubelet"`)
}

// TestPinnedUsernsRuns: a pod's sandbox in its pinned namespace (no
// process in it yet) runs with the kubelet's mapping, seen from inside;
// the range is in the host-wide registry while it runs, and gone after
// delete.
func TestPinnedUsernsRuns(t *testing.T) {
	rt := testutil.NewRuntime(t)
	host := pinnedKubeletHost(20)
	pin := pinnedUserns(t, pinnedMap(host), pinnedMap(host), "sb-runs", false)
	b := testutil.NewBundle(t, "sleep", "1000")
	b.Edit(t, func(s *specs.Spec) { pinnedJoin(s, pin, "sb-runs") })
	id := rt.NewID()
	rt.MustRun("run", "--detach", "--bundle", b.Dir, id)
	pid := rt.MustState(id).Pid
	m, err := os.ReadFile(fmt.Sprintf("/proc/%d/uid_map", pid))
	if want := fmt.Sprintf("0 %d 65536", host); err != nil || strings.Join(strings.Fields(string(m)), " ") != want {
		t.Errorf("uid_map of the sandbox: %q %v, want %q", m, err, want)
	}
	e, ok := allocEntry(t, rt.Root, id)
	if !ok || !e.Reserved || e.Range.Start != uint32(host) {
		t.Errorf("registry entry of the sandbox: %+v %v, want a reservation of the kubelet's range from %d", e, ok, host)
	}
	rt.MustRun("delete", "--force", id)
	if e, ok := allocEntry(t, rt.Root, id); ok {
		t.Errorf("registry entry left after delete: %+v", e)
	}
}
