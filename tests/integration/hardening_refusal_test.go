package integration

// Refusals as the user sees them: one error line on stderr and in
// log.json naming what was refused, the rule and the policy key that
// allows it; a non-zero exit; no container; config.json untouched.

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// refusal is one refusal the default policy must make: the tweak that
// provokes it and the message fragment that names it.
type refusal struct {
	name  string
	tweak func(t *testing.T, s *specs.Spec)
	want  string
	// alsoRefused, when set, names a second refusal the same tweak
	// provokes, one no policy key allows (so no hint to check).
	alsoRefused string
}

// hostBlockDevice returns a block device node the host has directly under
// /dev: the device-nodes rule also refuses an entry naming a node the host
// lacks. Without one it returns /dev/sda 8:0 and false.
func hostBlockDevice() (path string, major, minor int64, ok bool) {
	entries, _ := os.ReadDir("/dev")
	for _, e := range entries {
		var st unix.Stat_t
		p := filepath.Join("/dev", e.Name())
		if unix.Lstat(p, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFBLK {
			return p, int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev)), true
		}
	}
	return "/dev/sda", 8, 0, false
}

func withoutNamespace(s *specs.Spec, typ specs.LinuxNamespaceType) {
	s.Linux.Namespaces = slices.DeleteFunc(s.Linux.Namespaces, func(ns specs.LinuxNamespace) bool { return ns.Type == typ })
}

func bindMount(src, dst string, opts ...string) specs.Mount {
	return specs.Mount{Destination: dst, Type: "bind", Source: src, Options: append([]string{"rbind"}, opts...)}
}

// listenUnix makes a real unix socket named name in a fresh short
// directory (socket paths are limited to 108 bytes) and returns its path.
func listenUnix(t *testing.T, name string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "hsock-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	p := filepath.Join(dir, name)
	l, err := net.Listen("unix", p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return p
}

func refusals() []refusal {
	blk, blkMajor, blkMinor, ok := hostBlockDevice()
	blkMissing := ""
	if !ok {
		blkMissing = "the host has no device node there"
	}
	return []refusal{
		{
			name:  "host-network-namespace",
			tweak: func(_ *testing.T, s *specs.Spec) { withoutNamespace(s, specs.NetworkNamespace) },
			want:  `host network namespace (rule host-namespaces, allow with "allowHostNamespaces": ["network"])`,
		},
		{
			name:  "host-pid-namespace",
			tweak: func(_ *testing.T, s *specs.Spec) { withoutNamespace(s, specs.PIDNamespace) },
			want:  `host pid namespace (rule host-namespaces, allow with "allowHostNamespaces": ["pid"])`,
		},
		{
			name: "join-pid1-network-namespace",
			tweak: func(_ *testing.T, s *specs.Spec) {
				withoutNamespace(s, specs.NetworkNamespace)
				s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: "/proc/1/ns/net"})
			},
			want: `joins the host network namespace at /proc/1/ns/net (rule host-namespaces, allow with "allowHostNamespaces": ["network"])`,
		},
		{
			// Matched by path whether or not dockerd runs here.
			name: "docker-socket",
			tweak: func(_ *testing.T, s *specs.Spec) {
				s.Mounts = append(s.Mounts, bindMount("/var/run/docker.sock", "/var/run/docker.sock"))
			},
			want: `bind mount of host path /var/run/docker.sock at /var/run/docker.sock (rule host-mounts, allow with "allowHostMounts": ["/run/docker.sock"])`,
		},
		{
			// A live socket named docker.sock anywhere is a runtime API.
			name: "socket-named-docker-sock",
			tweak: func(t *testing.T, s *specs.Spec) {
				p := listenUnix(t, "docker.sock")
				s.Mounts = append(s.Mounts, bindMount(p, "/run/api.sock"))
			},
			want: `/docker.sock at /run/api.sock (rule host-mounts, allow with "allowHostMounts": [`,
		},
		{
			// Sneaky: an innocent name that is a symlink to docker.sock.
			name: "symlink-to-docker-sock",
			tweak: func(t *testing.T, s *specs.Spec) {
				p := listenUnix(t, "docker.sock")
				link := filepath.Join(filepath.Dir(p), "app.sock")
				if err := os.Symlink(p, link); err != nil {
					t.Fatal(err)
				}
				s.Mounts = append(s.Mounts, bindMount(link, "/run/app.sock"))
			},
			want: `/app.sock at /run/app.sock (resolves to `,
		},
		{
			name: "etc-read-write",
			tweak: func(_ *testing.T, s *specs.Spec) {
				s.Mounts = append(s.Mounts, bindMount("/etc", "/mnt", "rw"))
			},
			want: `bind mount of host path /etc at /mnt (rule host-mounts, allow with "allowHostMounts": ["/etc"])`,
		},
		{
			name: "block-device",
			tweak: func(_ *testing.T, s *specs.Spec) {
				s.Linux.Devices = append(s.Linux.Devices, specs.LinuxDevice{Path: blk, Type: "b", Major: blkMajor, Minor: blkMinor})
			},
			want:        fmt.Sprintf(`host device %s (b %d:%d) (rule host-devices, allow with "allowDevices": ["b %d:%d"])`, blk, blkMajor, blkMinor, blkMajor, blkMinor),
			alsoRefused: blkMissing,
		},
		{
			// Sneaky: a disk under the name of a harmless device. The host
			// has no such node either (rule device-nodes).
			name: "block-device-renamed",
			tweak: func(_ *testing.T, s *specs.Spec) {
				s.Linux.Devices = append(s.Linux.Devices, specs.LinuxDevice{Path: "/dev/null2", Type: "b", Major: 8, Minor: 0})
			},
			want:        `host device /dev/null2 (b 8:0) (rule host-devices`,
			alsoRefused: "linux.devices[0] /dev/null2 (b 8:0): the host has no device node there",
		},
		{
			name: "sysctl-core-pattern",
			// The host's own value: should a runtime under test not refuse,
			// setting it changes nothing.
			tweak: func(t *testing.T, s *specs.Spec) {
				cur, err := os.ReadFile("/proc/sys/kernel/core_pattern")
				if err != nil {
					t.Fatal(err)
				}
				s.Linux.Sysctl = map[string]string{"kernel.core_pattern": strings.TrimSpace(string(cur))}
			},
			want: `sysctl kernel.core_pattern (rule sysctls, allow with "allowSysctls": ["kernel.core_pattern"])`,
		},
		{
			name: "prestart-hook",
			tweak: func(_ *testing.T, s *specs.Spec) {
				//lint:ignore SA1019 runc still runs prestart
				s.Hooks = &specs.Hooks{Prestart: []specs.Hook{{Path: "/usr/bin/true"}}}
			},
			want: `prestart hook /usr/bin/true runs on the host as root (rule hooks, allow with "allowedHooks": ["/usr/bin/true"])`,
		},
	}
}

func TestHardeningRefusals(t *testing.T) {
	rt := testutil.NewRuntime(t)
	for _, tc := range refusals() {
		t.Run(tc.name, func(t *testing.T) {
			b := testutil.NewBundle(t, "true")
			b.Edit(t, func(s *specs.Spec) { tc.tweak(t, s) })
			want := []string{
				"hardened create failed: container ",
				`refused by policy "baseline": `,
				tc.want,
				"; set these keys in /etc/hardened/policy.json",
			}
			n := 1
			if tc.alsoRefused != "" {
				want = append(want, tc.alsoRefused)
				n++
			}
			msg := rt.ExpectRefused(t, b, nil, want...)
			if got := strings.Count(msg, "(rule "); got != n {
				t.Errorf("message names %d refusals, want %d: %s", got, n, msg)
			}
		})
	}
}

// A refused hook never runs: a real script that would leave a mark.
func TestHardeningRefusedHookDoesNotRun(t *testing.T) {
	rt := testutil.NewRuntime(t)
	dir := t.TempDir()
	mark := filepath.Join(dir, "ran")
	hook := filepath.Join(dir, "hook.sh")
	if err := os.WriteFile(hook, []byte("#!/bin/sh\ntouch "+mark+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	b := testutil.NewBundle(t, "true")
	b.Edit(t, func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: hook}}, Poststop: []specs.Hook{{Path: hook}}}
	})
	rt.ExpectRefused(t, b, nil, "createRuntime hook "+hook+" runs on the host as root (rule hooks", "poststop hook "+hook)
	if _, err := os.Stat(mark); !os.IsNotExist(err) {
		t.Errorf("the refused hook ran (stat %s: %v)", mark, err)
	}
}

// Every refusal of one configuration is in the one message.
func TestHardeningRefusalsAllAtOnce(t *testing.T) {
	rt := testutil.NewRuntime(t)
	b := testutil.NewBundle(t, "true")
	cases := refusals()
	b.Edit(t, func(s *specs.Spec) {
		for _, tc := range cases {
			if tc.name == "join-pid1-network-namespace" {
				continue // the same namespace as host-network-namespace
			}
			tc.tweak(t, s)
		}
	})
	msg := rt.ExpectRefused(t, b, nil, `refused by policy "baseline": `)
	for _, tc := range cases {
		if tc.name != "join-pid1-network-namespace" && !strings.Contains(msg, tc.want) {
			t.Errorf("message lacks the %s refusal %q:\n%s", tc.name, tc.want, msg)
		}
	}
}

// What Docker's --privileged asks for (every capability, no seccomp, a
// read-write sysfs, every device allowed) is refused in one line naming
// privileged and its key, not with the reason of every rule. On these hosts `docker run --privileged` fails even under
// runc (CAP_SYS_RESOURCE is outside the bounding set), so the request is
// made by hand.
func TestHardeningRefusalPrivileged(t *testing.T) {
	rt := testutil.NewRuntime(t)
	b := testutil.NewBundle(t, "true")
	b.Edit(t, func(s *specs.Spec) {
		setAllCapSets(s.Process, allCaps())
		s.Process.NoNewPrivileges = false
		s.Linux.Seccomp = nil
		s.Linux.MaskedPaths, s.Linux.ReadonlyPaths = nil, nil
		for i, m := range s.Mounts {
			if m.Type == "sysfs" || m.Type == "cgroup" {
				s.Mounts[i].Options = slices.DeleteFunc(slices.Clone(m.Options), func(o string) bool { return o == "ro" })
				s.Mounts[i].Options = append(s.Mounts[i].Options, "rw")
			}
		}
		s.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
	})
	msg := rt.ExpectRefused(t, b, nil,
		`privileged container (rule privileged, allow with "allowPrivileged": true`,
	)
	if n := strings.Count(msg, "(rule "); n != 1 {
		t.Errorf("message names %d refusals, want 1: %s", n, msg)
	}
}

// allowHint matches the `allow with "key": [value]` part of one refusal.
var allowHint = regexp.MustCompile(`allow with ("[A-Za-z]+": \[[^\]]*\])\)`)

// The policy key a refusal names is usable as given: a policy file holding
// exactly that key and value is valid, and with it the same bundle is no
// longer refused (checked with explain, so nothing host-wide actually runs).
func TestHardeningRefusalHintsAreValidPolicy(t *testing.T) {
	rt := testutil.NewRuntime(t)
	cases := append(refusals(), refusal{
		name: "device-cgroup-allow-all",
		tweak: func(_ *testing.T, s *specs.Spec) {
			s.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
		},
		want: `device cgroup allows a *:* rwm (rule host-devices`,
	}, refusal{
		name: "device-cgroup-all-char-devices",
		tweak: func(_ *testing.T, s *specs.Spec) {
			s.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{{Allow: true, Type: "c", Access: "rw"}}
		},
		want: `device cgroup allows c *:* rw (rule host-devices`,
	})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.alsoRefused != "" {
				t.Skip("also refused by a rule no key relaxes: the hint alone cannot make it run")
			}
			b := testutil.NewBundle(t, "true")
			b.Edit(t, func(s *specs.Spec) { tc.tweak(t, s) })
			msg := rt.ExpectRefused(t, b, nil, tc.want)
			m := allowHint.FindStringSubmatch(msg)
			if m == nil {
				t.Fatalf("no `allow with \"key\": [...]` in %s", msg)
			}
			policy := "{" + m[1] + "}"
			if !json.Valid([]byte(policy)) {
				t.Fatalf("the hint %s is not JSON", m[1])
			}
			flag, path := testutil.WritePolicy(t, policy)
			if out, errOut, code := rt.Run(flag, "policy"); code != 0 {
				t.Errorf("BUG: the refusal says to allow with %s, but a policy file with exactly that is rejected, so the user is told a fix that cannot be applied: exit %d: %s%s", m[1], code, strings.TrimSpace(errOut), out)
				return
			}
			if out, errOut, code := rt.Run(flag, "explain", b.Dir); code != 0 {
				t.Errorf("explain with the hinted policy %s (%s): exit %d, want 0 (no longer refused)\n%s%s", path, m[1], code, out, errOut)
			}
		})
	}
}

// Sneaky: the host's network namespace named by another path than
// /proc/{1,self,thread-self}/ns/net: a symlink to /proc/self/ns/net, and
// /proc/<pid>/ns/net of a host process (this test's, which runs in the same
// network namespace as the runtime). Either is the host's namespace and
// must be refused like /proc/self/ns/net is. If it is not, the container
// shows where it ended up.
func TestHardeningRefusalHostNamespaceByOtherPath(t *testing.T) {
	rt := testutil.NewRuntime(t)
	hostNet, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "netns")
	if err := os.Symlink("/proc/self/ns/net", link); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, path string }{
		{"symlink-to-proc-self", link},
		{"proc-pid-of-host-process", "/proc/" + strconv.Itoa(os.Getpid()) + "/ns/net"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := testutil.NewBundle(t, "readlink", "/proc/self/ns/net")
			b.Edit(t, func(s *specs.Spec) {
				withoutNamespace(s, specs.NetworkNamespace)
				s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: tc.path})
			})
			out, errOut, code := rt.Run("run", "--bundle", b.Dir, rt.NewID())
			if code == 0 {
				if got := strings.TrimSpace(out); got == hostNet {
					t.Errorf("BUG: a container joining %s (the host's network namespace, %s) was not refused and runs in %s: the host-namespaces rule only compares the path with /proc/{1,self,thread-self}/ns/*", tc.path, hostNet, got)
				} else {
					t.Errorf("joining %s: not refused, container in %s (host %s)", tc.path, got, hostNet)
				}
				return
			}
			if !strings.Contains(errOut, "host network namespace") || !strings.Contains(errOut, "rule host-namespaces") {
				t.Errorf("joining %s: exit %d, but stderr does not name the host network namespace refusal: %s", tc.path, code, errOut)
			}
		})
	}
}
