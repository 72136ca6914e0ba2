package runner

import (
	"os"
	"os/signal"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// signalBuffer is large so that no signal is lost while we are busy.
const signalBuffer = 2048

// signalForwarder relays the signals the runtime receives to a container
// process it waits for in the foreground, reaps children, and follows
// terminal size changes.
type signalForwarder struct {
	signals chan os.Signal
}

// newSignalForwarder starts catching signals. It must be called before the
// process starts so that no SIGCHLD is missed.
//
// The signals stay caught until the runtime exits, as runc's do: one that
// arrives after the container's exit, while the runtime releases what the
// container held (its cgroup, staged rootfs, ID range), is ignored rather
// than killing the runtime midway through that. Stopping would also cost
// what starting did, ~1 ms per run or exec (tests/bench/README.md): the Go
// runtime changes the catching of each of the ~60 signals in a round trip
// with its signal-mask thread, two thread switches each.
func newSignalForwarder(subreaper bool) *signalForwarder {
	if subreaper {
		// Orphans of the container are reparented to us and reaped here.
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			logrus.Warnf("set child subreaper: %v", err)
		}
	}
	f := &signalForwarder{signals: make(chan os.Signal, signalBuffer)}
	signal.Notify(f.signals)
	return f
}

// forward runs until the process exits and returns its exit status.
func (f *signalForwarder) forward(process *libcontainer.Process, io *stdio) (int, error) {
	pid, err := process.Pid()
	if err != nil {
		return -1, err
	}
	io.resize()
	for sig := range f.signals {
		switch sig {
		case unix.SIGWINCH:
			io.resize()
		case unix.SIGCHLD:
			if status, exited := reapUntil(pid); exited {
				// Wait lets libcontainer finish its own bookkeeping
				// (pipes, cloned binary) for the process.
				_, _ = process.Wait()
				return status, nil
			}
		case unix.SIGURG:
			// The Go runtime's preemption signal; not meant for the container.
		default:
			if err := process.Signal(sig); err != nil {
				logrus.Debugf("forward %v to %d: %v", sig, pid, err)
			}
		}
	}
	return -1, nil
}

// reapUntil reaps every exited child and reports whether pid was among them.
func reapUntil(pid int) (status int, exited bool) {
	for {
		var ws unix.WaitStatus
		p, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err != nil || p <= 0 {
			return status, exited
		}
		if p == pid {
			status, exited = exitStatus(ws), true
		}
	}
}

// exitStatus converts a wait status into a shell-style exit code.
func exitStatus(ws unix.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}
