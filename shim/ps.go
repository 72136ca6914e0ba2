package shim

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
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
			if err := psTable(c.App.Writer, pids, c.Args().Slice()[1:]); err != nil {
				return fmt.Errorf("container %s: %w", ct.ID(), err)
			}
			return nil
		},
	}
}

// psTable runs the host's ps with psArgs and writes the rows of pids.
func psTable(w io.Writer, pids []int, psArgs []string) error {
	if len(psArgs) == 0 {
		psArgs = []string{"-ef"}
	}
	out, err := exec.Command("ps", psArgs...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ps %s: %w: %s", strings.Join(psArgs, " "), err, bytes.TrimSpace(out))
	}
	return filterPSOutput(w, out, pids)
}

// filterPSOutput copies ps's header line and those rows whose PID column
// holds one of pids. The PID column is found by its header, so any ps
// options that keep a PID column work.
func filterPSOutput(w io.Writer, out []byte, pids []int) error {
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	if !sc.Scan() {
		return errors.New("ps printed nothing")
	}
	header := sc.Text()
	col := slices.Index(strings.Fields(header), "PID")
	if col < 0 {
		return errors.New("ps output has no PID column (add -o pid)")
	}
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, header)
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if col >= len(fields) {
			return fmt.Errorf("ps row %q has no PID column", line)
		}
		pid, err := strconv.Atoi(fields[col])
		if err != nil {
			return fmt.Errorf("ps row %q: PID %q is not a number", line, fields[col])
		}
		if slices.Contains(pids, pid) {
			fmt.Fprintln(bw, line)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading ps output: %w", err)
	}
	return bw.Flush()
}
