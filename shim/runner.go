package shim

import (
	"fmt"
	"os"
	"strconv"

	"github.com/opencontainers/runc/libcontainer"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/hardened-runtime/hardened/spec"
)

// processRun describes how to run one process in a container: the init
// process of create/run/restore, or an exec'd one.
type processRun struct {
	container *libcontainer.Container
	// init is true for the container's first process.
	init bool
	// start hands the process to libcontainer: Start, Run or Restore.
	start func(*libcontainer.Process) error
	// detach returns once the process is started instead of waiting.
	detach        bool
	consoleSocket string
	pidFile       string
	// preserveFDs passes fds 3..3+N-1 of ours on to the process.
	preserveFDs int
	// subreaper makes us reap the container's orphans while we wait.
	subreaper bool
	// destroy removes the container once a foreground process exits.
	destroy bool
	// pidfdSocket receives a pidfd of the process (--pidfd-socket).
	pidfdSocket string
	// subCgroupPaths puts an exec'd process in sub-cgroups (exec --cgroup).
	subCgroupPaths map[string]string
	// listenFDs are socket-activation fds handed on from fd 3 (LISTEN_FDS).
	listenFDs []*os.File
	// notify relays the container's sd_notify readiness (NOTIFY_SOCKET).
	notify *notifySocket
}

// ownsContainer reports whether a failure to start this process must
// remove the container: it does for an init process, whose container
// would otherwise be left half made.
func (r processRun) ownsContainer() bool { return r.init }

// run starts p and, unless detached, forwards signals to it until it exits.
// It returns the process's exit status.
func (r processRun) run(p *specs.Process) (status int, retErr error) {
	defer func() {
		if retErr != nil && r.ownsContainer() {
			r.destroyContainer()
		}
	}()
	process, err := newProcess(p)
	if err != nil {
		return -1, err
	}
	process.Init = r.init
	process.LogLevel = strconv.Itoa(int(logrus.GetLevel()))
	process.SubCgroupPaths = r.subCgroupPaths
	if len(r.listenFDs) > 0 {
		process.Env = append(process.Env, "LISTEN_FDS="+strconv.Itoa(len(r.listenFDs)), "LISTEN_PID=1")
		process.ExtraFiles = append(process.ExtraFiles, r.listenFDs...)
	}
	if err := preserveFDs(process, r.preserveFDs); err != nil {
		return -1, err
	}
	cfg := r.container.Config()
	rootUID, err := cfg.HostRootUID()
	if err != nil {
		return -1, err
	}
	rootGID, err := cfg.HostRootGID()
	if err != nil {
		return -1, err
	}
	var forwarder *signalForwarder
	if !r.detach {
		forwarder = newSignalForwarder(r.subreaper)
		defer forwarder.stop()
	}
	io, err := setupStdio(process, stdioOptions{
		terminal:      p.Terminal,
		detach:        r.detach,
		consoleSocket: r.consoleSocket,
		rootUID:       rootUID,
		rootGID:       rootGID,
	})
	if err != nil {
		return -1, err
	}
	defer io.Close()
	if r.pidfdSocket != "" {
		socket, closeSocket, err := dialPidfdSocket(r.pidfdSocket)
		if err != nil {
			return -1, err
		}
		defer closeSocket()
		process.PidfdSocket = socket
	}
	if err := r.start(process); err != nil {
		return -1, err
	}
	if err := io.waitTerminal(); err != nil {
		terminate(process)
		return -1, err
	}
	io.closeAfterStart()
	if r.pidFile != "" {
		if err := writePidFile(r.pidFile, process); err != nil {
			terminate(process)
			return -1, err
		}
	}
	if r.notify != nil {
		pid, err := process.Pid()
		if err != nil {
			return -1, err
		}
		if r.detach {
			// run --detach returns once the container is ready, as runc's.
			if err := r.notify.relay(pid); err != nil {
				logrus.Warnf("container %s: %v", r.container.ID(), err)
			}
			r.notify.close()
			return 0, nil
		}
		go func() {
			if err := r.notify.relay(pid); err != nil {
				logrus.Warnf("container %s: %v", r.container.ID(), err)
			}
		}()
	}
	if r.detach {
		return 0, nil
	}
	status, err = forwarder.forward(process, io)
	if err != nil {
		terminate(process)
		return -1, err
	}
	if r.destroy {
		r.destroyContainer()
	}
	return status, nil
}

func (r processRun) destroyContainer() {
	if err := r.container.Destroy(); err != nil {
		logrus.Warnf("container %s: destroy: %v", r.container.ID(), err)
	}
}

// preserveFDs passes n of our file descriptors, from 3 on, to the process.
func preserveFDs(process *libcontainer.Process, n int) error {
	first := 3 + len(process.ExtraFiles)
	for fd := first; fd < first+n; fd++ {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
			return fmt.Errorf("--preserve-fds: fd %d is not open: %w", fd, err)
		}
		process.ExtraFiles = append(process.ExtraFiles, os.NewFile(uintptr(fd), "preserved-fd-"+strconv.Itoa(fd)))
	}
	return nil
}

func terminate(p *libcontainer.Process) {
	_ = p.Signal(unix.SIGKILL)
	_, _ = p.Wait()
}

// writePidFile writes the process's host PID to path: a temporary file in
// the same directory renamed into place, so readers never see it half written.
func writePidFile(path string, process *libcontainer.Process) error {
	pid, err := process.Pid()
	if err != nil {
		return err
	}
	if err := spec.ReplaceFile(path, []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return fmt.Errorf("pid file: %w", err)
	}
	return nil
}
