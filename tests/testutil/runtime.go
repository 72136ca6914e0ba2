package testutil

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// DefaultTimeout bounds every runtime command started by Run.
const DefaultTimeout = 60 * time.Second

// Runtime runs the binary under test with a private state root and a JSON
// log, as containerd's shim does. Its cleanup force-deletes every container
// left in the root and then fails the test if anything of those containers
// is left on the host: state directories, mounts, cgroups, processes.
type Runtime struct {
	Bin  string // binary under test
	Root string // --root: private state directory
	Log  string // --log, with --log-format json
	// Audit is the audit log the runtime writes (HARDENED_AUDIT_LOG), in
	// the test's temporary directory, never the machine's.
	Audit string
	// MoreGlobal are global flags every call gets after the ones above
	// (--systemd-cgroup).
	MoreGlobal []string

	tb    testing.TB
	scope string // the test's temporary directory: no mount may stay under it

	mu  sync.Mutex
	ids map[string]*tracked
}

// tracked is what the cleanup checks for one container.
type tracked struct {
	pid     int
	cgroups []string // cgroup directories of the init process, absolute
}

// State is the output of the `state` subcommand (runc's format).
type State struct {
	OCIVersion  string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	Status      string            `json:"status"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Owner       string            `json:"owner"`
	Annotations map[string]string `json:"annotations"`
}

// LogEntry is one line of the --log-format json log.
type LogEntry struct {
	Level string `json:"level"`
	Msg   string `json:"msg"`
	Time  string `json:"time"`
}

// NewRuntime returns a Runtime for the binary under test (Binary) with a
// fresh state root, and registers its cleanup. It skips unless root.
func NewRuntime(tb testing.TB) *Runtime {
	tb.Helper()
	RequireRoot(tb)
	bin := Binary(tb)
	// The first TempDir call registers its removal first, so it runs after
	// the checks below (cleanups run last-in first-out).
	dir := tb.TempDir()
	rt := &Runtime{
		Bin:   bin,
		Root:  filepath.Join(dir, "state"),
		Log:   filepath.Join(dir, "log.json"),
		Audit: filepath.Join(dir, "audit.log"),
		tb:    tb,
		scope: filepath.Dir(dir),
		ids:   map[string]*tracked{},
	}
	tb.Cleanup(rt.cleanup)
	return rt
}

// NewID returns a fresh container ID ("ht-" and 12 hex digits) that the
// cleanup will look after.
func (rt *Runtime) NewID() string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		rt.tb.Fatal(err)
	}
	id := "ht-" + hex.EncodeToString(b)
	rt.mu.Lock()
	rt.ids[id] = &tracked{}
	rt.mu.Unlock()
	return id
}

// Global returns the global flags every call gets.
func (rt *Runtime) Global() []string {
	return append([]string{"--root", rt.Root, "--log", rt.Log, "--log-format", "json"}, rt.MoreGlobal...)
}

// Command returns the command for the runtime with the global flags and
// args, killed when ctx ends. Output files, not pipes, are the safe choice
// for stdout and stderr: a container started by create or run --detach
// inherits them and would keep a pipe open.
func (rt *Runtime) Command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, rt.Bin, append(rt.Global(), args...)...)
	cmd.Env = append(os.Environ(), "HARDENED_AUDIT_LOG="+rt.Audit)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// Run runs the runtime with args (global flags added) and stdin from
// /dev/null, and returns its stdout, stderr and exit code. It fails the
// test if the command cannot start or exceeds DefaultTimeout.
func (rt *Runtime) Run(args ...string) (stdout, stderr string, exit int) {
	rt.tb.Helper()
	return rt.RunInput(nil, args...)
}

// RunInput is Run with stdin read from in (nil: /dev/null).
func (rt *Runtime) RunInput(in io.Reader, args ...string) (stdout, stderr string, exit int) {
	rt.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), DefaultTimeout)
	defer cancel()
	outF, errF := rt.tempFile(), rt.tempFile()
	defer outF.Close()
	defer errF.Close()
	cmd := rt.Command(ctx, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = in, outF, errF
	exit = runExit(cmd)
	if ctx.Err() != nil {
		rt.tb.Errorf("%s %s: timed out after %s", filepath.Base(rt.Bin), strings.Join(args, " "), DefaultTimeout)
	}
	if exit == -1 {
		rt.tb.Errorf("%s %s: could not run", filepath.Base(rt.Bin), strings.Join(args, " "))
	}
	stdout, stderr = readTemp(outF), readTemp(errF)
	rt.track(args, exit)
	return stdout, stderr, exit
}

// MustRun is Run that fails the test unless the exit code is 0. It returns
// stdout.
func (rt *Runtime) MustRun(args ...string) string {
	rt.tb.Helper()
	out, errOut, exit := rt.Run(args...)
	if exit != 0 {
		rt.tb.Fatalf("%s %s: exit %d\nstdout: %s\nstderr: %s", filepath.Base(rt.Bin), strings.Join(args, " "), exit, out, errOut)
	}
	return out
}

// State returns the decoded output of `state id`.
func (rt *Runtime) State(id string) (State, error) {
	rt.tb.Helper()
	out, errOut, exit := rt.Run("state", id)
	var st State
	if exit != 0 {
		return st, fmt.Errorf("state %s: exit %d: %s", id, exit, strings.TrimSpace(errOut))
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return st, fmt.Errorf("state %s: %w in %q", id, err, out)
	}
	return st, nil
}

// MustState is State that fails the test on error.
func (rt *Runtime) MustState(id string) State {
	rt.tb.Helper()
	st, err := rt.State(id)
	if err != nil {
		rt.tb.Fatal(err)
	}
	return st
}

// WaitStatus polls `state id` until its status is want or the timeout ends.
func (rt *Runtime) WaitStatus(id, want string, timeout time.Duration) State {
	rt.tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st, err := rt.State(id)
		if err == nil && st.Status == want {
			return st
		}
		if time.Now().After(deadline) {
			rt.tb.Fatalf("container %s: status %q (err %v), want %q after %s", id, st.Status, err, want, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// LogEntries parses the JSON log. A line that is not JSON fails the test.
func (rt *Runtime) LogEntries() []LogEntry {
	rt.tb.Helper()
	data, err := os.ReadFile(rt.Log)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		rt.tb.Fatal(err)
	}
	var es []LogEntry
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if line == "" {
			continue
		}
		var e LogEntry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			rt.tb.Fatalf("log %s: line is not JSON: %q: %v", rt.Log, line, err)
		}
		es = append(es, e)
	}
	return es
}

// LogSize returns the size of the log file (0 if it does not exist).
func (rt *Runtime) LogSize() int64 {
	fi, err := os.Stat(rt.Log)
	if err != nil {
		return 0
	}
	return fi.Size()
}

func (rt *Runtime) tempFile() *os.File {
	f, err := os.CreateTemp("", "hardened-out-")
	if err != nil {
		rt.tb.Fatal(err)
	}
	return f
}

// readTemp returns the content of a file from tempFile and removes it.
func readTemp(f *os.File) string {
	defer os.Remove(f.Name())
	data, _ := os.ReadFile(f.Name())
	return string(data)
}

// runExit runs cmd and returns its exit code, or -1 if it did not run or
// was killed by a signal (128+signal is returned for that, like a shell).
func runExit(cmd *exec.Cmd) int {
	err := cmd.Run()
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if code := ee.ExitCode(); code >= 0 {
			return code
		}
		return -1
	}
	return -1
}

// track records the init pid and cgroups of a container just created.
func (rt *Runtime) track(args []string, exit int) {
	sub, id := subcommandAndID(args)
	if sub != "create" && sub != "run" || id == "" {
		return
	}
	rt.mu.Lock()
	tr, ok := rt.ids[id]
	if !ok {
		tr = &tracked{}
		rt.ids[id] = tr
	}
	rt.mu.Unlock()
	if exit != 0 {
		return
	}
	out, _, code := rt.runQuiet("state", id)
	if code != 0 {
		return // run in the foreground: already gone
	}
	var st State
	if json.Unmarshal([]byte(out), &st) != nil || st.Pid <= 0 {
		return
	}
	cgs := procCgroupDirs(st.Pid)
	rt.mu.Lock()
	tr.pid, tr.cgroups = st.Pid, cgs
	rt.mu.Unlock()
}

// subcommandAndID finds the subcommand and its last positional argument.
func subcommandAndID(args []string) (sub, id string) {
	withValue := map[string]bool{"-b": true, "--bundle": true, "--console-socket": true, "--pid-file": true, "--preserve-fds": true}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if strings.HasPrefix(a, "-") {
			if sub != "" && withValue[a] {
				i++
			}
			continue
		}
		if sub == "" {
			sub = a
		} else {
			id = a
		}
	}
	return sub, id
}

// runQuiet runs the runtime without touching the test's status.
func (rt *Runtime) runQuiet(args ...string) (stdout, stderr string, exit int) {
	ctx, cancel := context.WithTimeout(context.Background(), DefaultTimeout)
	defer cancel()
	var o, e bytes.Buffer
	cmd := rt.Command(ctx, args...)
	cmd.Stdout, cmd.Stderr = &o, &e
	exit = runExit(cmd)
	return o.String(), e.String(), exit
}

// procCgroupDirs returns the cgroup directories of pid on this host (v1
// controllers and the unified hierarchy), from /proc/pid/cgroup.
func procCgroupDirs(pid int) []string {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return nil
	}
	var dirs []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 || parts[2] == "/" {
			continue
		}
		if parts[0] == "0" && parts[1] == "" && CgroupV2Host() {
			dirs = append(dirs, filepath.Join(CgroupRoot, parts[2]))
			continue
		}
		for _, ctrl := range strings.Split(parts[1], ",") {
			ctrl = strings.TrimPrefix(ctrl, "name=")
			if ctrl == "" {
				ctrl = "unified"
			}
			dirs = append(dirs, filepath.Join("/sys/fs/cgroup", ctrl, parts[2]))
		}
	}
	return dirs
}

// RunToFile runs cmd, a runtime command that may start a container's
// init, with its stdout and stderr in a file of the test's rather than a
// pipe: an init that inherits a pipe keeps it open, and reading it would
// not end while the container runs. It returns what the command wrote.
func RunToFile(tb testing.TB, cmd *exec.Cmd) (string, error) {
	tb.Helper()
	out, err := os.CreateTemp(tb.TempDir(), "cmd-*.out")
	if err != nil {
		tb.Fatal(err)
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	runErr := cmd.Run()
	text, err := os.ReadFile(out.Name())
	if err != nil {
		tb.Fatal(err)
	}
	return string(text), runErr
}
