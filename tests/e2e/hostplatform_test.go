package e2e

// Docker on the host most users have: cgroup v2 limits set by docker run
// and docker update, Docker's systemd cgroup driver, and the AppArmor
// label Docker asks for. The limit tests run on every host; the systemd
// and AppArmor ones skip where those are missing, and make test-vm runs
// them in a Debian 12 guest that has both (tests/vm).

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/sys/mountinfo"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// runDetachedArgs is runDetached with docker run flags before the image.
func runDetachedArgs(t *testing.T, dockerArgs []string, cmd ...string) *container {
	t.Helper()
	img := image(t)
	c := &container{Name: uniqueName("p")}
	args := append(append([]string{"run", "-d", "--runtime=hardened", "--name", c.Name}, dockerArgs...), img)
	out, errOut, exit := docker(t, append(args, cmd...)...)
	if exit != 0 {
		docker(t, "rm", "-f", c.Name)
		t.Fatalf("docker %s: exit %d\n%s%s", strings.Join(args, " "), exit, out, errOut)
	}
	c.ID = strings.TrimSpace(out)
	t.Cleanup(func() { removeAndCheck(t, c) })
	st := inspect(t, c.Name)
	c.Pid, c.Merged = st.State.Pid, st.GraphDriver.Data["MergedDir"]
	return c
}

// waitForMergedFile waits up to timeout for the detached container c to
// make the file rel of its rootfs, looked for at Docker's MergedDir; what
// names it in the failure.
func waitForMergedFile(t *testing.T, c *container, rel string, timeout time.Duration, what string) {
	t.Helper()
	for deadline := time.Now().Add(timeout); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Lstat(filepath.Join(c.Merged, rel)); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the container did not make %s in %s", what, timeout)
		}
	}
}

// mergedMountOptions returns the options of the mount that shows at
// Docker's MergedDir of c now (the topmost there).
func mergedMountOptions(t *testing.T, c *container) []string {
	t.Helper()
	mounts, err := mountinfo.GetMounts(mountinfo.SingleEntryFilter(c.Merged))
	if err != nil || len(mounts) == 0 {
		t.Fatalf("mountinfo of %s: %v", c.Merged, err)
	}
	return strings.Split(mounts[len(mounts)-1].Options, ",")
}

// limits are the values the tests read back from a container's cgroup.
type limits struct{ memory, pids, cpu string }

func readLimits(t *testing.T, pid int) limits {
	t.Helper()
	return limits{
		memory: testutil.CgroupValue(t, pid, (*testutil.Cgroup).MemoryLimit),
		pids:   testutil.CgroupValue(t, pid, (*testutil.Cgroup).PidsLimit),
		cpu:    testutil.CgroupValue(t, pid, (*testutil.Cgroup).CPUQuota),
	}
}

// TestDockerLimitsRunAndUpdate: docker run --memory --pids-limit --cpus
// reach the cgroup (either layout, either driver), and each docker update
// changes what it names and keeps the rest. dockerd sends a memory limit
// of 0 with an update that leaves memory alone: with a swap limit kept,
// that once failed with "unable to set swap limit without memory limit".
func TestDockerLimitsRunAndUpdate(t *testing.T) {
	c := runDetachedArgs(t, []string{"--memory", "32m", "--pids-limit", "50", "--cpus", "0.5"}, "sleep", "1000")
	want := limits{memory: strconv.Itoa(32 << 20), pids: "50", cpu: "50000 100000"}
	if got := readLimits(t, c.Pid); got != want {
		t.Errorf("after run: %+v, want %+v", got, want)
	}

	mustDocker(t, "update", "--memory", "64m", "--memory-swap", "128m", c.Name)
	want.memory = strconv.Itoa(64 << 20)
	if got := readLimits(t, c.Pid); got != want {
		t.Errorf("after update --memory: %+v, want %+v", got, want)
	}
	cg, err := testutil.ProcessCgroup(c.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if swap, err := cg.MemorySwapLimit(); err == nil && swap != strconv.Itoa(128<<20) {
		// (err: no swap accounting on this kernel; nothing to check)
		t.Errorf("after update --memory-swap 128m: memory+swap limit %s, want %d", swap, 128<<20)
	}

	mustDocker(t, "update", "--pids-limit", "70", "--cpus", "1", c.Name)
	want.pids, want.cpu = "70", "100000 100000"
	if got := readLimits(t, c.Pid); got != want {
		t.Errorf("after update --pids-limit --cpus: %+v, want %+v", got, want)
	}
	// The container sees its own limits.
	if out := mustDocker(t, "exec", c.Name, "sh", "-c", insideMemoryLimit); strings.TrimSpace(out) != want.memory {
		t.Errorf("inside: memory limit %q, want %s", out, want.memory)
	}
}

// TestDockerSystemdCgroupDriver runs a container behind a dockerd with
// native.cgroupdriver=systemd: the runtime is called with
// --systemd-cgroup and a "system.slice:docker:<id>" cgroupsPath, so the
// container lives in the transient unit docker-<id>.scope with its
// limits, and docker rm leaves no unit or cgroup behind.
func TestDockerSystemdCgroupDriver(t *testing.T) {
	testutil.RequireSystemd(t)
	dd := testutil.StartDockerdArgs(t, dockerd.Runtime, "--exec-opt", "native.cgroupdriver=systemd")
	run := func(args ...string) string {
		t.Helper()
		return strings.TrimSpace(mustDockerOn(t, dd, args...))
	}
	if d := run("info", "--format", "{{.CgroupDriver}}"); d != "systemd" {
		t.Fatalf("dockerd's cgroup driver %q, want systemd", d)
	}
	img := testutil.DockerImportBusybox(t, dd)
	id := run("run", "-d", "--runtime=hardened", "--memory", "48m", "--pids-limit", "40", img, "sleep", "1000")
	pid, err := strconv.Atoi(run("inspect", "--format", "{{.State.Pid}}", id))
	if err != nil {
		t.Fatal(err)
	}
	cg, err := testutil.ProcessCgroup(pid)
	if err != nil {
		t.Fatal(err)
	}
	if dir, err := cg.Dir("pids"); err != nil || !strings.HasSuffix(dir, "/docker-"+id+".scope") {
		t.Errorf("init's cgroup %s (%v), want .../docker-%s.scope", dir, err, id)
	}
	want := limits{memory: strconv.Itoa(48 << 20), pids: "40", cpu: "max 100000"}
	if got := readLimits(t, pid); got != want {
		t.Errorf("after run: %+v, want %+v", got, want)
	}
	run("update", "--memory", "64m", "--memory-swap", "128m", id)
	run("update", "--pids-limit", "70", "--cpus", "1", id)
	want = limits{memory: strconv.Itoa(64 << 20), pids: "70", cpu: "100000 100000"}
	if got := readLimits(t, pid); got != want {
		t.Errorf("after updates: %+v, want %+v", got, want)
	}
	run("pause", id)
	if f, err := cg.Frozen(); err != nil || !f {
		t.Errorf("after docker pause: frozen %v (%v)", f, err)
	}
	run("unpause", id)
	run("rm", "-f", id)
	deadline := time.Now().Add(10 * time.Second)
	for len(testutil.CgroupsNamed(id)) > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if left := testutil.CgroupsNamed(id); len(left) > 0 {
		t.Errorf("after docker rm: cgroups left %v", left)
	}
}

// TestDockerAppArmor: on an AppArmor host Docker asks for its
// docker-default profile; the container's init and a docker exec'd
// process run under it. apparmor=unconfined is what the engine asked for
// too and is kept: the policy leaves AppArmor to the engine (README.md,
// "AppArmor").
func TestDockerAppArmor(t *testing.T) {
	testutil.RequireAppArmor(t)
	const want = "docker-default (enforce)"
	c := runDetachedArgs(t, nil, "sleep", "1000")
	if label, err := testutil.AppArmorLabel(c.Pid); err != nil || label != want {
		t.Errorf("init's label %q (%v), want %q", label, err, want)
	}
	if out := mustDocker(t, "exec", c.Name, "cat", "/proc/self/attr/current"); strings.TrimRight(out, "\x00\n") != want {
		t.Errorf("docker exec: label %q, want %q", out, want)
	}
	u := runDetachedArgs(t, []string{"--security-opt", "apparmor=unconfined"}, "sleep", "1000")
	if label, err := testutil.AppArmorLabel(u.Pid); err != nil || label != "unconfined" {
		t.Errorf("apparmor=unconfined: init's label %q (%v), want unconfined", label, err)
	}
}

// TestDockerRestart: docker restart stops the container and starts it
// again on the same bundle and layer, twice; each start gets a new init.
// (On a cgroup v2 + systemd host this once failed.)
func TestDockerRestart(t *testing.T) {
	c := runDetachedArgs(t, []string{"--memory", "32m"}, "sh", "-c", `trap "exit 0" TERM; echo up; while :; do sleep 1; done`)
	waitLogs(t, c.Name, "up\n")
	for i := 1; i <= 2; i++ {
		mustDocker(t, "restart", "-t", "5", c.Name)
		st := inspect(t, c.Name)
		if !st.State.Running || st.State.Pid == c.Pid || st.State.Pid == 0 {
			t.Fatalf("after restart %d: running %v pid %d (before %d)", i, st.State.Running, st.State.Pid, c.Pid)
		}
		c.Pid = st.State.Pid
		waitLogs(t, c.Name, strings.Repeat("up\n", i+1))
		if v := testutil.CgroupValue(t, c.Pid, (*testutil.Cgroup).MemoryLimit); v != strconv.Itoa(32<<20) {
			t.Errorf("after restart %d: memory limit %s, want %d", i, v, 32<<20)
		}
	}
}
