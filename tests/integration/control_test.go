package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

func TestKillAll(t *testing.T) {
	rt := testutil.NewRuntime(t)
	id, b := startDetached(t, rt, sleeper...)
	var pids []int
	for i, arg := range []string{"901", "902"} {
		pidFile := filepath.Join(b.Dir, "exec"+arg+".pid")
		rt.MustRun("exec", "--detach", "--pid-file", pidFile, id, "sleep", arg)
		pids = append(pids, readPidFile(t, pidFile))
		if !processRuns(pids[i]) {
			t.Fatalf("exec'd sleep %s is not running", arg)
		}
	}
	pids = append(pids, rt.MustState(id).Pid)

	rt.MustRun("kill", "--all", id, "KILL")
	rt.WaitStatus(id, "stopped", 10*time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for _, pid := range pids {
		for processRuns(pid) {
			if time.Now().After(deadline) {
				t.Fatalf("pid %d survives kill --all", pid)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	rt.MustRun("delete", id)
}

// TestKillSignalForms sends signals by name, with the SIG prefix and by
// number, as callers do.
func TestKillSignalForms(t *testing.T) {
	rt := testutil.NewRuntime(t)
	for _, sig := range []string{"TERM", "SIGTERM", "15"} {
		id, _ := startDetached(t, rt, trapTERM...)
		// Wait for the trap to be set before signalling.
		waitFor(t, 5*time.Second, func() bool {
			out, _, _ := rt.Run("exec", id, "cat", "/proc/1/status")
			return strings.Contains(out, "SigCgt:") && !strings.Contains(out, "SigCgt:\t0000000000000000")
		})
		rt.MustRun("kill", id, sig)
		rt.WaitStatus(id, "stopped", 10*time.Second)
		rt.MustRun("delete", id)
	}
	id, _ := startDetached(t, rt, sleeper...)
	if _, errOut, exit := rt.Run("kill", id, "NOSUCHSIG"); exit == 0 {
		t.Errorf("kill with an unknown signal succeeded")
	} else if errOut == "" {
		t.Errorf("kill with an unknown signal: no message on stderr")
	}
	rt.MustState(id) // unharmed
}

func waitFor(t *testing.T, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestPauseResume(t *testing.T) {
	rt := testutil.NewRuntime(t)
	id, _ := startDetached(t, rt, sleeper...)
	pid := rt.MustState(id).Pid

	rt.MustRun("pause", id)
	if st := rt.MustState(id); st.Status != "paused" {
		t.Errorf("after pause: status %q, want paused", st.Status)
	}
	if !frozen(t, pid) {
		t.Errorf("after pause: the container's cgroup is not frozen")
	}
	rt.MustRun("resume", id)
	if st := rt.MustState(id); st.Status != "running" {
		t.Errorf("after resume: status %q, want running", st.Status)
	}
	if frozen(t, pid) {
		t.Errorf("after resume: the container's cgroup is still frozen")
	}
	if out := rt.MustRun("exec", id, "echo", "alive"); out != "alive\n" {
		t.Errorf("exec after resume: %q", out)
	}
}

func TestPs(t *testing.T) {
	rt := testutil.NewRuntime(t)
	id, b := startDetached(t, rt, sleeper...)
	pidFile := filepath.Join(b.Dir, "exec.pid")
	rt.MustRun("exec", "--detach", "--pid-file", pidFile, id, "sleep", "998")
	want := []int{rt.MustState(id).Pid, readPidFile(t, pidFile)}
	// exec --detach returns once the process exists, as runc's does; it
	// may not have exec'd sleep yet (under load) and until then ps shows
	// it as the runtime's init.
	comm := fmt.Sprintf("/proc/%d/comm", want[1])
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if c, _ := os.ReadFile(comm); string(c) == "sleep\n" {
			break
		}
	}

	out := rt.MustRun("ps", "--format", "json", id)
	var pids []int
	if err := json.Unmarshal([]byte(out), &pids); err != nil {
		t.Fatalf("ps --format json: %v in %q", err, out)
	}
	for _, w := range want {
		if !containsInt(pids, w) {
			t.Errorf("ps --format json = %v, lacks pid %d", pids, w)
		}
	}
	if len(pids) != 2 {
		t.Errorf("ps --format json = %v, want exactly %v", pids, want)
	}
	table := rt.MustRun("ps", id)
	if !strings.Contains(table, "PID") || !strings.Contains(table, "sleep 998") {
		t.Errorf("ps table:\n%s\nlacks the header or the exec'd process", table)
	}
}

func containsInt(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func TestEventsStats(t *testing.T) {
	rt := testutil.NewRuntime(t)
	id, _ := startDetached(t, rt, sleeper...)
	out := rt.MustRun("events", "--stats", id)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 1 {
		t.Fatalf("events --stats printed %d lines, want 1:\n%s", len(lines), out)
	}
	var ev struct {
		Type string `json:"type"`
		ID   string `json:"id"`
		Data struct {
			Pids struct {
				Current uint64 `json:"current"`
			} `json:"pids"`
			Memory struct {
				Usage struct {
					Usage uint64 `json:"usage"`
				} `json:"usage"`
			} `json:"memory"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &ev); err != nil {
		t.Fatalf("events --stats: %v in %q", err, lines[0])
	}
	if ev.Type != "stats" || ev.ID != id {
		t.Errorf("events --stats: type %q id %q, want stats %s", ev.Type, ev.ID, id)
	}
	if ev.Data.Pids.Current != 1 {
		t.Errorf("events --stats: pids.current = %d, want 1", ev.Data.Pids.Current)
	}
	if ev.Data.Memory.Usage.Usage == 0 {
		t.Errorf("events --stats: memory usage 0")
	}
}

func TestUpdate(t *testing.T) {
	rt := testutil.NewRuntime(t)
	id, _ := startDetached(t, rt, sleeper...)
	pid := rt.MustState(id).Pid

	rt.MustRun("update", "--memory", "64M", "--pids-limit", "50", id)
	if v := testutil.CgroupValue(t, pid, (*testutil.Cgroup).MemoryLimit); v != "67108864" {
		t.Errorf("memory limit = %s, want 67108864", v)
	}
	if v := testutil.CgroupValue(t, pid, (*testutil.Cgroup).PidsLimit); v != "50" {
		t.Errorf("pids.max = %s, want 50", v)
	}

	// What containerd's shim sends: the resources JSON on stdin.
	_, errOut, exit := rt.RunInput(strings.NewReader(`{"pids":{"limit":77},"memory":{"limit":100663296}}`), "update", "--resources", "-", id)
	if exit != 0 {
		t.Fatalf("update --resources -: exit %d: %s", exit, errOut)
	}
	if v := testutil.CgroupValue(t, pid, (*testutil.Cgroup).PidsLimit); v != "77" {
		t.Errorf("pids.max = %s, want 77", v)
	}
	if v := testutil.CgroupValue(t, pid, (*testutil.Cgroup).MemoryLimit); v != "100663296" {
		t.Errorf("memory limit = %s, want 100663296", v)
	}
	if _, _, exit := rt.Run("update", "--pids-limit", "nonsense", id); exit == 0 {
		t.Errorf("update with a bad value succeeded")
	}
}

// frozen reports whether pid's cgroup is frozen (either layout).
func frozen(t *testing.T, pid int) bool {
	t.Helper()
	cg, err := testutil.ProcessCgroup(pid)
	if err != nil {
		t.Fatal(err)
	}
	f, err := cg.Frozen()
	if err != nil {
		t.Fatal(err)
	}
	return f
}
