package shim

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/hardened-runtime/hardened/internal/create"
	"github.com/hardened-runtime/hardened/internal/runner"
	"github.com/hardened-runtime/hardened/spec"
)

func createCommand() *cli.Command {
	return &cli.Command{
		Name:      "create",
		Usage:     "create a container, hardened by the host's policy",
		ArgsUsage: "<container-id>",
		Description: `The create command creates an instance of a container from a bundle. The
bundle's config.json is first rewritten to satisfy the host's hardening
policy; what cannot be made safe is refused. The container's process waits
until "hardened start" runs it.`,
		Flags: launchFlags(),
		Action: func(c *cli.Context) error {
			if err := checkArgs(c, 1, 1); err != nil {
				return err
			}
			opts := launchOptionsFrom(c)
			opts.Detach, opts.Keep, opts.Start = true, true, create.StartOnly
			_, err := launch(c, opts)
			return wrapFailure("create", err)
		},
	}
}

// launchFlags are the flags create and run share.
func launchFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Usage: "path to the bundle directory (default: current directory)"},
		&cli.StringFlag{Name: "console-socket", Usage: "unix socket that receives the pseudoterminal master of a detached terminal container"},
		&cli.StringFlag{Name: "pid-file", Usage: "file to write the container's init PID to"},
		&cli.BoolFlag{Name: "no-pivot", Usage: "do not use pivot_root to jail the process (unsafe; for ramdisk rootfs)"},
		&cli.BoolFlag{Name: "no-new-keyring", Usage: "do not create a new session keyring for the container"},
		&cli.IntFlag{Name: "preserve-fds", Usage: "pass N additional file descriptors to the container (after fd 3 and the LISTEN_FDS ones)"},
		&cli.StringFlag{Name: "pidfd-socket", Usage: "unix socket that receives a pidfd of the container's init"},
	}
}

// launchOptionsFrom reads the flags of launchFlags.
func launchOptionsFrom(c *cli.Context) create.Options {
	return create.Options{
		ID:            c.Args().First(),
		Bundle:        bundleFlag(c),
		ConsoleSocket: c.String("console-socket"),
		PidFile:       c.String("pid-file"),
		PreserveFDs:   c.Int("preserve-fds"),
		NoPivot:       c.Bool("no-pivot"),
		NoNewKeyring:  c.Bool("no-new-keyring"),
		PidfdSocket:   c.String("pidfd-socket"),
		ListenFDs:     runner.ListenFiles(),
	}
}

// launch completes opts with the global flags and the environment and
// hands them to the create pipeline (create.Launch), which create, run
// and restore share.
func launch(c *cli.Context, opts create.Options) (int, error) {
	if err := spec.ValidateID(opts.ID); err != nil {
		return -1, err
	}
	root, err := stateRoot(c)
	if err != nil {
		return -1, err
	}
	opts.Root = root
	opts.PolicyPath = c.String("policy")
	if opts.PolicyPath == "" {
		opts.PolicyPath = defaultPolicyPath
	}
	opts.SystemdCgroup = c.Bool("systemd-cgroup")
	if opts.RootlessCgroups, err = rootlessCgroups(c); err != nil {
		return -1, fmt.Errorf("container %s: %w", opts.ID, err)
	}
	build, _ := c.App.Metadata[buildInfoKey].(BuildInfo)
	opts.Build = build.Version + "+" + build.Commit
	opts.WarnAuditFindings = loggingToStderr()
	opts.NotifySocket = os.Getenv("NOTIFY_SOCKET")
	opts.LogPath, opts.LogJSON = c.String("log"), c.String("log-format") == "json"
	return create.Launch(opts)
}

// bundleFlag returns --bundle, defaulting to the current directory.
func bundleFlag(c *cli.Context) string {
	if b := c.String("bundle"); b != "" {
		return b
	}
	return "."
}

// rootlessCgroups interprets --rootless: true, false, or auto (rootless
// only when not running as root).
func rootlessCgroups(c *cli.Context) (bool, error) {
	switch v := c.String("rootless"); v {
	case "true":
		return true, nil
	case "false":
		return false, nil
	case "", "auto":
		return os.Geteuid() != 0, nil
	default:
		return false, fmt.Errorf("--rootless: %q is not true, false or auto", v)
	}
}
