package shim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/opencontainers/runc/libcontainer/specconv"
	"github.com/urfave/cli/v2"
)

func specCommand() *cli.Command {
	return &cli.Command{
		Name:      "spec",
		Usage:     "write an example config.json for a bundle",
		ArgsUsage: " ",
		Description: `The spec command writes a starter config.json into the bundle directory
(default: the current directory). It runs "sh" in the rootfs directory
next to it; edit it to suit. An existing config.json is never overwritten.

The example is not yet hardened: the host's policy is applied when the
container is created.

EXAMPLE:
       # mkdir -p demo/rootfs && tar -C demo/rootfs -xf rootfs.tar
       # hardened spec --bundle demo && hardened run --bundle demo demo1`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Usage: "bundle directory to write config.json into (default: current directory)"},
			&cli.BoolFlag{Name: "rootless", Usage: "write a configuration for a container run by an unprivileged user"},
		},
		Action: func(c *cli.Context) error {
			if err := checkArgs(c, 0, 0); err != nil {
				return err
			}
			return writeExampleSpec(bundleFlag(c), c.Bool("rootless"))
		},
	}
}

// writeExampleSpec writes libcontainer's example spec to dir/config.json.
// The file is created exclusively, so an existing config.json (or a
// symlink in its place) is left alone and reported.
func writeExampleSpec(dir string, rootless bool) (retErr error) {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	s := specconv.Example()
	if rootless {
		specconv.ToRootless(s)
	}
	data, err := json.MarshalIndent(s, "", "\t")
	if err != nil {
		return fmt.Errorf("bundle %s: encoding the example spec: %w", dir, err)
	}
	path := filepath.Join(dir, "config.json")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("bundle %s: %s already exists; remove it first", dir, path)
	}
	if err != nil {
		return fmt.Errorf("bundle %s: %w", dir, err)
	}
	defer func() {
		if err := f.Close(); err != nil && retErr == nil {
			retErr = fmt.Errorf("bundle %s: %w", dir, err)
		}
		if retErr != nil {
			// Leave no half-written config behind.
			_ = os.Remove(path)
		}
	}()
	if _, err := f.Write(append(data, '\n')); err != nil {
		return fmt.Errorf("bundle %s: %w", dir, err)
	}
	return nil
}
