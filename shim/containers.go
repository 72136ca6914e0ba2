package shim

import (
	"fmt"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/hardened-runtime/hardened/internal/containers"
	"github.com/hardened-runtime/hardened/internal/create"
)

// containersCommand lists the containers hardened runs on this host, with
// what the policy did to each.
//
// `ps` keeps runc's meaning (`ps ID` lists a container's processes;
// containerd's shim calls `ps --format json ID`); `ps` without an ID,
// which runc refuses, lists containers as this command does.
func containersCommand() *cli.Command {
	return &cli.Command{
		Name:      "containers",
		Usage:     "list the containers hardened runs, in every engine, with their policy",
		ArgsUsage: " ",
		Description: `The containers command (also "hardened ps" without a container ID) finds the
state roots of Docker (/run/docker/runtime-*/moby), containerd (every
namespace under /run/containerd/<runtime>/) and hardened's own (--root),
and lists every container created by hardened there: engine, name, image
and pod, status, policy mode and level, the user namespace's host ID
range, capabilities, seccomp, read-only rootfs, and how many changes,
refusals (audit mode) and warnings its record holds. With --root given,
only that root is listed. "hardened inspect ID" prints a container's full
record.

EXAMPLE:
       # hardened containers --format json | jq '.[] | select(.mode != "enforce")'`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "output format: table or json"},
			&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "also list stopped containers"},
		},
		Action: func(c *cli.Context) error {
			if err := checkArgs(c, 0, 0); err != nil {
				return err
			}
			return listHardenedContainers(c, c.String("format"), c.Bool("all"))
		},
	}
}

// containerStore is where the containers and inspect commands look:
// --root alone when given, else hardened's default root, Docker's and
// containerd's.
func containerStore(c *cli.Context) containers.Store {
	roots := containers.Roots(defaultRoot)
	if c.IsSet("root") {
		if r, err := filepath.Abs(c.String("root")); err == nil {
			roots = []string{r}
		}
	}
	return containers.Store{Roots: roots, RecordFile: create.RecordFile, LoadRecord: create.LoadRecord}
}

func listHardenedContainers(c *cli.Context, format string, all bool) error {
	if format != "table" && format != "json" {
		return fmt.Errorf("--format %q: use table or json", format)
	}
	list := containerStore(c).List(all, c.App.ErrWriter)
	if format == "json" {
		return writeJSON(c.App.Writer, list, "")
	}
	return containers.WriteTable(c.App.Writer, list)
}
