package shim

import (
	"fmt"
	"os"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/urfave/cli/v2"

	"github.com/hardened-runtime/hardened/internal/create"
)

func restoreCommand() *cli.Command {
	return &cli.Command{
		Name:      "restore",
		Usage:     "restore a container from a CRIU checkpoint",
		ArgsUsage: "<container-id>",
		Description: `The restore command creates a container from a bundle, exactly as "create"
does (the bundle's config.json is hardened by the host's policy first),
then restores the processes saved by "hardened checkpoint" into it instead
of starting a new one. In the foreground it waits for the restored init,
exits with its status and removes the container; --detach returns at once.`,
		Flags: append(criuSharedFlags(),
			&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Usage: "path to the bundle directory (default: current directory)"},
			&cli.StringFlag{Name: "console-socket", Usage: "unix socket that receives the pseudoterminal master of a terminal container"},
			&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "detach from the restored process"},
			&cli.StringFlag{Name: "pid-file", Usage: "file to write the restored init's PID to"},
			&cli.BoolFlag{Name: "no-subreaper", Usage: "do not reap the container's orphaned processes"},
			&cli.BoolFlag{Name: "no-pivot", Usage: "do not use pivot_root to jail the process (unsafe; for ramdisk rootfs)"},
			&cli.StringFlag{Name: "lsm-profile", Usage: "LSM profile for the restored processes, as TYPE:NAME"},
			&cli.StringFlag{Name: "lsm-mount-context", Usage: "LSM mount context for the restored container"},
		),
		Action: func(c *cli.Context) error {
			if err := checkArgs(c, 1, 1); err != nil {
				return err
			}
			id := c.Args().First()
			if err := requireCriu(c, "restore"); err != nil {
				return wrapFailure("restore", fmt.Errorf("container %s: %w", id, err))
			}
			opts, err := restoreOptions(c)
			if err != nil {
				return wrapFailure("restore", fmt.Errorf("container %s: %w", id, err))
			}
			status, err := launch(c, create.Options{
				ID:            id,
				Bundle:        bundleFlag(c),
				ConsoleSocket: c.String("console-socket"),
				PidFile:       c.String("pid-file"),
				NoPivot:       c.Bool("no-pivot"),
				Detach:        c.Bool("detach"),
				NoSubreaper:   c.Bool("no-subreaper"),
				// Like runc's restore there is no --keep: a failed restore
				// leaves nothing behind, and a detached one stays.
				Keep:    false,
				Restore: true,
				Start: func(_ string, ct *libcontainer.Container, p *libcontainer.Process) error {
					if err := ct.Restore(p, opts); err != nil {
						return fmt.Errorf("restore (criu logs in %s): %w", criuLogDir(opts), err)
					}
					return nil
				},
			})
			if err != nil {
				return wrapFailure("restore", err)
			}
			return exitWith(status)
		},
	}
}

// restoreOptions builds the CRIU options of a restore; the images must
// already be there.
func restoreOptions(c *cli.Context) (*libcontainer.CriuOpts, error) {
	opts, err := criuOptions(c)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(opts.ImagesDirectory)
	if err != nil {
		return nil, fmt.Errorf("--image-path: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("--image-path %s: not a directory", opts.ImagesDirectory)
	}
	opts.LsmProfile = c.String("lsm-profile")
	opts.LsmMountContext = c.String("lsm-mount-context")
	return opts, nil
}
