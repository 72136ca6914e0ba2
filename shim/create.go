package shim

import (
	"github.com/urfave/cli/v2"
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
			opts.detach, opts.keep, opts.start = true, true, startOnly
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
func launchOptionsFrom(c *cli.Context) launchOptions {
	return launchOptions{
		id:            c.Args().First(),
		bundle:        bundleFlag(c),
		consoleSocket: c.String("console-socket"),
		pidFile:       c.String("pid-file"),
		preserveFDs:   c.Int("preserve-fds"),
		noPivot:       c.Bool("no-pivot"),
		noNewKeyring:  c.Bool("no-new-keyring"),
		pidfdSocket:   c.String("pidfd-socket"),
		listenFDs:     listenFiles(),
	}
}

// bundleFlag returns --bundle, defaulting to the current directory.
func bundleFlag(c *cli.Context) string {
	if b := c.String("bundle"); b != "" {
		return b
	}
	return "."
}
