package shim

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/hardened-runtime/hardened/internal/create"
	"github.com/hardened-runtime/hardened/internal/userns"
	"github.com/hardened-runtime/hardened/spec"
)

func deleteCommand() *cli.Command {
	return &cli.Command{
		Name:      "delete",
		Usage:     "delete a container and the resources it holds",
		ArgsUsage: "<container-id>",
		Description: `The delete command removes a stopped (or created) container. With --force a
running container is killed first.

EXAMPLE:
       # hardened delete --force web1`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "kill the container first if it still runs (SIGKILL)"},
		},
		Action: func(c *cli.Context) error {
			if err := checkArgs(c, 1, 1); err != nil {
				return err
			}
			force := c.Bool("force")
			id := c.Args().First()
			root, err := stateRoot(c)
			if err != nil {
				return err
			}
			ct, err := loadContainer(c)
			if isNotExist(err) {
				// A create killed before it saved its state leaves what
				// its create lock's record names (cgroup, bundle), a state
				// directory that Load does not see, and what its user
				// namespace held (ID range, staged rootfs).
				cerr := create.RemoveLeftover(root, id)
				if errors.Is(cerr, create.ErrStateSaved) {
					ct, err = loadContainer(c)
				} else if cerr != nil {
					return cerr
				} else if force {
					return nil
				}
			}
			if err != nil {
				return err
			}
			return deleteLoaded(root, ct, force)
		},
	}
}

// deleteLoaded deletes a container whose state loads, and everything it
// holds outside it. It goes on after a failure where that is safe and
// returns every failure: the ID range goes back only once no process of
// the container is left.
func deleteLoaded(root string, ct *libcontainer.Container, force bool) error {
	id := ct.ID()
	var bundle string
	for _, l := range ct.Config().Labels {
		if b, ok := strings.CutPrefix(l, "bundle="); ok {
			bundle = b
		}
	}
	derr := deleteContainer(ct, force)
	if derr != nil && !force {
		return derr
	}
	errs := []error{derr}
	if derr == nil || !processesLeft(ct) {
		errs = append(errs, userns.Release(root, id))
	}
	errs = append(errs, create.RemoveStaleCreateLock(root, id))
	if bundle != "" {
		errs = append(errs, spec.RemoveInterruptedWrites(bundle))
	}
	return errors.Join(errs...)
}

// processesLeft reports whether the container's cgroup may still hold a
// process (it can be read and is not empty, or its init still runs).
func processesLeft(ct *libcontainer.Container) bool {
	if err := ct.Signal(unix.Signal(0)); err == nil {
		return true
	}
	pids, err := ct.Processes()
	return err == nil && len(pids) > 0
}

func deleteContainer(ct *libcontainer.Container, force bool) error {
	if force {
		// Even a stopped container may have processes left in its cgroup
		// when it shares the host's PID namespace.
		return killAndDestroy(ct)
	}
	status, err := ct.Status()
	if err != nil {
		return fmt.Errorf("container %s: %w", ct.ID(), err)
	}
	switch status {
	case libcontainer.Stopped:
		return destroy(ct)
	case libcontainer.Created:
		return killAndDestroy(ct)
	default:
		return fmt.Errorf("container %s: cannot delete a container that is %s; use --force", ct.ID(), status)
	}
}

// killAndDestroy kills the container and waits up to ten seconds for its
// init to go before destroying it.
func killAndDestroy(ct *libcontainer.Container) error {
	_ = ct.Signal(unix.SIGKILL)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if err := ct.Signal(unix.Signal(0)); err != nil {
			return destroy(ct)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("container %s: init still running 10s after SIGKILL", ct.ID())
}

func destroy(ct *libcontainer.Container) error {
	if err := ct.Destroy(); err != nil && !errors.Is(err, libcontainer.ErrNotExist) {
		return fmt.Errorf("container %s: destroy: %w", ct.ID(), err)
	}
	return nil
}
