package shim

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/hardened-runtime/hardened/internal/containers"
)

func psCommand() *cli.Command {
	return &cli.Command{
		Name:      "ps",
		Usage:     "list the processes running in a container",
		ArgsUsage: "[<container-id> [ps options]]",
		Description: `The ps command lists the processes of a container. With --format json it
prints their host PIDs as a JSON array (what containerd reads); with the
default table format it runs the host's ps with the given options (default
-ef) and keeps the header and the rows of the container's processes.
Without a container ID it lists hardened's containers in every engine, as
"hardened containers" does.

EXAMPLE:
       # hardened ps web1 -o pid,user,args`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "output format: table or json"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				// runc refuses ps without an ID; hardened lists its
				// containers (see containersCommand).
				return listHardenedContainers(c, c.String("format"), false)
			}
			format := c.String("format")
			if format != "table" && format != "json" {
				return fmt.Errorf("--format %q: use table or json", format)
			}
			ct, err := loadContainer(c)
			if err != nil {
				return err
			}
			pids, err := ct.Processes()
			if err != nil {
				return fmt.Errorf("container %s: list processes: %w", ct.ID(), err)
			}
			if format == "json" {
				if pids == nil {
					pids = []int{}
				}
				return writeJSON(c.App.Writer, pids, "")
			}
			if err := containers.PSTable(c.App.Writer, pids, c.Args().Slice()[1:]); err != nil {
				return fmt.Errorf("container %s: %w", ct.ID(), err)
			}
			return nil
		},
	}
}
