package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// dockerTimeout bounds each docker client call.
const dockerTimeout = 90 * time.Second

// docker runs the docker client against the shared dockerd.
func docker(t *testing.T, args ...string) (stdout, stderr string, exit int) {
	t.Helper()
	testutil.RequireRoot(t)
	return dockerOn(t, dockerd, args...)
}

// dockerOn runs docker against dd, with dockerTimeout (a timeout fails
// the test), and returns its output and exit code.
func dockerOn(t *testing.T, dd *testutil.Dockerd, args ...string) (stdout, stderr string, exit int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), dockerTimeout)
	defer cancel()
	stdout, stderr, exit = dd.Run(ctx, args...)
	if ctx.Err() != nil {
		t.Errorf("docker %s: timed out", strings.Join(args, " "))
	}
	return stdout, stderr, exit
}

// mustDocker runs docker and fails the test unless it exits 0.
func mustDocker(t *testing.T, args ...string) string {
	t.Helper()
	testutil.RequireRoot(t)
	return mustDockerOn(t, dockerd, args...)
}

// dockerDiff returns the lines of docker diff of the container name on
// dd, sorted.
func dockerDiff(t *testing.T, dd *testutil.Dockerd, name string) []string {
	t.Helper()
	l := strings.Split(strings.TrimSpace(mustDockerOn(t, dd, "diff", name)), "\n")
	slices.Sort(l)
	return l
}

// mustDockerOn runs docker against dd and fails the test unless it exits
// 0.
func mustDockerOn(t *testing.T, dd *testutil.Dockerd, args ...string) string {
	t.Helper()
	out, errOut, exit := dockerOn(t, dd, args...)
	if exit != 0 {
		t.Fatalf("docker %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), exit, out, errOut)
	}
	return out
}

// image returns the busybox image, imported on first use.
func image(t *testing.T) string {
	t.Helper()
	testutil.RequireRoot(t)
	return testutil.DockerImportBusybox(t, dockerd)
}

// container is a detached Docker container of one test.
type container struct {
	Name, ID string
	Pid      int    // init's host pid
	Merged   string // the overlay rootfs on the host
}

// inspectState is the part of `docker inspect` the tests read.
type inspectState struct {
	ID    string
	State struct {
		Status   string
		Running  bool
		Paused   bool
		Pid      int
		ExitCode int
	}
	HostConfig struct {
		Runtime string
		Memory  int64
	}
	GraphDriver struct {
		Data map[string]string
	}
}

func inspect(t *testing.T, name string) inspectState {
	t.Helper()
	out := mustDocker(t, "inspect", name)
	var st []inspectState
	if err := json.Unmarshal([]byte(out), &st); err != nil || len(st) != 1 {
		t.Fatalf("docker inspect %s: %v in %q", name, err, out)
	}
	return st[0]
}

// runDetached starts `docker run -d --runtime=hardened --name N args...`,
// checks it runs under the hardened runtime, and at cleanup removes it
// with `docker rm -f` and checks nothing of it stays on the host.
func runDetached(t *testing.T, args ...string) *container {
	t.Helper()
	img := image(t)
	c := &container{Name: uniqueName("d")}
	full := append([]string{"run", "-d", "--runtime=hardened", "--name", c.Name, img}, args...)
	c.ID = strings.TrimSpace(mustDocker(t, full...))
	t.Cleanup(func() { removeAndCheck(t, c) })
	st := inspect(t, c.Name)
	if st.HostConfig.Runtime != "hardened" {
		t.Fatalf("container %s runs under runtime %q, want hardened", c.Name, st.HostConfig.Runtime)
	}
	c.Pid, c.Merged = st.State.Pid, st.GraphDriver.Data["MergedDir"]
	return c
}

// removeAndCheck is `docker rm -f` and the leak checks after it.
func removeAndCheck(t *testing.T, c *container) {
	t.Helper()
	if _, errOut, exit := docker(t, "rm", "-f", c.Name); exit != 0 && !strings.Contains(errOut, "No such container") {
		t.Errorf("docker rm -f %s: exit %d: %s", c.Name, exit, errOut)
	}
	assertGone(t, c)
}

// assertGone checks that a removed container left no process, runtime
// state directory, mount or cgroup behind.
func assertGone(t *testing.T, c *container) {
	t.Helper()
	if out, _, _ := docker(t, "ps", "-aq", "--no-trunc"); strings.Contains(out, c.ID) {
		t.Errorf("container %s still listed by docker ps -a", c.Name)
	}
	deadline := time.Now().Add(10 * time.Second)
	for c.Pid > 0 && processRuns(c.Pid) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if c.Pid > 0 && processRuns(c.Pid) {
		t.Errorf("container %s: init %d still runs", c.Name, c.Pid)
	}
	// Every runtime shares the root <exec-root>/runtime-runc/moby.
	if _, err := os.Stat(filepath.Join(dockerd.Dir, "exec", "runtime-runc", "moby", c.ID)); !os.IsNotExist(err) {
		t.Errorf("container %s: runtime state directory left (%v)", c.Name, err)
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range strings.Split(string(mi), "\n") {
		if strings.Contains(line, c.ID) || (c.Merged != "" && strings.Contains(line, c.Merged)) {
			t.Errorf("container %s: mount left: %s", c.Name, line)
		}
	}
	// docker/<id> (cgroupfs driver), system.slice/docker-<id>.scope
	// (systemd driver), on either cgroup layout.
	for _, d := range testutil.CgroupsNamed(c.ID) {
		t.Errorf("container %s: cgroup %s left", c.Name, d)
	}
}

func processRuns(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && s[i+2] != 'Z'
}

// waitLogs waits until the container's output contains want.
func waitLogs(t *testing.T, name, want string) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, errOut, _ := docker(t, "logs", name)
		if strings.Contains(out+errOut, want) {
			return out + errOut
		}
		if time.Now().After(deadline) {
			t.Fatalf("container %s: %q not in its logs: %q", name, want, out+errOut)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestDockerRunExitCodeAndOutput(t *testing.T) {
	img := image(t)
	out, errOut, exit := docker(t, "run", "--rm", "--runtime=hardened", img, "sh", "-c", "echo hi; echo oops >&2; exit 3")
	if exit != 3 {
		t.Errorf("docker run: exit %d, want 3 (stderr %q)", exit, errOut)
	}
	if out != "hi\n" {
		t.Errorf("docker run: stdout %q, want %q", out, "hi\n")
	}
	if !strings.Contains(errOut, "oops") {
		t.Errorf("docker run: stderr %q lacks the container's oops", errOut)
	}
	// The image's default command and a non-root user.
	if out := mustDocker(t, "run", "--rm", "--runtime=hardened", "--user", "1000:1000", img, "id"); !strings.Contains(out, "uid=1000(user) gid=1000(user)") {
		t.Errorf("docker run --user 1000: id says %q", out)
	}
	// A command that does not exist: Docker reports the runtime's error.
	_, errOut, exit = docker(t, "run", "--rm", "--runtime=hardened", img, "/no/such/binary")
	if exit != 127 || !strings.Contains(errOut, "/no/such/binary") {
		t.Errorf("docker run of a missing binary: exit %d stderr %q, want 127 and the path in the message", exit, errOut)
	}
}

func TestDockerRunStdin(t *testing.T) {
	img := image(t)
	ctx, cancel := context.WithTimeout(context.Background(), dockerTimeout)
	defer cancel()
	cmd := dockerd.Command(ctx, "run", "--rm", "-i", "--runtime=hardened", img, "sh", "-c", "read line; echo got:$line")
	cmd.Stdin = strings.NewReader("hello\n")
	out, err := cmd.Output()
	if err != nil || string(out) != "got:hello\n" {
		t.Errorf("docker run -i: %q, %v; want %q", out, err, "got:hello\n")
	}
}

// TestDockerRunInteractiveTTY runs `docker run -it` on a pseudo-terminal
// made by script(1), types a line and reads the container's answer.
func TestDockerRunInteractiveTTY(t *testing.T) {
	img := image(t)
	if _, err := exec.LookPath("script"); err != nil {
		t.Skip("script(1) from bsdutils is needed for a terminal")
	}
	ctx, cancel := context.WithTimeout(context.Background(), dockerTimeout)
	defer cancel()
	dcmd := dockerd.Command(ctx, "run", "--rm", "-it", "--runtime=hardened", img,
		"sh", "-c", `tty; [ -t 0 ] && echo stdin-tty; read line; echo "got:$line"; exit 5`)
	cmd := exec.CommandContext(ctx, "script", "-qec", shellJoin(dcmd.Args), "/dev/null")
	cmd.Env = dcmd.Env
	cmd.Stdin = strings.NewReader("abc\n")
	cmd.WaitDelay = 5 * time.Second
	outB, err := cmd.Output()
	out := string(outB)
	exit := 0
	if ee, ok := err.(*exec.ExitError); ok {
		exit = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"/dev/pts/0", "stdin-tty", "got:abc"} {
		if !strings.Contains(out, want) {
			t.Errorf("docker run -it output %q lacks %q", out, want)
		}
	}
	if exit != 5 {
		t.Errorf("docker run -it: exit %d, want 5 (output %q)", exit, out)
	}
}

// shellJoin quotes args for sh.
func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

func TestDockerDetachAndExec(t *testing.T) {
	c := runDetached(t, "sleep", "1000")
	if out := mustDocker(t, "exec", c.Name, "sh", "-c", "echo $((6*7))"); out != "42\n" {
		t.Errorf("docker exec: %q, want 42", out)
	}
	if _, _, exit := docker(t, "exec", c.Name, "sh", "-c", "exit 4"); exit != 4 {
		t.Errorf("docker exec exiting 4: exit %d", exit)
	}
	if out := mustDocker(t, "exec", "-u", "1000", "-w", "/tmp", "-e", "X=y", c.Name, "sh", "-c", `echo "$(id -u) $(pwd) $X"`); out != "1000 /tmp y\n" {
		t.Errorf("docker exec -u -w -e: %q", out)
	}
	// The exec'd process shares the container's PID namespace.
	if out := mustDocker(t, "exec", c.Name, "cat", "/proc/1/cmdline"); strings.ReplaceAll(out, "\x00", " ") != "sleep 1000 " {
		t.Errorf("docker exec sees pid 1 as %q", out)
	}
	// docker exec -it through a terminal.
	ctx, cancel := context.WithTimeout(context.Background(), dockerTimeout)
	defer cancel()
	dcmd := dockerd.Command(ctx, "exec", "-it", c.Name, "sh", "-c", `tty; read l; echo "exec got:$l"`)
	cmd := exec.CommandContext(ctx, "script", "-qec", shellJoin(dcmd.Args), "/dev/null")
	cmd.Env, cmd.Stdin, cmd.WaitDelay = dcmd.Env, strings.NewReader("xyz\n"), 5*time.Second
	out, err := cmd.Output()
	if err != nil || !strings.Contains(string(out), "/dev/pts/") || !strings.Contains(string(out), "exec got:xyz") {
		t.Errorf("docker exec -it: %q, %v", out, err)
	}
}

func TestDockerStopGraceful(t *testing.T) {
	c := runDetached(t, "sh", "-c", `trap "echo got TERM; exit 0" TERM; echo ready; while :; do sleep 0.1; done`)
	waitLogs(t, c.Name, "ready")
	start := time.Now()
	mustDocker(t, "stop", "-t", "20", c.Name)
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("docker stop took %s: SIGTERM did not reach the container", took)
	}
	st := inspect(t, c.Name)
	if st.State.Running || st.State.ExitCode != 0 {
		t.Errorf("after docker stop: running %v exit code %d, want stopped with 0 (137 means killed)", st.State.Running, st.State.ExitCode)
	}
	waitLogs(t, c.Name, "got TERM")
	// A stopped container starts again under the same runtime.
	mustDocker(t, "start", c.Name)
	waitLogs(t, c.Name, "ready\ngot TERM\nready")
}

func TestDockerPauseUnpause(t *testing.T) {
	// A counter on stdout: no writes into the image (the runtime may make
	// the rootfs read-only).
	c := runDetached(t, "sh", "-c", `i=0; while :; do i=$((i+1)); echo $i; sleep 0.05; done`)
	waitLogs(t, c.Name, "3\n")
	mustDocker(t, "pause", c.Name)
	if st := inspect(t, c.Name); st.State.Status != "paused" || !st.State.Paused {
		t.Fatalf("after docker pause: status %q paused %v", st.State.Status, st.State.Paused)
	}
	time.Sleep(100 * time.Millisecond) // let lines already written reach the log
	frozen := logLines(t, c.Name)
	time.Sleep(300 * time.Millisecond)
	if n := logLines(t, c.Name); n != frozen {
		t.Errorf("the counter advanced while paused: %d then %d lines", frozen, n)
	}
	mustDocker(t, "unpause", c.Name)
	if st := inspect(t, c.Name); st.State.Status != "running" || st.State.Paused {
		t.Fatalf("after docker unpause: status %q paused %v", st.State.Status, st.State.Paused)
	}
	deadline := time.Now().Add(10 * time.Second)
	for logLines(t, c.Name) <= frozen {
		if time.Now().After(deadline) {
			t.Fatalf("the counter does not advance after unpause")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func logLines(t *testing.T, name string) int {
	t.Helper()
	return strings.Count(mustDocker(t, "logs", name), "\n")
}

func TestDockerTop(t *testing.T) {
	c := runDetached(t, "sleep", "1000")
	mustDocker(t, "exec", "-d", c.Name, "sleep", "999")
	var out string
	deadline := time.Now().Add(10 * time.Second)
	for {
		out = mustDocker(t, "top", c.Name)
		if strings.Contains(out, "sleep 999") || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(out, "PID") || !strings.Contains(out, "sleep 1000") || !strings.Contains(out, "sleep 999") {
		t.Errorf("docker top:\n%s\nwant the header, sleep 1000 and sleep 999", out)
	}
	if !strings.Contains(out, strconv.Itoa(c.Pid)) {
		t.Errorf("docker top lacks init's host pid %d:\n%s", c.Pid, out)
	}
}

func TestDockerStats(t *testing.T) {
	c := runDetached(t, "sleep", "1000")
	out := mustDocker(t, "stats", "--no-stream", "--format", "{{.Name}}|{{.MemUsage}}|{{.PIDs}}", c.Name)
	fields := strings.Split(strings.TrimSpace(out), "|")
	if len(fields) != 3 || fields[0] != c.Name {
		t.Fatalf("docker stats: %q", out)
	}
	if fields[2] != "1" {
		t.Errorf("docker stats: PIDs %q, want 1", fields[2])
	}
	if strings.HasPrefix(fields[1], "0B /") {
		t.Errorf("docker stats: memory usage %q, want non-zero", fields[1])
	}
}

func TestDockerUpdateMemory(t *testing.T) {
	c := runDetached(t, "sleep", "1000")
	mustDocker(t, "update", "--memory", "64m", "--memory-swap", "128m", c.Name)
	if st := inspect(t, c.Name); st.HostConfig.Memory != 64<<20 {
		t.Errorf("docker inspect: Memory %d, want %d", st.HostConfig.Memory, 64<<20)
	}
	if v := testutil.CgroupValue(t, c.Pid, (*testutil.Cgroup).MemoryLimit); v != strconv.Itoa(64<<20) {
		t.Errorf("memory limit = %s, want %d", v, 64<<20)
	}
	// And the container sees the limit in its own cgroup view (v1: the
	// memory hierarchy, v2: its cgroup namespace's root).
	if out := mustDocker(t, "exec", c.Name, "sh", "-c", insideMemoryLimit); strings.TrimSpace(out) != strconv.Itoa(64<<20) {
		t.Errorf("inside: memory limit = %q, want %d", out, 64<<20)
	}
}

// insideMemoryLimit prints the memory limit a container sees, on either
// cgroup layout.
const insideMemoryLimit = `cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max`

func TestDockerRmForce(t *testing.T) {
	img := image(t)
	c := &container{Name: uniqueName("rm")}
	c.ID = strings.TrimSpace(mustDocker(t, "run", "-d", "--runtime=hardened", "--name", c.Name, img, "sleep", "1000"))
	t.Cleanup(func() { docker(t, "rm", "-f", c.Name) })
	st := inspect(t, c.Name)
	c.Pid, c.Merged = st.State.Pid, st.GraphDriver.Data["MergedDir"]
	if !st.State.Running || c.Pid <= 0 {
		t.Fatalf("container not running: %+v", st.State)
	}
	if _, err := os.Stat(filepath.Join(dockerd.Dir, "exec", "runtime-runc", "moby", c.ID)); err != nil {
		t.Errorf("no runtime state directory while running: %v", err)
	}
	start := time.Now()
	mustDocker(t, "rm", "-f", c.Name)
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("docker rm -f took %s", took)
	}
	assertGone(t, c)
}
