package create

import (
	"errors"
	"fmt"
	"time"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/manager"
	"golang.org/x/sys/unix"
)

// learnStartTimeout bounds the start of the init of a container whose
// seccomp filter notifies a learned-profile recorder (policy key "learn").
// Libcontainer's init loads the filter, then hands its notification fd to
// the runtime, which passes it to the recorder; a notified call the init
// makes before the recorder has the fd (one not in learn's never-notified
// list), or one the recorder never answers, blocks the init for ever, and
// the create with it, since the runtime waits for the init to finish its
// setup. An init starts in well under a second; 30 s leaves room for a
// loaded host.
const learnStartTimeout = 30 * time.Second

// ErrLearnStartTimeout is the cause of a create whose learning init was
// killed by learnWatchdog.
var ErrLearnStartTimeout = errors.New("the container's init did not finish its setup")

// learnWatchdog runs the start of a learning container's init and kills
// the init if it has not returned within timeout, so that the start fails
// (libcontainer sees its init die) and the create is undone instead of
// hanging.
type learnWatchdog struct {
	// key and mode name the container's learned profile in the error
	// (which the caller prefixes with the container's ID).
	key, mode string
	timeout   time.Duration
	// kill kills the container's processes (killCgroupProcesses of its
	// cgroup).
	kill func() error
}

// run runs start under the watchdog. Once the watchdog fired, run fails
// with ErrLearnStartTimeout even if start returned nil meanwhile: the
// init was killed, and the caller destroys the container on error.
func (w learnWatchdog) run(start func() error) error {
	var killErr error
	killed := make(chan struct{})
	timer := time.AfterFunc(w.timeout, func() {
		killErr = w.kill()
		close(killed)
	})
	err := start()
	if timer.Stop() {
		return err
	}
	// The watchdog fired: wait for the kill to be done.
	<-killed
	what := fmt.Errorf("learn mode (policy key \"learn\", profile %s, mode %s): %w within %v: it waits on a system call its seccomp filter notifies to the learned-profile recorder, which did not answer (a call made before the recorder could have the filter's fd, or a recorder that is stuck); its processes were killed and the create undone", w.key, w.mode, ErrLearnStartTimeout, w.timeout)
	if killErr != nil {
		what = fmt.Errorf("%w (killing them: %v)", what, killErr)
	}
	if err != nil {
		return fmt.Errorf("%w: %v", what, err)
	}
	return what
}

// killCgroupProcesses sends SIGKILL to every process in the cgroup c
// names (a container's that libcontainer has made and not removed yet).
func killCgroupProcesses(c *cgroups.Cgroup) error {
	if c == nil {
		return errors.New("no cgroup")
	}
	cfg := *c
	cfg.Resources = &cgroups.Resources{}
	m, err := manager.New(&cfg)
	if err != nil {
		return fmt.Errorf("cgroup: %w", err)
	}
	pids, err := m.GetAllPids()
	if err != nil {
		return fmt.Errorf("cgroup: %w", err)
	}
	if len(pids) == 0 {
		return errors.New("cgroup: no process to kill")
	}
	for _, pid := range pids {
		_ = unix.Kill(pid, unix.SIGKILL)
	}
	return nil
}
