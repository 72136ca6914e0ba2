package hostile

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// A caller's own user namespace mapping (Podman's --userns=auto) is kept
// only inside the subordinate IDs of "callerSubidUsers", without host ID
// 0, and never over another live container's range. These tests give a
// user of their own subordinate IDs in /etc/subuid and /etc/subgid for
// their duration and name it in the policy.

const callerMapUser = "ht-callermap"

// callerMapSubIDs adds "<callerMapUser>:start:size" to /etc/subuid and
// /etc/subgid until the test ends, and returns the policy flag naming
// the user.
func callerMapSubIDs(t *testing.T, start, size uint32) string {
	t.Helper()
	line := fmt.Sprintf("%s:%d:%d\n", callerMapUser, start, size)
	for _, file := range []string{"/etc/subuid", "/etc/subgid"} {
		data, err := os.ReadFile(file)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, append(data, line...), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.WriteFile(file, data, 0o644) })
	}
	flag, _ := testutil.WritePolicy(t, fmt.Sprintf(`{"userNamespace": {"callerSubidUsers": [%q]}}`, callerMapUser))
	return flag
}

// callerMapBundle is a bundle whose config creates a user namespace with
// the given mappings.
func callerMapBundle(t *testing.T, uid, gid []specs.LinuxIDMapping, args ...string) *testutil.Bundle {
	t.Helper()
	b := testutil.NewBundle(t, args...)
	b.Edit(t, func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		s.Linux.UIDMappings, s.Linux.GIDMappings = uid, gid
	})
	return b
}

func oneMapping(container, host, size uint32) []specs.LinuxIDMapping {
	return []specs.LinuxIDMapping{{ContainerID: container, HostID: host, Size: size}}
}

// insideUIDMapStart runs the bundle and returns the host ID its container
// root maps to, as /proc/self/uid_map shows it inside.
func insideUIDMapStart(t *testing.T, rt *testutil.Runtime, b *testutil.Bundle, global string) string {
	t.Helper()
	out, exit := runInside(t, rt, b, "cat /proc/self/uid_map", global)
	if exit != 0 {
		t.Fatalf("run: exit %d", exit)
	}
	f := strings.Fields(out)
	if len(f) < 3 || f[0] != "0" {
		t.Fatalf("uid_map %q", out)
	}
	return f[1]
}

func TestHostileCallerMapping(t *testing.T) {
	const start, size = 1_100_000_000, 1_000_000
	flag := callerMapSubIDs(t, start, size)
	kept := fmt.Sprint(start)
	for _, tc := range []struct {
		name     string
		uid, gid []specs.LinuxIDMapping
		kept     bool
	}{
		{name: "inside the subordinate IDs: kept", uid: oneMapping(0, start, 65536), gid: oneMapping(0, start, 65536), kept: true},
		{name: "one ID past the subordinate IDs: replaced", uid: oneMapping(0, start+size-65535, 65536), gid: oneMapping(0, start+size-65535, 65536)},
		{name: "an extra entry mapping host root: replaced",
			uid: append(oneMapping(0, start, 1000), specs.LinuxIDMapping{ContainerID: 1000, HostID: 0, Size: 1}), gid: oneMapping(0, start, 65536)},
		{name: "gid mapping outside: replaced", uid: oneMapping(0, start, 65536), gid: oneMapping(0, 1000, 65536)},
		{name: "no gid mapping: replaced", uid: oneMapping(0, start, 65536)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := testutil.NewRuntime(t)
			b := callerMapBundle(t, tc.uid, tc.gid)
			got := insideUIDMapStart(t, rt, b, flag)
			if got == "0" {
				t.Fatalf("container root is host root")
			}
			if (got == kept) != tc.kept {
				t.Errorf("container root maps to host %s; want the caller's mapping kept: %v", got, tc.kept)
			}
		})
	}
}

// TestHostileCallerMappingOverLiveRange: a caller mapping of host IDs
// another live container holds is refused, whether that container kept
// its own mapping or got its range from the runtime.
func TestHostileCallerMappingOverLiveRange(t *testing.T) {
	rt := testutil.NewRuntime(t)
	// The runtime allocates from the built-in pool; let the caller's
	// subordinate IDs cover its start too.
	const start, size = 0x70000000 - 65536, 1 << 22
	flag := callerMapSubIDs(t, start, size)

	owner := callerMapBundle(t, oneMapping(0, start, 65536), oneMapping(0, start, 65536), "sleep", "1000")
	rt.MustRun(flag, "run", "--detach", "--bundle", owner.Dir, rt.NewID())
	same := callerMapBundle(t, oneMapping(0, start+100, 65536), oneMapping(0, start+100, 65536))
	rt.ExpectRefused(t, same, []string{flag}, "caller's own mapping", "held by another container")

	allocated := testutil.NewBundle(t, "sleep", "1000")
	aid := rt.NewID()
	rt.MustRun(flag, "run", "--detach", "--bundle", allocated.Dir, aid)
	pid := rt.MustState(aid).Pid
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/uid_map", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(data))
	var host uint32
	if _, err := fmt.Sscan(f[1], &host); err != nil || host < start || host >= start+size {
		t.Skipf("allocated range %s lies outside the test's subordinate IDs", f[1])
	}
	over := callerMapBundle(t, oneMapping(0, host, 65536), oneMapping(0, host, 65536))
	rt.ExpectRefused(t, over, []string{flag}, "caller's own mapping", "held by another container")
}
