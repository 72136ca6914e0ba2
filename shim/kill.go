package shim

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"
)

func killCommand() *cli.Command {
	return &cli.Command{
		Name:      "kill",
		Usage:     "send a signal to a container's init process",
		ArgsUsage: "<container-id> [signal]",
		Description: `The kill command sends a signal (default SIGTERM) to the container's init
process. The signal is a name (KILL, SIGKILL) or a number (9).

EXAMPLE:
       # hardened kill web1 KILL`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "signal every process in the container"},
		},
		Action: func(c *cli.Context) error {
			if err := checkArgs(c, 1, 2); err != nil {
				return err
			}
			ct, err := loadContainer(c)
			if err != nil {
				return err
			}
			name := c.Args().Get(1)
			if name == "" {
				name = "SIGTERM"
			}
			sig, err := parseSignal(name)
			if err != nil {
				return err
			}
			if c.Bool("all") {
				return signalAll(ct, sig)
			}
			if err := ct.Signal(sig); err != nil {
				return fmt.Errorf("container %s: %w", ct.ID(), err)
			}
			return nil
		},
	}
}

// parseSignal accepts a signal number (0, as for kill(2), only checks the
// container is running) or a name with or without "SIG".
func parseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 0 || n > 64 {
			return 0, fmt.Errorf("invalid signal number %d", n)
		}
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %q", s)
}

// signalAll signals every process of the container's cgroup. A container
// with nothing left running is not an error for --all.
func signalAll(ct *libcontainer.Container, sig unix.Signal) error {
	if sig == unix.SIGKILL {
		// libcontainer kills the whole cgroup (or PID namespace) for SIGKILL.
		err := ct.Signal(sig)
		if err == nil || errors.Is(err, libcontainer.ErrNotRunning) {
			return nil
		}
		return fmt.Errorf("container %s: %w", ct.ID(), err)
	}
	if status, err := ct.Status(); err == nil && status == libcontainer.Stopped {
		return nil
	}
	pids, err := ct.Processes()
	if err != nil {
		return fmt.Errorf("container %s: %w", ct.ID(), err)
	}
	for _, pid := range pids {
		if err := unix.Kill(pid, sig); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("container %s: signal %d: %w", ct.ID(), pid, err)
		}
	}
	return nil
}
