package create

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/hardened-runtime/hardened/internal/runner"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"time"
	"unsafe"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// The container's RLIMIT_AS is applied late, and not by libcontainer while
// the init still runs Go code. A Go 1.26 process reserves about 1.2 GiB of
// address space at start, and libcontainer sets rlimits before the init
// builds its seccomp filter, so a limit such as 1 GiB made every seccomp'd
// container fail with ENOMEM (runc 1.1, built with an older Go, ran them).
// The limit is saved in the container's state directory at create. At
// start, once the init waits on the exec FIFO (its filter installed), it is
// set on the init: as asked if the init fits under it with room to spare,
// else at the init's size plus that room, tightened to what was asked when
// the init execs the user's program. The runtime traces the init for that
// (PTRACE_SEIZE with PTRACE_O_TRACEEXEC, nothing else): the kernel stops it
// right after execve, before the program's first instruction, the limit is
// tightened there and the init detached, so the program never runs with
// more than it asked for. Where tracing is not allowed (ptrace_scope 3, a
// seccomp'd runtime) the limit is tightened as soon as the init is seen to
// have exec'd instead (about a millisecond; the program is never without a
// limit, and execve keeps rlimits).

// deferredLimitFile is the file in a container's state directory that
// holds its deferred RLIMIT_AS as "soft hard".
const deferredLimitFile = "hardened-rlimit-as"

// withoutAddressSpaceLimit removes RLIMIT_AS from the config and returns
// the process without it, and the limit (nil if none was set).
func withoutAddressSpaceLimit(cfg *configs.Config, p *specs.Process) (*specs.Process, *configs.Rlimit) {
	var limit *configs.Rlimit
	kept := cfg.Rlimits[:0]
	for _, rl := range cfg.Rlimits {
		if rl.Type == unix.RLIMIT_AS {
			limit = &configs.Rlimit{Type: rl.Type, Hard: rl.Hard, Soft: rl.Soft}
			continue
		}
		kept = append(kept, rl)
	}
	cfg.Rlimits = kept
	if p == nil {
		return p, limit
	}
	out := *p
	out.Rlimits = nil
	for _, rl := range p.Rlimits {
		if t, ok := runner.RlimitType(rl.Type); ok && t == unix.RLIMIT_AS {
			if limit == nil {
				limit = &configs.Rlimit{Type: unix.RLIMIT_AS, Hard: rl.Hard, Soft: rl.Soft}
			}
			continue
		}
		out.Rlimits = append(out.Rlimits, rl)
	}
	return &out, limit
}

// saveDeferredLimit records limit in the container's state directory.
func saveDeferredLimit(root, id string, limit *configs.Rlimit) error {
	if limit == nil {
		return nil
	}
	data := fmt.Appendf(nil, "%d %d", limit.Soft, limit.Hard)
	return os.WriteFile(filepath.Join(root, id, deferredLimitFile), data, 0o600)
}

// initHeadroom is how much address space the init must have left under a
// limit set before it execs: the Go runtime may still map memory then.
const initHeadroom = 256 << 20

// DeferredLimit is a saved RLIMIT_AS on its way to a container's init.
type DeferredLimit struct {
	pid     int
	limit   unix.Rlimit
	initExe unix.Stat_t // the init's executable, to see when it has exec'd
	applied bool
	// traced is set while a tracer goroutine (traceExec) watches the
	// init; it delivers the outcome of tightening at the execve stop.
	traced chan error
}

// PrepareDeferredLimit reads the container's saved RLIMIT_AS (nil if none),
// waits for the init to reach the exec FIFO and sets the limit at once if
// the init fits under it. Call AfterExec once the init was told to run.
func PrepareDeferredLimit(root string, ct *libcontainer.Container) (*DeferredLimit, error) {
	data, err := os.ReadFile(filepath.Join(root, ct.ID(), deferredLimitFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("container %s: deferred RLIMIT_AS: %w", ct.ID(), err)
	}
	d := &DeferredLimit{}
	if _, err := fmt.Sscanf(string(data), "%d %d", &d.limit.Cur, &d.limit.Max); err != nil {
		return nil, fmt.Errorf("container %s: deferred RLIMIT_AS %q: %w", ct.ID(), data, err)
	}
	st, err := ct.State()
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", ct.ID(), err)
	}
	d.pid = st.InitProcessPid
	if err := waitForStartFifo(d.pid, 10*time.Second); err != nil {
		return nil, fmt.Errorf("container %s: deferred RLIMIT_AS: %w", ct.ID(), err)
	}
	exe := filepath.Join("/proc", strconv.Itoa(d.pid), "exe")
	if err := unix.Stat(exe, &d.initExe); err != nil {
		return nil, fmt.Errorf("container %s: deferred RLIMIT_AS: %w", ct.ID(), err)
	}
	size, err := addressSpace(d.pid)
	if err != nil {
		return nil, fmt.Errorf("container %s: deferred RLIMIT_AS: %w", ct.ID(), err)
	}
	first := d.limit
	if size+initHeadroom > first.Cur {
		// The init would run out of address space before its execve.
		first.Cur = size + initHeadroom
		first.Max = max(first.Max, first.Cur)
	} else {
		d.applied = true
	}
	if err := unix.Prlimit(d.pid, unix.RLIMIT_AS, &first, nil); err != nil {
		return nil, fmt.Errorf("container %s: set RLIMIT_AS on %d: %w", ct.ID(), d.pid, err)
	}
	if !d.applied {
		d.traced = d.traceExec()
	}
	return d, nil
}

// traceExec makes a goroutine, locked to its thread (ptrace requests must
// come from the tracing thread), the tracer of the init: stopped by the
// kernel at its next execve and at nothing else but signal deliveries,
// which it passes on at once (the init runs Go code until its execve: a
// stop left waiting would hang the start). At the execve stop it sets the
// limit and detaches. It returns the channel of that outcome, nil when the
// init cannot be traced.
func (d *DeferredLimit) traceExec() chan error {
	seized := make(chan error, 1)
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		_, _, errno := unix.RawSyscall6(unix.SYS_PTRACE, unix.PTRACE_SEIZE, uintptr(d.pid), 0, unix.PTRACE_O_TRACEEXEC, 0, 0)
		if errno != 0 {
			seized <- errno
			return
		}
		seized <- nil
		done <- d.tightenAtExec()
	}()
	if err := <-seized; err != nil {
		logrus.Debugf("init %d: cannot trace its execve (%v): RLIMIT_AS tightened once it has exec'd", d.pid, err)
		return nil
	}
	return done
}

// cldTrapped is si_code CLD_TRAPPED of a SIGCHLD: a tracee stopped.
const cldTrapped = 4

// tightenAtExec waits for the traced init's execve stop, sets the limit
// there and detaches. Signals the init gets meanwhile are delivered. It
// never reaps the init (run's init is this process's child, whose exit
// status libcontainer collects): waitid peeks with WNOWAIT, and a stop is
// consumed with WSTOPPED alone, which cannot reap.
func (d *DeferredLimit) tightenAtExec() error {
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, d.pid, &info, unix.WEXITED|unix.WSTOPPED|unix.WNOWAIT|unix.WALL, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if errors.Is(err, unix.ECHILD) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("init %d: wait for execve: %w", d.pid, err)
		}
		if info.Code != cldTrapped {
			// Gone (not reaped): nothing runs without its limit.
			return nil
		}
		// si_status of a ptrace stop: the signal, and the event << 8.
		status := *(*int32)(unsafe.Pointer(uintptr(unsafe.Pointer(&info)) + 24))
		_ = unix.Waitid(unix.P_PID, d.pid, &info, unix.WSTOPPED|unix.WNOHANG|unix.WALL, nil)
		if status == int32(unix.SIGTRAP)|unix.PTRACE_EVENT_EXEC<<8 {
			err := unix.Prlimit(d.pid, unix.RLIMIT_AS, &d.limit, nil)
			if derr := unix.PtraceDetach(d.pid); err == nil && derr != nil && !errors.Is(derr, unix.ESRCH) {
				err = derr
			}
			if err != nil && !errors.Is(err, unix.ESRCH) {
				return fmt.Errorf("set RLIMIT_AS on %d: %w", d.pid, err)
			}
			return nil
		}
		sig := 0
		if status>>8 == 0 {
			// A signal-delivery stop: deliver the signal.
			sig = int(status & 0x7f)
		}
		if err := unix.PtraceCont(d.pid, sig); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("init %d: %w", d.pid, err)
		}
	}
}

// AfterExec tightens the limit to what was asked, if the init needed more,
// once the init has exec'd the user's program. A program that already
// exited needs nothing.
func (d *DeferredLimit) AfterExec() error {
	if d == nil || d.applied {
		return nil
	}
	if d.traced != nil {
		select {
		case err := <-d.traced:
			d.applied = err == nil
			return err
		case <-time.After(10 * time.Second):
			// Our exit detaches the tracer.
			return fmt.Errorf("init %d did not exec the container's program within 10s", d.pid)
		}
	}
	exe := filepath.Join("/proc", strconv.Itoa(d.pid), "exe")
	deadline := time.Now().Add(10 * time.Second)
	for {
		var now unix.Stat_t
		err := unix.Stat(exe, &now)
		if err != nil {
			return nil
		}
		if now.Dev != d.initExe.Dev || now.Ino != d.initExe.Ino {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("init %d did not exec the container's program within 10s", d.pid)
		}
		time.Sleep(200 * time.Microsecond)
	}
	if err := unix.Prlimit(d.pid, unix.RLIMIT_AS, &d.limit, nil); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("set RLIMIT_AS on %d: %w", d.pid, err)
	}
	d.applied = true
	return nil
}

// addressSpace returns pid's virtual memory size in bytes (VmSize).
func addressSpace(pid int) (uint64, error) {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, err
	}
	for _, line := range bytes.Split(data, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(line, []byte("VmSize:")); ok {
			kb, err := strconv.ParseUint(string(bytes.TrimSpace(bytes.TrimSuffix(bytes.TrimSpace(rest), []byte("kB")))), 10, 64)
			if err != nil {
				return 0, err
			}
			return kb << 10, nil
		}
	}
	return 0, errors.New("no VmSize")
}

// waitForStartFifo waits until pid's main thread blocks opening the exec
// FIFO ("wait_for_partner"), the last step of the init before execve.
func waitForStartFifo(pid int, timeout time.Duration) error {
	wchan := filepath.Join("/proc", strconv.Itoa(pid), "wchan")
	deadline := time.Now().Add(timeout)
	for {
		b, err := os.ReadFile(wchan)
		if err != nil {
			return fmt.Errorf("init %d: %w", pid, err)
		}
		if bytes.Equal(bytes.TrimSpace(b), []byte("wait_for_partner")) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("init %d did not reach the start FIFO within %v (in %s)", pid, timeout, b)
		}
		time.Sleep(time.Millisecond)
	}
}
