package testutil

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// daemon is a background process (dockerd, containerd) started by a test.
type daemon struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{} // closed when the process has been reaped
	err  error         // Wait's error, valid after done
}

// startDaemon starts argv with stdout and stderr to logPath and reaps it
// in the background.
func startDaemon(name, logPath string, env []string, argv ...string) (*daemon, error) {
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer lf.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = lf, lf
	// The runtimes it starts write their audit record beside its log,
	// never to the machine's /var/log/hardened.
	cmd.Env = append(append(os.Environ(), "HARDENED_AUDIT_LOG="+filepath.Join(filepath.Dir(logPath), "audit.log")), env...)
	// Its own process group, so a ^C on the test does not hit it first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	d := &daemon{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		d.err = cmd.Wait()
		close(d.done)
	}()
	return d, nil
}

// waitReady polls ready until it succeeds, the daemon exits or ctx ends.
func (d *daemon) waitReady(ctx context.Context, ready func(context.Context) error) error {
	var last error
	for {
		select {
		case <-d.done:
			return fmt.Errorf("%s exited during start-up (%v); log:\n%s", d.name, d.err, tail(d.log, 30))
		default:
		}
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		last = ready(cctx)
		cancel()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %v (last check: %v); log:\n%s", d.name, ctx.Err(), last, tail(d.log, 30))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stop sends SIGTERM and waits up to timeout, then SIGKILLs.
func (d *daemon) stop(timeout time.Duration) error {
	select {
	case <-d.done:
		return nil
	default:
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
		return nil
	case <-time.After(timeout):
	}
	d.cmd.Process.Kill()
	<-d.done
	return fmt.Errorf("%s did not stop within %s of SIGTERM; killed", d.name, timeout)
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// UnmountUnder detaches every mount whose mount point is dir or below it,
// deepest first, and returns the mount points it found.
func UnmountUnder(dir string) ([]string, error) {
	var found []string
	for _, m := range leftoverMounts(dir, nil) {
		mp := strings.Fields(m)[0]
		if under(mp, dir) {
			found = append(found, mp)
		}
	}
	var errs []error
	for i := len(found) - 1; i >= 0; i-- {
		if err := unix.Unmount(found[i], unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", found[i], err))
		}
	}
	return found, errors.Join(errs...)
}

// mountsLeftUnder detaches what is mounted under dir, a daemon's
// directory, once what (its stop, the removal of its containers) is done,
// and returns an error naming what was: a leak, but for own, mounts the
// daemon makes for itself and may leave (detached without a report).
func mountsLeftUnder(what, dir string, own ...string) error {
	left, err := UnmountUnder(dir)
	var leaked []string
	for _, mp := range left {
		if !slices.Contains(own, mp) {
			leaked = append(leaked, mp)
		}
	}
	if len(leaked) > 0 || err != nil {
		return fmt.Errorf("mounts left under %s after %s: %v %v", dir, what, leaked, err)
	}
	return nil
}

// releaseDaemonDir detaches the mounts left under dir, a daemon's
// directory, once what is done (mountsLeftUnder, with the daemon's own
// mounts own), removes dir and the cgroups the daemon left, and returns
// what went wrong.
func releaseDaemonDir(what, dir string, cgroups cgroupLeftovers, own ...string) []string {
	var errs []string
	if err := mountsLeftUnder(what, dir, own...); err != nil {
		errs = append(errs, err.Error())
	}
	if err := os.RemoveAll(dir); err != nil {
		errs = append(errs, err.Error())
	}
	if err := cgroups.remove(); err != nil {
		errs = append(errs, err.Error())
	}
	return errs
}

// runCapture runs cmd with a timeout and returns stdout, stderr and the
// exit code (-1 if it did not run to an exit).
func runCapture(ctx context.Context, cmd *exec.Cmd) (stdout, stderr string, exit int) {
	var o, e strings.Builder
	if cmd.Stdout == nil {
		cmd.Stdout = &o
	}
	if cmd.Stderr == nil {
		cmd.Stderr = &e
	}
	cmd.WaitDelay = 5 * time.Second
	exit = runExit(cmd)
	if ctx.Err() != nil && exit != 0 {
		e.WriteString("\n(timed out: " + ctx.Err().Error() + ")")
	}
	return o.String(), e.String(), exit
}

// killPidFile waits up to timeout for the process named in a pid file to
// exit, then kills it if its command line still contains mark (so a reused
// pid is never hit). A missing file is fine.
func killPidFile(path, mark string, timeout time.Duration) {
	data, err := os.ReadFile(path)
	if err != nil {
		return
	}
	var pid int
	if _, err := fmt.Sscan(string(data), &pid); err != nil || pid <= 1 {
		return
	}
	deadline := time.Now().Add(timeout)
	for alive(pid) {
		if time.Now().After(deadline) {
			cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			if strings.Contains(string(cmdline), mark) {
				syscall.Kill(pid, syscall.SIGKILL)
			}
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}
