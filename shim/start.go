package shim

import (
	"fmt"
	"os"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/urfave/cli/v2"

	"github.com/hardened-runtime/hardened/internal/create"
	"github.com/hardened-runtime/hardened/internal/runner"
)

func startCommand() *cli.Command {
	return &cli.Command{
		Name:        "start",
		Usage:       "run the user-defined process of a created container",
		ArgsUsage:   "<container-id>",
		Description: `The start command runs the process of a container made by "create".`,
		Action: func(c *cli.Context) error {
			if err := checkArgs(c, 1, 1); err != nil {
				return err
			}
			ct, err := loadContainer(c)
			if err != nil {
				return err
			}
			status, err := ct.Status()
			if err != nil {
				return fmt.Errorf("container %s: %w", ct.ID(), err)
			}
			switch status {
			case libcontainer.Created:
				root, err := stateRoot(c)
				if err != nil {
					return err
				}
				limit, err := create.PrepareDeferredLimit(root, ct)
				if err != nil {
					return err
				}
				notify, err := runner.StartNotify(root, ct.ID(), os.Getenv("NOTIFY_SOCKET"))
				if err != nil {
					return fmt.Errorf("container %s: %w", ct.ID(), err)
				}
				defer notify.Close()
				if err := ct.Exec(); err != nil {
					return fmt.Errorf("container %s: start: %w", ct.ID(), err)
				}
				if err := limit.AfterExec(); err != nil {
					return fmt.Errorf("container %s: %w", ct.ID(), err)
				}
				if notify != nil {
					st, err := ct.State()
					if err != nil {
						return fmt.Errorf("container %s: %w", ct.ID(), err)
					}
					// As runc's start: return once the container is ready.
					return notify.Relay(st.InitProcessPid)
				}
				return nil
			case libcontainer.Stopped:
				return fmt.Errorf("container %s: cannot start a container that has stopped", ct.ID())
			default:
				return fmt.Errorf("container %s: cannot start an already %s container", ct.ID(), status)
			}
		},
	}
}
