// Package runner runs one process in a container made by libcontainer: the
// init of create, run and restore, or a process of exec. It sets up the
// process's stdio or terminal, the fds it inherits (--preserve-fds,
// LISTEN_FDS), its pidfd and pid files, relays sd_notify readiness and,
// in the foreground, forwards signals and reaps until it exits.
package runner

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

// Process describes how to run one process in a container: the init
// process of create/run/restore, or an exec'd one.
type Process struct {
	// Container is the container the process runs in.
	Container *libcontainer.Container
	// Init is true for the container's first process.
	Init bool
	// Start hands the process to libcontainer: Start, Run or Restore.
	Start func(*libcontainer.Process) error
	// Detach returns once the process is started instead of waiting.
	Detach bool
	// ConsoleSocket receives the pseudoterminal master of a detached
	// terminal process (--console-socket).
	ConsoleSocket string
	// PidFile is written with the process's host PID (--pid-file).
	PidFile string
	// PreserveFDs passes fds 3..3+N-1 of ours on to the process.
	PreserveFDs int
	// Subreaper makes us reap the container's orphans while we wait.
	Subreaper bool
	// Destroy removes the container once a foreground process exits.
	Destroy bool
	// PidfdSocket receives a pidfd of the process (--pidfd-socket).
	PidfdSocket string
	// SubCgroupPaths puts an exec'd process in sub-cgroups (exec --cgroup).
	SubCgroupPaths map[string]string
	// ListenFDs are socket-activation fds handed on from fd 3 (LISTEN_FDS).
	ListenFDs []*os.File
	// Notify relays the container's sd_notify readiness (NOTIFY_SOCKET).
	Notify *NotifySocket
}

// ownsContainer reports whether a failure to start this process must
// remove the container: it does for an init process, whose container
// would otherwise be left half made.
func (r Process) ownsContainer() bool { return r.Init }

// Run starts p and, unless detached, forwards signals to it until it exits.
// It returns the process's exit status.
func (r Process) Run(p *specs.Process) (status int, retErr error) {
	defer func() {
		if retErr != nil && r.ownsContainer() {
			r.destroyContainer()
		}
	}()
	process, err := newProcess(p)
	if err != nil {
		return -1, err
	}
	process.Init = r.Init
	process.LogLevel = strconv.Itoa(int(logrus.GetLevel()))
	process.SubCgroupPaths = r.SubCgroupPaths
	if len(r.ListenFDs) > 0 {
		process.Env = append(process.Env, "LISTEN_FDS="+strconv.Itoa(len(r.ListenFDs)), "LISTEN_PID=1")
		process.ExtraFiles = append(process.ExtraFiles, r.ListenFDs...)
	}
	if err := preserveFDs(process, r.PreserveFDs); err != nil {
		return -1, err
	}
	cfg := r.Container.Config()
	rootUID, err := cfg.HostRootUID()
	if err != nil {
		return -1, err
	}
	rootGID, err := cfg.HostRootGID()
	if err != nil {
		return -1, err
	}
	var forwarder *signalForwarder
	if !r.Detach {
		forwarder = newSignalForwarder(r.Subreaper)
	}
	io, err := setupStdio(process, stdioOptions{
		terminal:      p.Terminal,
		detach:        r.Detach,
		consoleSocket: r.ConsoleSocket,
		rootUID:       rootUID,
		rootGID:       rootGID,
	})
	if err != nil {
		return -1, err
	}
	defer io.Close()
	if r.PidfdSocket != "" {
		socket, closeSocket, err := dialPidfdSocket(r.PidfdSocket)
		if err != nil {
			return -1, err
		}
		defer closeSocket()
		process.PidfdSocket = socket
	}
	if err := r.Start(process); err != nil {
		return -1, err
	}
	if err := io.waitTerminal(); err != nil {
		terminate(process)
		return -1, err
	}
	io.closeAfterStart()
	if r.PidFile != "" {
		if err := writePidFile(r.PidFile, process); err != nil {
			terminate(process)
			return -1, err
		}
	}
	if r.Notify != nil {
		pid, err := process.Pid()
		if err != nil {
			return -1, err
		}
		if r.Detach {
			// run --detach returns once the container is ready, as runc's.
			if err := r.Notify.Relay(pid); err != nil {
				logrus.Warnf("container %s: %v", r.Container.ID(), err)
			}
			r.Notify.Close()
			return 0, nil
		}
		go func() {
			if err := r.Notify.Relay(pid); err != nil {
				logrus.Warnf("container %s: %v", r.Container.ID(), err)
			}
		}()
	}
	if r.Detach {
		return 0, nil
	}
	status, err = forwarder.forward(process, io)
	if err != nil {
		terminate(process)
		return -1, err
	}
	if r.Destroy {
		r.destroyContainer()
	}
	return status, nil
}

func (r Process) destroyContainer() {
	if err := r.Container.Destroy(); err != nil {
		logrus.Warnf("container %s: destroy: %v", r.Container.ID(), err)
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
