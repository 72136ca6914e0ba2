package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// TestParityExecExitCodes: exec exits with the process's status, and 255
// when the process could not be run at all, as runc's does (runc's
// exec.bats "exit codes"): callers tell the two apart by it.
func TestParityExecExitCodes(t *testing.T) {
	rt := testutil.NewRuntime(t)
	id, _ := startDetached(t, rt, sleeper...)
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"false", []string{id, "false"}, 1},
		{"exit 42", []string{id, "sh", "-c", "exit 42"}, 42},
		{"pid file in a missing directory", []string{"--pid-file", "/non-existent/directory", id, "true"}, 255},
		{"no such binary", []string{id, "no-such-binary"}, 255},
		{"no such container", []string{"no_such_container", "true"}, 255},
	}
	for _, tt := range tests {
		if _, errOut, exit := rt.Run(append([]string{"exec"}, tt.args...)...); exit != tt.want {
			t.Errorf("exec %s: exit %d, want %d (stderr %q)", tt.name, exit, tt.want, errOut)
		}
	}
}

// TestParityExecPaused: exec in a paused container is refused (255) with
// runc's words, unless --ignore-paused.
func TestParityExecPaused(t *testing.T) {
	rt := testutil.NewRuntime(t)
	id, _ := startDetached(t, rt, sleeper...)
	rt.MustRun("pause", id)
	_, errOut, exit := rt.Run("exec", id, "echo", "ok")
	if exit != 255 || !strings.Contains(errOut, "cannot exec in a paused container") {
		t.Errorf("exec in a paused container: exit %d, stderr %q; want 255 and \"cannot exec in a paused container\"", exit, errOut)
	}
	rt.MustRun("resume", id)
}

// TestParityFlagsAfterID: every command but exec and ps takes its flags
// after the container ID too, as runc does ("runc update ct --pids-limit
// 10"; runc's update.bats writes them so).
func TestParityFlagsAfterID(t *testing.T) {
	rt := testutil.NewRuntime(t)
	id, _ := startDetached(t, rt, sleeper...)
	rt.MustRun("update", id, "--pids-limit", "77")
	if v := testutil.CgroupValue(t, rt.MustState(id).Pid, (*testutil.Cgroup).PidsLimit); v != "77" {
		t.Errorf("update <id> --pids-limit 77: pids.max = %s, want 77", v)
	}
	if out := rt.MustRun("state", id); !strings.Contains(out, `"running"`) {
		t.Errorf("state: %s", out)
	}
	// A word that is not one of the command's flags stays an argument:
	// exec's command line is the process's.
	if out := rt.MustRun("exec", id, "echo", "--pids-limit"); out != "--pids-limit\n" {
		t.Errorf("exec <id> echo --pids-limit printed %q", out)
	}
	rt.MustRun("kill", id, "KILL")
	rt.WaitStatus(id, "stopped", 10*time.Second)
	rt.MustRun("delete", id, "--force")
	if _, err := rt.State(id); err == nil {
		t.Errorf("delete <id> --force left the container")
	}
}

// TestParityListRoot: list under a --root that does not exist fails, as
// runc's does (the caller mistyped it); the default root may be missing.
func TestParityListRoot(t *testing.T) {
	rt := testutil.NewRuntime(t)
	missing := filepath.Join(t.TempDir(), "no-such-root")
	cmd := rt.Command(t.Context(), "list")
	cmd.Args = []string{rt.Bin, "--root", missing, "list"}
	if err := cmd.Run(); err == nil {
		t.Errorf("list --root %s succeeded", missing)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Errorf("list created %s", missing)
	}
}

// TestParityKillStopped: kill of a stopped container says "container not
// running"; with --all it is no error (runc's kill.bats).
func TestParityKillStopped(t *testing.T) {
	rt := testutil.NewRuntime(t)
	b := testutil.NewBundle(t, "true")
	id := rt.NewID()
	rt.MustRun("run", "--detach", "--bundle", b.Dir, id)
	rt.WaitStatus(id, "stopped", 10*time.Second)
	if _, errOut, exit := rt.Run("kill", id, "0"); exit == 0 || !strings.Contains(errOut, "container not running") {
		t.Errorf("kill of a stopped container: exit %d, stderr %q", exit, errOut)
	}
	rt.MustRun("kill", "-a", id, "0")
	rt.MustRun("delete", id)
}

// TestParityExecProcessFromPipe: `exec --process <(...)` (a shell's pipe,
// /dev/fd/N) is read as runc reads it; a named FIFO stays refused (see
// tests/hostile TestConfigExecAndUpdateFiles).
func TestParityExecProcessFromPipe(t *testing.T) {
	rt := testutil.NewRuntime(t)
	id, _ := startDetached(t, rt, sleeper...)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := w.WriteString(`{"args": ["echo", "from a pipe"], "cwd": "/", "env": ["PATH=/bin"], "user": {"uid": 0, "gid": 0}}`); err != nil {
		t.Fatal(err)
	}
	w.Close()
	cmd := rt.Command(t.Context(), "exec", "--process", "/dev/fd/3", id)
	cmd.ExtraFiles = []*os.File{r}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || string(out) != "from a pipe\n" {
		t.Errorf("exec --process /dev/fd/3 (a pipe): %q, %v: %s", out, err, stderr.String())
	}
}

// TestParityRepeatedFlagValues: a repeated flag's value is taken whole, as
// runc takes it: exec --env A=1,2 sets A to "1,2" (urfave/cli v2 would
// split it at the comma).
func TestParityRepeatedFlagValues(t *testing.T) {
	rt := testutil.NewRuntime(t)
	id, _ := startDetached(t, rt, sleeper...)
	if out := rt.MustRun("exec", "--env", "A=1,2", "-e", "B=x", id, "sh", "-c", `echo "$A $B"`); out != "1,2 x\n" {
		t.Errorf("exec --env A=1,2 -e B=x: the process saw %q, want %q", out, "1,2 x\n")
	}
}
