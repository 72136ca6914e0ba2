package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

func TestExecForeground(t *testing.T) {
	rt := testutil.NewRuntime(t)
	id, _ := startDetached(t, rt, sleeper...)

	out, errOut, exit := rt.Run("exec", id, "sh", "-c", "echo hi; echo oops >&2; exit 5")
	if exit != 5 || out != "hi\n" || !strings.Contains(errOut, "oops") {
		t.Errorf("exec: exit %d stdout %q stderr %q, want 5, %q, oops", exit, out, errOut, "hi\n")
	}
	// The exec'd process is in the container's PID namespace: init is 1.
	if out := rt.MustRun("exec", id, "cat", "/proc/1/cmdline"); strings.ReplaceAll(out, "\x00", " ") != "sleep 1000 " {
		t.Errorf("exec cat /proc/1/cmdline = %q, want the container's init", out)
	}
	// --env, --cwd, --user.
	out = rt.MustRun("exec", "--env", "FOO=bar", "--cwd", "/tmp", "--user", "1000:1000", id, "sh", "-c", `echo "$FOO $(pwd) $(id -u):$(id -g)"`)
	if out != "bar /tmp 1000:1000\n" {
		t.Errorf("exec with --env --cwd --user: %q, want %q", out, "bar /tmp 1000:1000\n")
	}
}

func TestExecDetachedPidFile(t *testing.T) {
	rt := testutil.NewRuntime(t)
	id, b := startDetached(t, rt, sleeper...)
	initPid := rt.MustState(id).Pid
	pidFile := filepath.Join(b.Dir, "exec.pid")

	rt.MustRun("exec", "--detach", "--pid-file", pidFile, id, "sleep", "999")
	pid := readPidFile(t, pidFile)
	if pid == initPid || !processRuns(pid) {
		t.Fatalf("exec pid %d (init %d): not a running process", pid, initPid)
	}
	// A detached exec returns once the process is started; its execve of
	// the user's program may still be a moment away.
	if got := waitCmdline(pid, "sleep 999", 5*time.Second); got != "sleep 999" {
		t.Errorf("exec'd process runs %q, want %q", got, "sleep 999")
	}
	if a, b := nsLink(t, pid, "pid"), nsLink(t, initPid, "pid"); a != b {
		t.Errorf("exec'd process in pid namespace %s, init in %s", a, b)
	}
	if a, b := procFile(t, pid, "cgroup"), procFile(t, initPid, "cgroup"); a != b {
		t.Errorf("exec'd process cgroups\n%s\ndiffer from init's\n%s", a, b)
	}
}

func TestExecProcessJSON(t *testing.T) {
	rt := testutil.NewRuntime(t)
	id, b := startDetached(t, rt, sleeper...)
	p := *b.Spec.Process
	p.Args = []string{"sh", "-c", `echo "$GREETING from $(id -u)"`}
	p.Env = append(p.Env, "GREETING=hello")
	p.User = specs.User{UID: 1000, GID: 1000}
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	procFile := filepath.Join(b.Dir, "process.json")
	if err := os.WriteFile(procFile, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if out := rt.MustRun("exec", "--process", procFile, id); out != "hello from 1000\n" {
		t.Errorf("exec --process: %q, want %q", out, "hello from 1000\n")
	}
}

// TestExecTerminalConsoleSocket runs a detached exec with a terminal, as
// containerd does for `docker exec -it`: the pty master arrives on the
// console socket.
func TestExecTerminalConsoleSocket(t *testing.T) {
	rt := testutil.NewRuntime(t)
	id, b := startDetached(t, rt, sleeper...)
	cs := testutil.NewConsoleSocket(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	pidFile := filepath.Join(b.Dir, "exec.pid")
	master := consoleMaster(t, ctx, cs, func() {
		rt.MustRun("exec", "--tty", "--detach", "--console-socket", cs.Path, "--pid-file", pidFile, id,
			"sh", "-c", `tty; [ -t 0 ] && echo stdin-is-tty; read line; echo "got:$line"`)
	})
	if _, err := master.Write([]byte("ping\n")); err != nil {
		t.Fatal(err)
	}
	out := readUntil(t, ctx, master, "got:ping")
	for _, want := range []string{"/dev/pts/", "stdin-is-tty", "got:ping"} {
		if !strings.Contains(out, want) {
			t.Errorf("terminal output %q lacks %q", out, want)
		}
	}
}

// TestCreateTerminalConsoleSocket gives the container's init a terminal,
// the way containerd creates a `docker run -t` container.
func TestCreateTerminalConsoleSocket(t *testing.T) {
	rt := testutil.NewRuntime(t)
	b := testutil.NewBundle(t, "sh", "-c", `tty; read line; echo "init got:$line"; sleep 1000`)
	b.Edit(t, func(s *specs.Spec) { s.Process.Terminal = true })
	cs := testutil.NewConsoleSocket(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	id := rt.NewID()
	master := consoleMaster(t, ctx, cs, func() {
		rt.MustRun("create", "--bundle", b.Dir, "--console-socket", cs.Path, id)
	})
	rt.MustRun("start", id)
	if _, err := master.Write([]byte("pong\n")); err != nil {
		t.Fatal(err)
	}
	out := readUntil(t, ctx, master, "init got:pong")
	if !strings.Contains(out, "/dev/pts/0") {
		t.Errorf("init's terminal output %q lacks /dev/pts/0", out)
	}
}

// consoleMaster runs start, a runtime command given --console-socket
// cs.Path, while it receives the terminal's master from cs, and returns
// the master, closed at the test's end.
func consoleMaster(t *testing.T, ctx context.Context, cs *testutil.ConsoleSocket, start func()) *os.File {
	t.Helper()
	got := make(chan *os.File, 1)
	errc := make(chan error, 1)
	go func() {
		f, err := cs.Receive(ctx)
		if err != nil {
			errc <- err
			return
		}
		got <- f
	}()
	start()
	select {
	case master := <-got:
		t.Cleanup(func() { master.Close() })
		return master
	case err := <-errc:
		t.Fatal(err)
		return nil
	}
}

// readUntil reads f until its output contains want or ctx ends.
func readUntil(t *testing.T, ctx context.Context, f *os.File, want string) string {
	t.Helper()
	var sb strings.Builder
	done := make(chan struct{})
	go func() {
		defer close(done)
		r := bufio.NewReader(f)
		buf := make([]byte, 256)
		for !strings.Contains(sb.String(), want) {
			n, err := r.Read(buf)
			sb.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}()
	select {
	case <-done:
	case <-ctx.Done():
		f.Close()
		<-done
		t.Fatalf("terminal: %q not seen in %q", want, sb.String())
	}
	return sb.String()
}

func nsLink(t *testing.T, pid int, ns string) string {
	t.Helper()
	l, err := os.Readlink(filepath.Join("/proc", itoa(pid), "ns", ns))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func procFile(t *testing.T, pid int, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("/proc", itoa(pid), name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func itoa(i int) string { return strconv.Itoa(i) }
