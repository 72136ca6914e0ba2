package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// fdTargetsAllowed are the fd targets a container's init may hold while it
// waits for start (runc's own suite allows the same, create.bats "detect fd
// leak"): stdio, libcontainer's pipes and sockets, the exec.fifo, the
// procfs handles of its path-safe lookups, and the cgroup files the Go
// runtime reads for GOMAXPROCS. Nothing that names a host file.
var fdTargetsAllowed = regexp.MustCompile(`^(/dev/null|/dev/pts/[0-9]+|anon_inode:\[.+\]|/|/proc|socket:\[[0-9]+\]|pipe:\[[0-9]+\]|.*/exec\.fifo|(/proc)?/1/task/1/fd|.*/cpu\.cfs_(quota|period)_us)$`)

// fdViolations lists the fds of pid that a container must not hold: the
// runtime binary itself (through it, CVE-2019-5736 overwrote the host's
// runc) and anything outside fdTargetsAllowed. One view of the binary is
// accepted: libcontainer's sealed copy (a read-only overlayfs or sealed
// memfd, what the init was executed from), and only once a write open of
// it fails. Stdio and the preserved fds (3..3+preserved-1) are the
// caller's and are checked for the binary only.
func fdViolations(t *testing.T, pid int, bin string, preserved int) []string {
	t.Helper()
	binInfo, err := os.Stat(bin)
	if err != nil {
		t.Fatal(err)
	}
	binStat := binInfo.Sys().(*syscall.Stat_t)
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("list %s: %v", dir, err)
	}
	var bad []string
	for _, e := range entries {
		fd, _ := strconv.Atoi(e.Name())
		p := filepath.Join(dir, e.Name())
		target, err := os.Readlink(p)
		if err != nil {
			continue // closed since the listing
		}
		var st syscall.Stat_t
		if err := syscall.Stat(p, &st); err == nil && st.Mode&syscall.S_IFMT == syscall.S_IFREG {
			if st.Dev == binStat.Dev && st.Ino == binStat.Ino {
				bad = append(bad, fmt.Sprintf("fd %d -> %s: the runtime binary itself", fd, target))
				continue
			}
			if st.Ino == binStat.Ino && st.Size == binStat.Size && filepath.Base(target) == filepath.Base(bin) ||
				strings.HasPrefix(target, "/memfd:") {
				// A view of the binary: it must not open for writing.
				if f, err := os.OpenFile(p, os.O_WRONLY, 0); err == nil {
					f.Close()
					bad = append(bad, fmt.Sprintf("fd %d -> %s: a writable view of the runtime binary", fd, target))
				} else if !errors.Is(err, syscall.EROFS) && !errors.Is(err, syscall.EPERM) && !errors.Is(err, syscall.ETXTBSY) {
					bad = append(bad, fmt.Sprintf("fd %d -> %s: opening it for writing: %v", fd, target, err))
				}
				continue
			}
		}
		if fd < 3+preserved {
			continue // stdio and preserved fds are the caller's
		}
		if !fdTargetsAllowed.MatchString(target) {
			bad = append(bad, fmt.Sprintf("fd %d -> %s", fd, target))
		}
	}
	sort.Strings(bad)
	return bad
}

// onlyStdio fails unless pid holds exactly fds 0, 1 and 2 (plus the
// preserved ones).
func onlyStdio(t *testing.T, what string, pid, preserved int) {
	t.Helper()
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	var extra []string
	for _, e := range entries {
		fd, _ := strconv.Atoi(e.Name())
		if fd > 2+preserved {
			target, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", pid, fd))
			extra = append(extra, fmt.Sprintf("fd %d -> %s", fd, target))
		}
	}
	if len(extra) > 0 {
		t.Errorf("%s holds fds besides stdio: %s", what, strings.Join(extra, ", "))
	}
}

// TestNoRuntimeFDInContainer lists the fds of a created (not started)
// container's init, of the started process and of an exec'd process, under
// the default policy and with hardening off: none may be the runtime
// binary, a writable view of it, or any other runtime file.
func TestNoRuntimeFDInContainer(t *testing.T) {
	policies := map[string]string{"default": "", "off": `{"mode": "off"}`}
	for name, policy := range policies {
		t.Run(name, func(t *testing.T) {
			rt := testutil.NewRuntime(t)
			global := testutil.PolicyFlags(t, policy)
			b := testutil.NewBundle(t, sleeper...)
			id := rt.NewID()
			rt.MustRun(append(global, "create", "--bundle", b.Dir, id)...)
			st := rt.MustState(id)
			if bad := fdViolations(t, st.Pid, rt.Bin, 0); len(bad) > 0 {
				t.Errorf("created container's init holds: %s", strings.Join(bad, "; "))
			}

			rt.MustRun(append(global, "start", id)...)
			rt.WaitStatus(id, "running", 5*time.Second)
			waitCmdline(st.Pid, "sleep 1000", 5*time.Second)
			onlyStdio(t, "the started process", st.Pid, 0)

			pidFile := filepath.Join(t.TempDir(), "exec.pid")
			rt.MustRun(append(global, "exec", "--detach", "--pid-file", pidFile, id, "sleep", "1000")...)
			execPid := readPidFile(t, pidFile)
			waitCmdline(execPid, "sleep 1000", 5*time.Second)
			onlyStdio(t, "the exec'd process", execPid, 0)
		})
	}
}

// TestFDCheckSeesTheBinary is the control for TestNoRuntimeFDInContainer:
// the runtime binary handed to a created container as a preserved fd is
// what a leak would look like, and the check must report it.
func TestFDCheckSeesTheBinary(t *testing.T) {
	rt := testutil.NewRuntime(t)
	flag, _ := testutil.WritePolicy(t, `{"mode": "off"}`)
	b := testutil.NewBundle(t, sleeper...)
	id := rt.NewID()
	binFile, err := os.Open(rt.Bin)
	if err != nil {
		t.Fatal(err)
	}
	defer binFile.Close()
	ctx, cancel := context.WithTimeout(context.Background(), testutil.DefaultTimeout)
	defer cancel()
	cmd := rt.Command(ctx, flag, "create", "--preserve-fds", "1", "--bundle", b.Dir, id)
	cmd.ExtraFiles = []*os.File{binFile}
	if text, err := testutil.RunToFile(t, cmd); err != nil {
		t.Fatalf("create: %v\n%s", err, text)
	}
	st := rt.MustState(id)
	bad := fdViolations(t, st.Pid, rt.Bin, 1)
	if len(bad) != 1 || !strings.Contains(bad[0], "fd 3 -> ") || !strings.Contains(bad[0], "the runtime binary itself") {
		t.Errorf("fd check on an init holding the runtime binary as fd 3 = %q, want that one violation", bad)
	}
	rt.MustRun("delete", "--force", id)
}
