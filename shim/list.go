package shim

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"
)

func listCommand() *cli.Command {
	return &cli.Command{
		Name:      "list",
		Usage:     "list the containers under --root",
		ArgsUsage: " ",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "table or json"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only the container IDs"},
		},
		Action: func(c *cli.Context) error {
			if err := checkArgs(c, 0, 0); err != nil {
				return err
			}
			root, err := filepath.Abs(c.String("root"))
			if err != nil {
				return fmt.Errorf("state root %q: %w", c.String("root"), err)
			}
			// As runc: no containers yet under the default root, but a
			// --root that does not exist is the caller's mistake.
			states, err := listContainers(root, c.IsSet("root"))
			if err != nil {
				return err
			}
			w := c.App.Writer
			if c.Bool("quiet") {
				for _, st := range states {
					fmt.Fprintln(w, st.ID)
				}
				return nil
			}
			switch f := c.String("format"); f {
			case "table":
				tw := tabwriter.NewWriter(w, 12, 1, 3, ' ', 0)
				fmt.Fprint(tw, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n")
				for _, st := range states {
					fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", st.ID, st.InitProcessPid, st.Status,
						st.Bundle, st.Created.Format(time.RFC3339Nano), st.Owner)
				}
				return tw.Flush()
			case "json":
				if states == nil {
					states = []containerState{}
				}
				return writeJSON(w, states, "")
			default:
				return fmt.Errorf("list: unknown --format %q: use table or json", f)
			}
		},
	}
}

// listContainers describes every container under root. A directory that
// does not load (a create in progress, or one killed half-way) is skipped.
// A missing root lists nothing unless mustExist.
func listContainers(root string, mustExist bool) ([]containerState, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && !mustExist {
			return nil, nil
		}
		return nil, fmt.Errorf("list %s: %w", root, err)
	}
	var states []containerState
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		ct, err := libcontainer.Load(root, e.Name())
		if err != nil {
			logrus.Debugf("list: skip %s: %v", e.Name(), err)
			continue
		}
		st, err := describe(root, ct)
		if err != nil {
			logrus.Debugf("list: skip %s: %v", e.Name(), err)
			continue
		}
		states = append(states, *st)
	}
	return states, nil
}
