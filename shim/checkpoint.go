package shim

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"
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
			if err := requireCriu(c, "checkpoint"); err != nil {
				return fmt.Errorf("container %s: %w", c.Args().First(), err)
			}
			ct, err := loadContainer(c)
			if err != nil {
				return err
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
	if opts.ParentImage, err = parentImage(opts.ImagesDirectory, c.String("parent-path")); err != nil {
		return err
	}
	opts.LeaveRunning = c.Bool("leave-running")
	opts.PreDump = c.Bool("pre-dump")
	opts.TcpSkipInFlight = c.Bool("tcp-skip-in-flight")
	opts.LinkRemap = c.Bool("link-remap")
	if opts.PageServer, err = pageServer(c.String("page-server")); err != nil {
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
	emptyNs, err := emptyNamespaces(c.StringSlice("empty-ns"))
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

// emptyNamespaces returns the namespaces CRIU creates without restoring
// their contents. The network namespace is always among them: the runtime
// does not configure networks, whoever created the container did.
func emptyNamespaces(names []string) (uint32, error) {
	mask := uint32(unix.CLONE_NEWNET)
	for _, n := range names {
		if n != "network" {
			return 0, fmt.Errorf("--empty-ns: namespace %q is not supported (only \"network\")", n)
		}
	}
	return mask, nil
}

// parentImage checks --parent-path, which CRIU resolves against the image
// directory.
func parentImage(images, parent string) (string, error) {
	if parent == "" {
		return "", nil
	}
	if filepath.IsAbs(parent) {
		return "", fmt.Errorf("--parent-path %q: must be relative to --image-path", parent)
	}
	fi, err := os.Stat(filepath.Join(images, parent))
	if err != nil {
		return "", fmt.Errorf("--parent-path: %w", err)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("--parent-path %q: not a directory", parent)
	}
	return parent, nil
}

// pageServer parses --page-server ADDRESS:PORT.
func pageServer(s string) (libcontainer.CriuPageServerInfo, error) {
	if s == "" {
		return libcontainer.CriuPageServerInfo{}, nil
	}
	host, port, err := net.SplitHostPort(s)
	if err == nil && host == "" {
		err = errors.New("missing address")
	}
	if err != nil {
		return libcontainer.CriuPageServerInfo{}, fmt.Errorf("--page-server %q: want ADDRESS:PORT: %w", s, err)
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return libcontainer.CriuPageServerInfo{}, fmt.Errorf("--page-server %q: invalid port %q", s, port)
	}
	return libcontainer.CriuPageServerInfo{Address: host, Port: int32(n)}, nil
}

func criuLogDir(opts *libcontainer.CriuOpts) string {
	if opts.WorkDirectory != "" {
		return opts.WorkDirectory
	}
	return opts.ImagesDirectory
}

// requireCriu makes sure the criu named by the global --criu flag exists
// and is the one libcontainer will run. libcontainer starts "criu" by
// that name from PATH, so a --criu elsewhere must be called "criu"; its
// directory then goes first in PATH.
func requireCriu(c *cli.Context, command string) error {
	return ensureCriu(c.String("criu"), command)
}

func ensureCriu(name, command string) error {
	if name == "" {
		name = "criu"
	}
	path, err := exec.LookPath(name)
	if err != nil {
		return fmt.Errorf("%s needs criu, which was not found at %q; install the criu package", command, name)
	}
	if filepath.Base(path) != "criu" {
		return fmt.Errorf("--criu %q: the criu binary must be named \"criu\" (it is run by that name from PATH)", name)
	}
	if found, err := exec.LookPath("criu"); err == nil && sameFile(found, path) {
		return nil
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("--criu %q: %w", name, err)
	}
	return os.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
}

func sameFile(a, b string) bool {
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	if err != nil {
		return false
	}
	return os.SameFile(fa, fb)
}
