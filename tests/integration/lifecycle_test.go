package integration

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// trapTERM is a container command that exits 0 on SIGTERM (a shell as PID
// 1 ignores TERM without a handler).
var trapTERM = []string{"sh", "-c", `trap "echo got TERM; exit 0" TERM; echo ready; while :; do sleep 0.1; done`}

// sleeper is a container command that just waits to be killed.
var sleeper = []string{"sleep", "1000"}

// startDetached creates and starts a container running args and waits
// until it runs. It returns its ID.
func startDetached(t *testing.T, rt *testutil.Runtime, args ...string) (string, *testutil.Bundle) {
	t.Helper()
	b := testutil.NewBundle(t, args...)
	id := rt.NewID()
	rt.MustRun("run", "--detach", "--bundle", b.Dir, id)
	rt.WaitStatus(id, "running", 5*time.Second)
	return id, b
}

func TestLifecycle(t *testing.T) {
	rt := testutil.NewRuntime(t)
	b := testutil.NewBundle(t, trapTERM...)
	id := rt.NewID()
	pidFile := filepath.Join(b.Dir, "init.pid")

	rt.MustRun("create", "--bundle", b.Dir, "--pid-file", pidFile, id)
	st := rt.MustState(id)
	if st.Status != "created" || st.ID != id || st.Pid <= 0 || st.Bundle != b.Dir {
		t.Fatalf("after create: state %+v, want status created, id %s, a pid, bundle %s", st, id, b.Dir)
	}
	if got := readPidFile(t, pidFile); got != st.Pid {
		t.Errorf("pid file says %d, state says %d", got, st.Pid)
	}
	if out := rt.MustRun("list", "-q"); strings.TrimSpace(out) != id {
		t.Errorf("list -q = %q, want %q", out, id)
	}

	rt.MustRun("start", id)
	st = rt.WaitStatus(id, "running", 5*time.Second)
	if _, _, exit := rt.Run("start", id); exit == 0 {
		t.Errorf("start of a running container succeeded")
	}

	rt.MustRun("kill", id, "TERM")
	rt.WaitStatus(id, "stopped", 10*time.Second)

	rt.MustRun("delete", id)
	if _, err := rt.State(id); err == nil {
		t.Errorf("state after delete succeeded")
	}
	if _, err := os.Stat(filepath.Join(rt.Root, id)); !os.IsNotExist(err) {
		t.Errorf("state directory %s after delete: %v", filepath.Join(rt.Root, id), err)
	}
}

func readPidFile(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("pid file: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatalf("pid file %s: %q: %v", path, data, err)
	}
	return pid
}

func TestRunForegroundExitCode(t *testing.T) {
	rt := testutil.NewRuntime(t)
	for _, code := range []int{0, 3, 42} {
		b := testutil.NewBundle(t, "sh", "-c", "echo out; echo err >&2; exit "+strconv.Itoa(code))
		id := rt.NewID()
		out, errOut, exit := rt.Run("run", "--bundle", b.Dir, id)
		if exit != code {
			t.Errorf("run exiting %d: exit %d (stderr %q)", code, exit, errOut)
		}
		if out != "out\n" {
			t.Errorf("run: stdout %q, want %q", out, "out\n")
		}
		if !strings.Contains(errOut, "err\n") {
			t.Errorf("run: stderr %q, want the container's %q", errOut, "err\n")
		}
		if _, err := rt.State(id); err == nil {
			t.Errorf("state after a foreground run succeeded: run should delete the container")
		}
	}
}

func TestRunDetach(t *testing.T) {
	rt := testutil.NewRuntime(t)
	id, b := startDetached(t, rt, sleeper...)
	st := rt.MustState(id)
	if st.Pid <= 0 || st.Bundle != b.Dir {
		t.Fatalf("state %+v", st)
	}
	// start returns once the init was told to exec, maybe before it did.
	if cmd := waitCmdline(st.Pid, "sleep 1000", 5*time.Second); cmd != "sleep 1000" {
		t.Errorf("init's cmdline %q, want %q", cmd, "sleep 1000")
	}
	rt.MustRun("kill", id, "KILL")
	rt.WaitStatus(id, "stopped", 10*time.Second)
	rt.MustRun("delete", id)
}

func procCmdline(pid int) string {
	data, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return strings.TrimSpace(strings.ReplaceAll(string(data), "\x00", " "))
}

// waitCmdline polls pid's command line until it is want or timeout passes,
// and returns the last one read.
func waitCmdline(pid int, want string, timeout time.Duration) string {
	deadline := time.Now().Add(timeout)
	for {
		got := procCmdline(pid)
		if got == want || time.Now().After(deadline) {
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDeleteForceRunning(t *testing.T) {
	rt := testutil.NewRuntime(t)
	id, _ := startDetached(t, rt, sleeper...)
	pid := rt.MustState(id).Pid
	if _, _, exit := rt.Run("delete", id); exit == 0 {
		t.Fatalf("delete of a running container without --force succeeded")
	}
	rt.MustState(id) // still there
	rt.MustRun("delete", "--force", id)
	if _, err := rt.State(id); err == nil {
		t.Errorf("state after delete --force succeeded")
	}
	deadline := time.Now().Add(5 * time.Second)
	for processRuns(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("init %d still runs after delete --force", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// processRuns reports whether pid exists and is not a zombie.
func processRuns(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && s[i+2] != 'Z'
}
