package shim

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"
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
			ct, err := loadContainer(c)
			if isNotExist(err) {
				// A create killed before it saved its state leaves a
				// directory that Load does not see; remove it, and what
				// its user namespace held (ID range, idmapped rootfs).
				if root, rerr := stateRoot(c); rerr == nil {
					_ = os.RemoveAll(filepath.Join(root, c.Args().First()))
					if uerr := releaseUserns(root, c.Args().First()); uerr != nil {
						return uerr
					}
				}
				if force {
					return nil
				}
			}
			if err != nil {
				return err
			}
			if err := deleteContainer(ct, force); err != nil {
				return err
			}
			root, err := stateRoot(c)
			if err != nil {
				return err
			}
			return releaseUserns(root, ct.ID())
		},
	}
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
