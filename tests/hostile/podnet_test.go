package hostile

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// A pod's network namespace (issue #13): containerd and CNI make it
// before the sandbox, owned by the host's user namespace, and name it in
// config.json. The runtime mounts the container's sysfs and writes its
// net.* sysctls in that namespace from the host side; these cases check
// from inside what the container sees, and that nothing a hostile
// config.json names there reaches the host's own network namespace or a
// global sysctl.

// podnetNetns makes a network namespace file as CNI does (`ip netns
// add`, owned by the host's user namespace, no process in it) with a
// veth pair podeth0, podeth1 in it, removed at the end of the test; it returns
// the file's path and the name for `ip netns exec`.
func podnetNetns(t *testing.T) (path, name string) {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name = "hpodnet-" + hex.EncodeToString(b)
	for i, args := range [][]string{{"netns", "add", name}, {"-n", name, "link", "add", "podeth0", "type", "veth", "peer", "name", "podeth1"}} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
		if i == 0 {
			t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
		}
	}
	return "/run/netns/" + name, name
}

// podnetJoin makes the spec join the network namespace at path and asks
// for sysctls.
func podnetJoin(s *specs.Spec, path string, sysctls map[string]string) {
	joinsNS(s, specs.NetworkNamespace, path)
	s.Linux.Sysctl = sysctls
}

// podnetHostSysctl reads a sysctl of the host's (the test's) network
// namespace.
func podnetHostSysctl(t *testing.T, name string) string {
	t.Helper()
	v, err := os.ReadFile(filepath.Join("/proc/sys", strings.ReplaceAll(name, ".", "/")))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(v))
}

// podnetUnchanged checks at the end of the test that the host's sysctls
// names keep their values (and puts them back if not).
func podnetUnchanged(t *testing.T, names ...string) {
	t.Helper()
	before := map[string]string{}
	for _, n := range names {
		before[n] = podnetHostSysctl(t, n)
	}
	t.Cleanup(func() {
		for _, n := range names {
			if now := podnetHostSysctl(t, n); now != before[n] {
				t.Errorf("the host's %s changed from %q to %q", n, before[n], now)
				_ = os.WriteFile(filepath.Join("/proc/sys", strings.ReplaceAll(n, ".", "/")), []byte(before[n]), 0)
			}
		}
	})
}

// podnetStagedSysfs lists the sysfs mounts in the runtime's staging
// directories.
func podnetStagedSysfs(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 8 && strings.HasPrefix(f[4], "/run/hardened-idmap/") && slicesIndex(f, "-") > 0 && f[slicesIndex(f, "-")+1] == "sysfs" {
			out = append(out, f[4])
		}
	}
	return out
}

// slicesIndex is slices.Index for strings.
func slicesIndex(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

// TestPodNetnsFromInside: a container with the runtime's user namespace
// in a pod's network namespace runs (sysfs and sysctls would fail from
// inside), sees that namespace's interfaces only, through a read-only
// /sys, and the sysctls it asked for, ping_group_range clamped to its
// groups and written as the host IDs of those groups; the host's own
// values do not change, and after the container nothing stays mounted.
func TestPodNetnsFromInside(t *testing.T) {
	path, name := podnetNetns(t)
	podnetUnchanged(t, "net.ipv4.ip_unprivileged_port_start", "net.ipv4.ping_group_range")
	rt := testutil.NewRuntime(t)
	b := testutil.NewBundle(t)
	b.Edit(t, func(s *specs.Spec) {
		podnetJoin(s, path, map[string]string{
			"net.ipv4.ip_unprivileged_port_start": "0",
			"net.ipv4.ping_group_range":           "0 2147483647",
		})
	})
	out, exit := runInside(t, rt, b, `ls /sys/class/net | tr '\n' ' '; echo
awk '$2 == "/sys" {print $4}' /proc/mounts
cat /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/net/ipv4/ping_group_range
awk '{print $2}' /proc/self/uid_map
touch /sys/x 2>/dev/null && echo WROTE || echo DENIED`)
	if exit != 0 {
		t.Fatalf("container in a pod's network namespace: exit %d: %s", exit, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 6 {
		t.Fatalf("output %q", out)
	}
	if got := strings.TrimSpace(lines[0]); got != "lo podeth0 podeth1" {
		t.Errorf("/sys/class/net inside: %q, want the pod's \"lo podeth0 podeth1\" only", got)
	}
	if !strings.HasPrefix(lines[1], "ro,") {
		t.Errorf("/sys mount options %q, want read-only", lines[1])
	}
	if lines[2] != "0" {
		t.Errorf("ip_unprivileged_port_start inside: %q, want 0", lines[2])
	}
	if got := strings.Join(strings.Fields(lines[3]), " "); got != "0 65535" {
		t.Errorf("ping_group_range inside: %q, want the container's groups \"0 65535\"", got)
	}
	if lines[4] == "0" {
		t.Errorf("container root is host root")
	}
	if lines[5] != "DENIED" {
		t.Errorf("write to /sys: %s", lines[5])
	}
	hostView, err := exec.Command("ip", "netns", "exec", name, "cat", "/proc/sys/net/ipv4/ping_group_range").Output()
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(hostView))
	lo, _ := strconv.Atoi(f[0])
	if len(f) != 2 || lo < 65536 || lines[4] != f[0] {
		t.Errorf("ping_group_range in the pod's netns seen from the host: %q, want the container's host group range starting at %s", hostView, lines[4])
	}
	if left := podnetStagedSysfs(t); len(left) > 0 {
		t.Errorf("sysfs mounts left after the container: %v", left)
	}
}

// TestPodNetnsSysctlsStayInThePod: sysctls that config.json names in a
// pod's network namespace which do not exist there (a path out of
// net/, a global net.core sysctl only the host's namespace has, a bad
// value) fail the create: the host's value is never written, and the
// sysfs mounted for the container is gone.
func TestPodNetnsSysctlsStayInThePod(t *testing.T) {
	cases := []struct {
		name    string
		sysctls map[string]string
		host    string
	}{
		{"path out of net/ to kernel.core_pattern", map[string]string{"net/../kernel/core_pattern": "|/bin/false"}, "kernel.core_pattern"},
		{"dotted path out of net", map[string]string{"net.ipv4.conf.all/../../../../kernel/core_pattern": "|/bin/false"}, "kernel.core_pattern"},
		{"global net.core sysctl (init netns only)", map[string]string{"net.core.message_cost": "1234"}, "net.core.message_cost"},
		{"global BPF JIT hardening off", map[string]string{"net.core.bpf_jit_harden": "0"}, "net.core.bpf_jit_harden"},
		{"bad value after the sysfs mount", map[string]string{"net.ipv4.ip_unprivileged_port_start": "not-a-number"}, "net.ipv4.ip_unprivileged_port_start"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path, _ := podnetNetns(t)
			podnetUnchanged(t, tc.host)
			rt := testutil.NewRuntime(t)
			b := testutil.NewBundle(t, "true")
			b.Edit(t, func(s *specs.Spec) { podnetJoin(s, path, tc.sysctls) })
			_, errOut, exit := rt.Run(append(rt.Global(), "create", "--bundle", b.Dir, rt.NewID())...)
			if exit == 0 {
				t.Fatalf("create succeeded with sysctls %v", tc.sysctls)
			}
			t.Logf("create: %s", errOut)
			if !strings.Contains(errOut, "sysctl") {
				t.Errorf("error does not name the sysctl: %s", errOut)
			}
			if left := podnetStagedSysfs(t); len(left) > 0 {
				t.Errorf("sysfs mounts left after the failed create: %v", left)
			}
		})
	}
}

// TestPodNetnsHostileJoins: the host side runs only for a network
// namespace the rules accepted: the host's own under another name, a
// host process's, or a file that is no namespace are refused before
// anything is mounted or written (the sysctl asked for would change the
// host's value).
func TestPodNetnsHostileJoins(t *testing.T) {
	podnetUnchanged(t, "net.ipv4.ip_unprivileged_port_start")
	v := podnetHostSysctl(t, "net.ipv4.ip_unprivileged_port_start")
	other := "1000"
	if v == other {
		other = "1001"
	}
	sysctls := map[string]string{"net.ipv4.ip_unprivileged_port_start": other}
	expectAllRefused(t, []attack{
		{
			name: "the host's network namespace bind-mounted like a CNI file",
			tweak: func(t *testing.T, _ *testutil.Bundle, s *specs.Spec) {
				pin := filepath.Join(t.TempDir(), "netns")
				if err := os.WriteFile(pin, nil, 0o600); err != nil {
					t.Fatal(err)
				}
				if err := unix.Mount("/proc/self/ns/net", pin, "", unix.MS_BIND, ""); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = unix.Unmount(pin, unix.MNT_DETACH) })
				podnetJoin(s, pin, sysctls)
			},
			want: []string{"host network namespace", "rule host-namespaces", `"allowHostNamespaces": ["network"]`},
		},
		{
			name: "a host process's network namespace",
			tweak: func(t *testing.T, _ *testutil.Bundle, s *specs.Spec) {
				pid := joinsHostSleep(t, "-n")
				podnetJoin(s, "/proc/"+strconv.Itoa(pid)+"/ns/net", sysctls)
			},
			want: []string{"rule namespace-joins", `"allowUnrelatedJoins": ["network"]`},
		},
		{
			name: "a regular file as the network namespace",
			tweak: func(t *testing.T, _ *testutil.Bundle, s *specs.Spec) {
				f := filepath.Join(t.TempDir(), "netns")
				if err := os.WriteFile(f, nil, 0o600); err != nil {
					t.Fatal(err)
				}
				podnetJoin(s, f, sysctls)
			},
			want: []string{"cannot be inspected", "rule namespace-joins"},
		},
	})
	if left := podnetStagedSysfs(t); len(left) > 0 {
		t.Errorf("sysfs mounts left: %v", left)
	}
}
