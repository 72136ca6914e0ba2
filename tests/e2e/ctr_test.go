package e2e

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// ctr runs ctr against the shared containerd.
func ctr(t *testing.T, args ...string) (stdout, stderr string, exit int) {
	t.Helper()
	testutil.RequireRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), dockerTimeout)
	defer cancel()
	stdout, stderr, exit = containerd.Run(ctx, args...)
	if ctx.Err() != nil {
		t.Errorf("ctr %s: timed out", strings.Join(args, " "))
	}
	return stdout, stderr, exit
}

func mustCtr(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, exit := ctr(t, args...)
	if exit != 0 {
		t.Fatalf("ctr %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), exit, out, errOut)
	}
	return out
}

// ctrImage returns the busybox image in the shared containerd.
func ctrImage(t *testing.T) string {
	t.Helper()
	testutil.RequireRoot(t)
	return testutil.CtrImportBusybox(t, containerd)
}

// ctrRunArgs are the `ctr run` flags that put the runtime under test
// behind containerd's runc shim.
func ctrRunArgs(t *testing.T) []string {
	return []string{"run", "--runc-binary", testutil.Binary(t), "--runc-root", containerd.RuncRoot()}
}

func TestCtrRun(t *testing.T) {
	img := ctrImage(t)
	id := uniqueName("ctr")
	out, errOut, exit := ctr(t, append(ctrRunArgs(t), "--rm", img, id, "sh", "-c", "echo hi; id -u; exit 3")...)
	if exit != 3 {
		t.Errorf("ctr run: exit %d, want 3 (stderr %q)", exit, errOut)
	}
	if out != "hi\n0\n" {
		t.Errorf("ctr run: stdout %q, want %q", out, "hi\n0\n")
	}
	assertCtrGone(t, id)
}

func TestCtrRunDetachedExecKill(t *testing.T) {
	img := ctrImage(t)
	id := uniqueName("ctr")
	mustCtr(t, append(ctrRunArgs(t), "-d", img, id, "sleep", "1000")...)
	t.Cleanup(func() {
		ctr(t, "tasks", "kill", "-s", "KILL", id)
		ctr(t, "tasks", "delete", "-f", id)
		ctr(t, "containers", "rm", id)
		assertCtrGone(t, id)
	})
	waitCtrStatus(t, id, "RUNNING")
	// The shim keeps the runtime's state where --runc-root says.
	if _, err := os.Stat(containerd.RuncRoot() + "/" + testutil.CtrNamespace + "/" + id); err != nil {
		t.Errorf("no runtime state under --runc-root: %v", err)
	}

	if out := mustCtr(t, "tasks", "exec", "--exec-id", "e1", id, "sh", "-c", "echo $((6*7))"); out != "42\n" {
		t.Errorf("ctr tasks exec: %q, want 42", out)
	}
	if out := mustCtr(t, "tasks", "ps", id); !strings.Contains(out, "PID") || len(strings.Split(strings.TrimSpace(out), "\n")) != 2 {
		t.Errorf("ctr tasks ps: want a header and one process:\n%s", out)
	}
	mustCtr(t, "tasks", "pause", id)
	waitCtrStatus(t, id, "PAUSED")
	mustCtr(t, "tasks", "resume", id)
	waitCtrStatus(t, id, "RUNNING")

	mustCtr(t, "tasks", "kill", "-s", "KILL", id)
	waitCtrStatus(t, id, "STOPPED")
	mustCtr(t, "tasks", "delete", id)
	mustCtr(t, "containers", "rm", id)
	assertCtrGone(t, id)
}

// waitCtrStatus waits until `ctr tasks ls` shows the task in status.
func waitCtrStatus(t *testing.T, id, status string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, _, _ := ctr(t, "tasks", "ls")
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Fields(line); len(f) == 3 && f[0] == id && f[2] == status {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("task %s not %s: ctr tasks ls:\n%s", id, status, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// assertCtrGone checks that containerd, the runtime's state root and the
// host's mounts no longer know the container.
func assertCtrGone(t *testing.T, id string) {
	t.Helper()
	if out, _, _ := ctr(t, "containers", "ls", "-q"); strings.Contains(out, id) {
		t.Errorf("container %s still listed", id)
	}
	ents, _ := os.ReadDir(containerd.RuncRoot() + "/" + testutil.CtrNamespace)
	for _, e := range ents {
		if e.Name() == id {
			t.Errorf("container %s: runtime state directory left", id)
		}
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range strings.Split(string(mi), "\n") {
		if strings.Contains(line, "/"+id+"/") {
			t.Errorf("container %s: mount left: %s", id, line)
		}
	}
	for _, d := range testutil.CgroupsNamed(id) {
		t.Errorf("container %s: cgroup %s left", id, d)
	}
}
