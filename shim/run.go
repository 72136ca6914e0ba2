package shim

import (
	"github.com/urfave/cli/v2"

	"github.com/hardened-runtime/hardened/internal/create"
)

func runCommand() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "create and run a container, hardened by the host's policy",
		ArgsUsage: "<container-id>",
		Description: `The run command creates a container from a bundle (hardened as "create"
does) and runs it. In the foreground it waits for the container's process,
relays signals to it, exits with its status and removes the container.`,
		Flags: append(launchFlags(),
			&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "detach from the container's process"},
			&cli.BoolFlag{Name: "keep", Usage: "do not delete the container after it exits"},
			&cli.BoolFlag{Name: "no-subreaper", Usage: "do not reap the container's orphaned processes"},
		),
		Action: func(c *cli.Context) error {
			if err := checkArgs(c, 1, 1); err != nil {
				return err
			}
			opts := launchOptionsFrom(c)
			opts.Detach = c.Bool("detach")
			opts.NoSubreaper = c.Bool("no-subreaper")
			opts.Keep = c.Bool("keep") || opts.Detach
			opts.Start = create.StartAndRun
			opts.NotifyBind = true
			status, err := launch(c, opts)
			if err != nil {
				return wrapFailure("run", err)
			}
			return exitWith(status)
		},
	}
}
