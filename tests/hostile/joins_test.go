package hostile

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/idmap"
	"github.com/hardened-runtime/hardened/tests/testutil"
)

// Joins of another container's namespaces (issue #11, item 4): only a
// container of the same runtime root that the engine relates to this one
// (the same CRI sandbox, or neither in a pod: Docker's container:<name>)
// may be joined; host processes, other roots' (other engines')
// containers and other pods are refused by the namespace-joins rule. A
// cgroupsPath naming a cgroup that holds processes is refused by the
// shared-cgroup rule.

// joinsNSFile returns the /proc/<pid>/ns file name of a namespace type.
func joinsNSFile(typ specs.LinuxNamespaceType) string {
	if typ == specs.NetworkNamespace {
		return "net"
	}
	if typ == specs.MountNamespace {
		return "mnt"
	}
	return string(typ)
}

// joinsTarget runs a detached `sleep` container in rt with annotations
// ann and returns its ID and init PID.
func joinsTarget(t *testing.T, rt *testutil.Runtime, ann map[string]string, id string) (string, int) {
	t.Helper()
	b := testutil.NewBundle(t, "sleep", "1000")
	b.Edit(t, func(s *specs.Spec) { s.Annotations = ann })
	if id == "" {
		id = rt.NewID()
	}
	rt.MustRun("run", "--detach", "--bundle", b.Dir, id)
	return id, rt.MustState(id).Pid
}

// joinsHostSleep starts `sleep` on the host under unshare with flags
// (none: in the host's namespaces), killed at the end of the test, and
// returns its PID.
func joinsHostSleep(t *testing.T, flags ...string) int {
	t.Helper()
	return joinsSleeper(t, append(append([]string{"unshare"}, flags...), "sleep", "1000")...)
}

// joinsSleeper starts argv, a command that sets namespaces up and execs
// `sleep` in the same process (unshare, ip netns exec), killed at the end
// of the test, and returns its PID once it is sleep (the namespaces
// exist).
func joinsSleeper(t *testing.T, argv ...string) int {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	for range 100 {
		if exe, _ := os.Readlink("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/exe"); strings.HasSuffix(exe, "/sleep") {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	return cmd.Process.Pid
}

// joinsNS makes the spec join namespace typ at path.
func joinsNS(s *specs.Spec, typ specs.LinuxNamespaceType, path string) {
	for i, ns := range s.Linux.Namespaces {
		if ns.Type == typ {
			s.Linux.Namespaces[i].Path = path
			return
		}
	}
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: typ, Path: path})
}

// joinsNoSysfs drops the sysfs mount: a container with a user namespace of
// its own cannot mount sysfs in a network namespace that the host's user
// namespace owns (known; Kubernetes support is issue #13).
func joinsNoSysfs(s *specs.Spec) {
	var ms []specs.Mount
	for _, m := range s.Mounts {
		if m.Type != "sysfs" {
			ms = append(ms, m)
		}
	}
	s.Mounts = ms
}

func nsPath(pid int, typ specs.LinuxNamespaceType) string {
	return "/proc/" + strconv.Itoa(pid) + "/ns/" + joinsNSFile(typ)
}

func criAnnotations(sandbox, kind string) map[string]string {
	return map[string]string{"io.kubernetes.cri.sandbox-id": sandbox, "io.kubernetes.cri.container-type": kind}
}

const joinsRule = "(rule namespace-joins, allow with "

// Another engine's container (a container of another --root) is refused,
// whichever namespace is joined.
func TestJoinOtherRoot(t *testing.T) {
	other := testutil.NewRuntime(t)
	_, pid := joinsTarget(t, other, nil, "")
	var attacks []attack
	for _, typ := range []specs.LinuxNamespaceType{specs.NetworkNamespace, specs.PIDNamespace, specs.IPCNamespace, specs.UTSNamespace, specs.MountNamespace, specs.UserNamespace} {
		attacks = append(attacks, attack{
			name:  string(typ),
			tweak: func(t *testing.T, b *testutil.Bundle, s *specs.Spec) { joinsNS(s, typ, nsPath(pid, typ)) },
			want: []string{"joins the " + string(typ) + " namespace at " + nsPath(pid, typ), "which holds process " + strconv.Itoa(pid) + ", not a container of this runtime root",
				joinsRule + `"allowUnrelatedJoins": ["` + string(typ) + `"]`},
		})
	}
	// The same namespace through a symlink: the namespace counts, not the
	// path's spelling.
	attacks = append(attacks, attack{
		name: "network through a symlink",
		tweak: func(t *testing.T, b *testutil.Bundle, s *specs.Spec) {
			link := filepath.Join(t.TempDir(), "netns")
			if err := os.Symlink(nsPath(pid, specs.NetworkNamespace), link); err != nil {
				t.Fatal(err)
			}
			joinsNS(s, specs.NetworkNamespace, link)
		},
		want: []string{"not a container of this runtime root", joinsRule + `"allowUnrelatedJoins": ["network"]`},
	})
	expectAllRefused(t, attacks)
}

// A host process's namespaces: one of its own (unshare), and the host's
// (the host-namespaces rule's).
func TestJoinHostProcess(t *testing.T) {
	own := joinsHostSleep(t, "--net", "--ipc", "--uts")
	plain := joinsHostSleep(t)
	attacks := []attack{}
	for _, typ := range []specs.LinuxNamespaceType{specs.NetworkNamespace, specs.IPCNamespace, specs.UTSNamespace} {
		attacks = append(attacks, attack{
			name:  "own " + string(typ) + " namespace",
			tweak: func(t *testing.T, b *testutil.Bundle, s *specs.Spec) { joinsNS(s, typ, nsPath(own, typ)) },
			want:  []string{"which holds process " + strconv.Itoa(own), joinsRule + `"allowUnrelatedJoins": ["` + string(typ) + `"]`},
		})
	}
	attacks = append(attacks, attack{
		name: "host pid namespace of a host process",
		tweak: func(t *testing.T, b *testutil.Bundle, s *specs.Spec) {
			joinsNS(s, specs.PIDNamespace, nsPath(plain, specs.PIDNamespace))
		},
		want: []string{"joins the host pid namespace", `(rule host-namespaces, allow with "allowHostNamespaces": ["pid"])`},
	})
	expectAllRefused(t, attacks)
}

// The policy key lets a host allow such a join: the same host process's
// network namespace then runs, and the container is in it.
func TestJoinHostProcessAllowed(t *testing.T) {
	rt := testutil.NewRuntime(t)
	own := joinsHostSleep(t, "--net")
	pol, _ := testutil.WritePolicy(t, `{"allowUnrelatedJoins": ["network"]}`)
	b := testutil.NewBundle(t)
	b.Edit(t, func(s *specs.Spec) {
		joinsNoSysfs(s)
		joinsNS(s, specs.NetworkNamespace, nsPath(own, specs.NetworkNamespace))
	})
	out, exit := runInside(t, rt, b, "readlink /proc/self/ns/net", pol)
	want, _ := os.Readlink(nsPath(own, specs.NetworkNamespace))
	if exit != 0 || strings.TrimSpace(out) != want {
		t.Errorf("with allowUnrelatedJoins: exit %d, in %q, want %q", exit, out, want)
	}
}

// Containers of the same root that the engine does not relate.
func TestJoinSameRootUnrelated(t *testing.T) {
	rt := testutil.NewRuntime(t)
	// A sandbox carries its own ID as its sandbox ID.
	podA := rt.NewID()
	_, pidA := joinsTarget(t, rt, criAnnotations(podA, "sandbox"), podA)
	_, pidDocker := joinsTarget(t, rt, nil, "")
	attacks := []attack{
		{name: "pod container into another pod's sandbox",
			tweak: func(t *testing.T, b *testutil.Bundle, s *specs.Spec) {
				s.Annotations = criAnnotations("other-sandbox", "container")
				joinsNS(s, specs.NetworkNamespace, nsPath(pidA, specs.NetworkNamespace))
			},
			want: []string{"of container " + podA + " of another pod (sandbox " + podA + ", this container's: other-sandbox)", joinsRule + `"allowUnrelatedJoins": ["network"]`}},
		{name: "pod container into another pod's sandbox user namespace",
			tweak: func(t *testing.T, b *testutil.Bundle, s *specs.Spec) {
				s.Annotations = criAnnotations("other-sandbox", "container")
				joinsNS(s, specs.UserNamespace, nsPath(pidA, specs.UserNamespace))
			},
			want: []string{"of another pod", joinsRule + `"allowUnrelatedJoins": ["user"]`}},
		{name: "container of no pod into a pod's sandbox",
			tweak: func(t *testing.T, b *testutil.Bundle, s *specs.Spec) {
				joinsNS(s, specs.PIDNamespace, nsPath(pidA, specs.PIDNamespace))
			},
			want: []string{"this container belongs to no pod", joinsRule + `"allowUnrelatedJoins": ["pid"]`}},
		{name: "pod container into a container of no pod",
			tweak: func(t *testing.T, b *testutil.Bundle, s *specs.Spec) {
				s.Annotations = criAnnotations(podA, "container")
				joinsNS(s, specs.IPCNamespace, nsPath(pidDocker, specs.IPCNamespace))
			},
			want: []string{"which belongs to no pod, and this container belongs to pod sandbox " + podA, joinsRule + `"allowUnrelatedJoins": ["ipc"]`}},
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			b := testutil.NewBundle(t, "true")
			b.Edit(t, func(s *specs.Spec) { a.tweak(t, b, s) })
			rt.ExpectRefused(t, b, nil, a.want...)
		})
	}
}

// Docker's container:<name> sharing: two containers of one root, neither
// in a pod. The join runs, and from inside the container is in the
// target's network namespace and user namespace (the same mapping).
func TestJoinDockerStyle(t *testing.T) {
	rt := testutil.NewRuntime(t)
	target, pid := joinsTarget(t, rt, nil, "")
	b := testutil.NewBundle(t)
	b.Edit(t, func(s *specs.Spec) { joinsNS(s, specs.NetworkNamespace, nsPath(pid, specs.NetworkNamespace)) })
	out, exit := runInside(t, rt, b, "readlink /proc/self/ns/net; cat /proc/self/uid_map")
	wantNet, _ := os.Readlink(nsPath(pid, specs.NetworkNamespace))
	wantMap, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/uid_map")
	if exit != 0 || !strings.HasPrefix(out, wantNet+"\n") || strings.Join(strings.Fields(out)[1:], " ") != strings.Join(strings.Fields(string(wantMap)), " ") {
		t.Errorf("joined %s of container %s: exit %d, inside:\n%s\nwant %s and uid_map %s", nsPath(pid, specs.NetworkNamespace), target, exit, out, wantNet, wantMap)
	}
}

// A pod: the app container names the sandbox's pid and ipc namespaces and
// the sandbox's sandbox ID; it runs, sees the sandbox's init as PID 1 and
// shares its IPC namespace.
func TestJoinSameSandbox(t *testing.T) {
	rt := testutil.NewRuntime(t)
	sandbox := rt.NewID()
	_, pid := joinsTarget(t, rt, criAnnotations(sandbox, "sandbox"), sandbox)
	b := testutil.NewBundle(t)
	b.Edit(t, func(s *specs.Spec) {
		s.Annotations = criAnnotations(sandbox, "container")
		joinsNS(s, specs.PIDNamespace, nsPath(pid, specs.PIDNamespace))
		joinsNS(s, specs.IPCNamespace, nsPath(pid, specs.IPCNamespace))
	})
	out, exit := runInside(t, rt, b, "readlink /proc/self/ns/ipc; tr '\\0' ' ' < /proc/1/cmdline")
	wantIPC, _ := os.Readlink(nsPath(pid, specs.IPCNamespace))
	if exit != 0 || out != wantIPC+"\nsleep 1000 " {
		t.Errorf("app container of sandbox %s: exit %d, inside %q, want %q and PID 1 the sandbox's sleep", sandbox, exit, out, wantIPC)
	}
}

// A recycled PID: the root's state.json names a container whose init was
// PID p started at time T; p is now another process (start time not T).
// Its namespace is no container's. `explain` shows the decision without
// running anything; with the right start time, the same state makes the
// join related (the check is what decides).
func TestJoinRecycledPID(t *testing.T) {
	rt := testutil.NewRuntime(t)
	host := joinsHostSleep(t, "--net")
	start, err := idmap.ProcessStartTime(host)
	if err != nil {
		t.Fatal(err)
	}
	fakeRoot := filepath.Join(t.TempDir(), "root")
	fake := filepath.Join(fakeRoot, "recycled")
	if err := os.MkdirAll(fake, 0o700); err != nil {
		t.Fatal(err)
	}
	b := testutil.NewBundle(t)
	b.Edit(t, func(s *specs.Spec) { joinsNS(s, specs.NetworkNamespace, nsPath(host, specs.NetworkNamespace)) })
	for _, tc := range []struct {
		start   uint64
		refused bool
	}{{start + 1, true}, {start, false}} {
		state := `{"init_process_pid": ` + strconv.Itoa(host) + `, "init_process_start": ` + strconv.FormatUint(tc.start, 10) + `, "config": {"labels": []}}`
		if err := os.WriteFile(filepath.Join(fake, "state.json"), []byte(state), 0o600); err != nil {
			t.Fatal(err)
		}
		out, _, exit := rt.Run("--root", fakeRoot, "explain", b.Dir)
		refused := strings.Contains(out, "namespace-joins")
		if refused != tc.refused {
			t.Errorf("state.json start time %d (process's: %d): explain exit %d, namespace-joins refusal %v, want %v:\n%s", tc.start, start, exit, refused, tc.refused, out)
		}
		if tc.refused && !strings.Contains(out, "which holds process "+strconv.Itoa(host)) {
			t.Errorf("refusal does not name the process:\n%s", out)
		}
	}
}

// A bind-mounted network namespace (what `ip netns add` and CNI make):
// not in use yet, a pod sandbox joins it (as containerd's pause container
// joins CNI's /var/run/netns/cni-*, as today); once a host process is in
// it, it is that process's and refused.
func TestJoinPinnedNetns(t *testing.T) {
	rt := testutil.NewRuntime(t)
	r := make([]byte, 4)
	rand.Read(r)
	name := "hardened-hostile-" + hex.EncodeToString(r)
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	path := "/var/run/netns/" + name
	b := testutil.NewBundle(t)
	b.Edit(t, func(s *specs.Spec) {
		s.Annotations = criAnnotations("sb-"+name, "sandbox")
		joinsNoSysfs(s)
		joinsNS(s, specs.NetworkNamespace, path)
	})
	want, _ := exec.Command("ip", "netns", "exec", name, "readlink", "/proc/self/ns/net").Output()
	out, exit := runInside(t, rt, b, "readlink /proc/self/ns/net")
	if exit != 0 || out != string(want) {
		t.Fatalf("CNI-style netns %s: exit %d, inside %q, want %q", path, exit, out, want)
	}
	pid := joinsSleeper(t, "ip", "netns", "exec", name, "sleep", "1000")
	b2 := testutil.NewBundle(t, "true")
	b2.Edit(t, func(s *specs.Spec) { joinsNS(s, specs.NetworkNamespace, path) })
	rt.ExpectRefused(t, b2, nil, "joins the network namespace at "+path+", which holds process "+strconv.Itoa(pid), joinsRule+`"allowUnrelatedJoins": ["network"]`)
}

// joinsCgroup makes a fresh cgroup named after the test on the given
// hierarchies (relative to /sys/fs/cgroup), with a host `sleep` in sub
// (relative to the cgroup, "" for the cgroup itself), and returns the
// cgroup's path. Everything is removed at the end of the test.
func joinsCgroup(t *testing.T, sub string, hierarchies ...string) string {
	t.Helper()
	r := make([]byte, 4)
	rand.Read(r)
	name := "/hardened-hostile-" + hex.EncodeToString(r)
	cmd := exec.Command("sleep", "1000")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var dirs []string
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		for i := len(dirs) - 1; i >= 0; i-- {
			for range 50 {
				if err := syscall.Rmdir(dirs[i]); err == nil || os.IsNotExist(err) {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	})
	for _, h := range hierarchies {
		dir := filepath.Join("/sys/fs/cgroup", h, name)
		leaf := filepath.Join(dir, sub)
		for _, d := range []string{dir, leaf} {
			if err := os.Mkdir(d, 0o755); err != nil && !os.IsExist(err) {
				t.Fatal(err)
			}
			if len(dirs) == 0 || dirs[len(dirs)-1] != d {
				dirs = append(dirs, d)
			}
		}
		if err := os.WriteFile(filepath.Join(leaf, "cgroup.procs"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return name
}

// cgroupsPath naming a cgroup that holds a host process: v1 (pids, whose
// limit the container would raise), v2 (the unified tree's cgroup.procs),
// and a cgroup whose child holds one (pause freezes the subtree).
func TestSharedCgroup(t *testing.T) {
	for _, tc := range []struct {
		name        string
		sub         string
		hierarchies []string
	}{
		{"v1 pids", "", []string{"pids"}},
		{"v1 freezer", "", []string{"freezer"}},
		{"v2 unified", "", []string{"unified"}},
		{"process in a child cgroup", "child", []string{"pids"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", tc.hierarchies[0], "cgroup.procs")); err != nil {
				t.Skipf("no %s hierarchy: %v", tc.hierarchies[0], err)
			}
			rt := testutil.NewRuntime(t)
			path := joinsCgroup(t, tc.sub, tc.hierarchies...)
			b := testutil.NewBundle(t, "true")
			b.Edit(t, func(s *specs.Spec) { s.Linux.CgroupsPath = path })
			rt.ExpectRefused(t, b, nil, "cgroupsPath "+path+" names a cgroup that already holds processes this container did not start",
				`(rule shared-cgroup, allow with "allowSharedCgroups": true)`)
		})
	}
}

// An existing but empty cgroup (a parent an engine prepared) is fine.
func TestSharedCgroupEmptyIsFine(t *testing.T) {
	rt := testutil.NewRuntime(t)
	r := make([]byte, 4)
	rand.Read(r)
	name := "/hardened-hostile-" + hex.EncodeToString(r)
	dir := filepath.Join("/sys/fs/cgroup/pids", name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Rmdir(dir) })
	b2 := testutil.NewBundle(t, "sleep", "1000")
	b2.Edit(t, func(s *specs.Spec) { s.Linux.CgroupsPath = name })
	id := rt.NewID()
	rt.MustRun("run", "--detach", "--bundle", b2.Dir, id)
	cg, _ := os.ReadFile("/proc/" + strconv.Itoa(rt.MustState(id).Pid) + "/cgroup")
	if !strings.Contains(string(cg), "pids:"+name+"\n") {
		t.Errorf("container in the empty cgroup %s: its cgroups are\n%s", name, cg)
	}
}
