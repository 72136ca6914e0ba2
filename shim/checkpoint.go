package shim

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/utils"
	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"

	"github.com/hardened-runtime/hardened/hardening"
	"github.com/hardened-runtime/hardened/internal/criu"
)

func checkpointCommand() *cli.Command {
	return &cli.Command{
		Name:      "checkpoint",
		Usage:     "save a running container's state to disk with CRIU",
		ArgsUsage: "<container-id>",
		Description: `The checkpoint command saves the processes of a running or paused container
into CRIU image files (default: ./checkpoint). The container is removed
afterwards unless --leave-running or --pre-dump is given. It needs the
criu program (the global --criu flag, default "criu" from PATH).

EXAMPLE:
       # hardened checkpoint --image-path /var/lib/ckpt/web1 web1
       # hardened restore --image-path /var/lib/ckpt/web1 --bundle /srv/web1 --detach web1`,
		Flags: append(criuSharedFlags(),
			&cli.StringFlag{Name: "parent-path", Usage: "previous (pre-dump) images, relative to --image-path"},
			&cli.BoolFlag{Name: "leave-running", Usage: "keep the container running after the checkpoint"},
			&cli.BoolFlag{Name: "pre-dump", Usage: "dump memory only and leave the container running (for iterative migration)"},
			&cli.BoolFlag{Name: "tcp-skip-in-flight", Usage: "skip TCP connections that are still being set up"},
			&cli.BoolFlag{Name: "link-remap", Usage: "link deleted but open files back so they can be saved"},
			&cli.StringFlag{Name: "page-server", Usage: "ADDRESS:PORT of a CRIU page server to send memory pages to"},
		),
		Action: func(c *cli.Context) error {
			if err := checkArgs(c, 1, 1); err != nil {
				return err
			}
			ct, err := loadContainer(c)
			if err != nil {
				return err
			}
			// The annotations first: CRIU must not read a configuration
			// file the policy refuses now, whatever create allowed.
			pol, _, err := containerPolicy(c, ct)
			if err != nil {
				return err
			}
			_, annotations := utils.Annotations(ct.Config().Labels)
			if err := hardening.CheckCheckpointAnnotations(annotations, pol); err != nil {
				return fmt.Errorf("container %s: checkpoint: %w", ct.ID(), err)
			}
			if err := requireCriu(c, "checkpoint"); err != nil {
				return fmt.Errorf("container %s: %w", ct.ID(), err)
			}
			if err := checkpoint(c, ct); err != nil {
				return fmt.Errorf("container %s: %w", ct.ID(), err)
			}
			return nil
		},
	}
}

func checkpoint(c *cli.Context, ct *libcontainer.Container) error {
	status, err := ct.Status()
	if err != nil {
		return err
	}
	if status != libcontainer.Running && status != libcontainer.Paused {
		return fmt.Errorf("cannot checkpoint a %s container; it must be running or paused", status)
	}
	opts, err := criuOptions(c)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(opts.ImagesDirectory, 0o700); err != nil {
		return fmt.Errorf("--image-path: %w", err)
	}
	if opts.ParentImage, err = criu.ParentImage(opts.ImagesDirectory, c.String("parent-path")); err != nil {
		return err
	}
	opts.LeaveRunning = c.Bool("leave-running")
	opts.PreDump = c.Bool("pre-dump")
	opts.TcpSkipInFlight = c.Bool("tcp-skip-in-flight")
	opts.LinkRemap = c.Bool("link-remap")
	if opts.PageServer, err = criu.PageServer(c.String("page-server")); err != nil {
		return err
	}
	if err := ct.Checkpoint(opts); err != nil {
		return fmt.Errorf("checkpoint (criu logs in %s): %w", criuLogDir(opts), err)
	}
	if opts.LeaveRunning || opts.PreDump {
		return nil
	}
	// CRIU has stopped the processes; the container is gone but for its state.
	if err := ct.Destroy(); err != nil {
		logrus.Warnf("container %s: removing after checkpoint: %v", ct.ID(), err)
	}
	return nil
}

// criuSharedFlags are the CRIU flags checkpoint and restore both take.
func criuSharedFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "image-path", Usage: "directory of the CRIU image files (default: ./checkpoint)"},
		&cli.StringFlag{Name: "work-path", Usage: "directory for CRIU's logs and work files (default: --image-path)"},
		&cli.BoolFlag{Name: "tcp-established", Usage: "save and restore established TCP connections"},
		&cli.BoolFlag{Name: "ext-unix-sk", Usage: "allow unix sockets connected to peers outside the container"},
		&cli.BoolFlag{Name: "shell-job", Usage: "allow a process attached to a shell's terminal (a shell job)"},
		&cli.BoolFlag{Name: "file-locks", Usage: "save and restore file locks"},
		&cli.StringFlag{Name: "manage-cgroups-mode", Usage: "how CRIU handles cgroups: soft, full, strict or ignore (default: soft)"},
		&cli.StringSliceFlag{Name: "empty-ns", Usage: "namespace to create empty rather than restore (only \"network\")"},
		&cli.BoolFlag{Name: "auto-dedup", Usage: "deduplicate memory pages against the parent images"},
	}
}

// criuOptions builds the options checkpoint and restore share.
func criuOptions(c *cli.Context) (*libcontainer.CriuOpts, error) {
	images := c.String("image-path")
	if images == "" {
		cwd, err := os.Getwd()
		if err != nil {
			return nil, fmt.Errorf("default --image-path: %w", err)
		}
		images = filepath.Join(cwd, "checkpoint")
	}
	images, err := filepath.Abs(images)
	if err != nil {
		return nil, fmt.Errorf("--image-path: %w", err)
	}
	emptyNs, err := criu.EmptyNamespaces(c.StringSlice("empty-ns"))
	if err != nil {
		return nil, err
	}
	return &libcontainer.CriuOpts{
		ImagesDirectory:         images,
		WorkDirectory:           c.String("work-path"),
		TcpEstablished:          c.Bool("tcp-established"),
		ExternalUnixConnections: c.Bool("ext-unix-sk"),
		ShellJob:                c.Bool("shell-job"),
		FileLocks:               c.Bool("file-locks"),
		ManageCgroupsMode:       c.String("manage-cgroups-mode"),
		EmptyNs:                 emptyNs,
		AutoDedup:               c.Bool("auto-dedup"),
		StatusFd:                -1,
	}, nil
}

func criuLogDir(opts *libcontainer.CriuOpts) string {
	if opts.WorkDirectory != "" {
		return opts.WorkDirectory
	}
	return opts.ImagesDirectory
}

// requireCriu makes sure the criu named by the global --criu flag exists
// and is the one libcontainer will run (criu.Ensure).
func requireCriu(c *cli.Context, command string) error {
	return criu.Ensure(c.String("criu"), command)
}
