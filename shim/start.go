package shim

import (
	"fmt"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/urfave/cli/v2"
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
				limit, err := prepareDeferredLimit(root, ct)
				if err != nil {
					return err
				}
				notify, err := startNotify(root, ct.ID())
				if err != nil {
					return fmt.Errorf("container %s: %w", ct.ID(), err)
				}
				defer notify.close()
				if err := ct.Exec(); err != nil {
					return fmt.Errorf("container %s: start: %w", ct.ID(), err)
				}
				if err := limit.afterExec(); err != nil {
					return fmt.Errorf("container %s: %w", ct.ID(), err)
				}
				if notify != nil {
					st, err := ct.State()
					if err != nil {
						return fmt.Errorf("container %s: %w", ct.ID(), err)
					}
					// As runc's start: return once the container is ready.
					return notify.relay(st.InitProcessPid)
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
