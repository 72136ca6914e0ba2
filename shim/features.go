package shim

import (
	"github.com/urfave/cli/v2"

	"github.com/hardened-runtime/hardened/internal/features"
)

func featuresCommand() *cli.Command {
	return &cli.Command{
		Name:      "features",
		Usage:     "print the runtime's features as JSON",
		ArgsUsage: " ",
		Description: `The features command prints what this runtime supports, as the OCI
runtime-spec features document (features.md) that containerd and dockerd
read: spec versions, hooks, mount options, namespaces, capabilities,
cgroup drivers, seccomp, LSMs and mount extensions.

A feature is listed when the embedded libcontainer implements it; for
idmapped mounts the kernel must also provide mount_setattr(2). The
hardening policy may still refuse a configuration that uses a listed
feature.`,
		Action: func(c *cli.Context) error {
			if err := checkArgs(c, 0, 0); err != nil {
				return err
			}
			return writeJSON(c.App.Writer, features.Runtime(c.App.Version, features.GatherHost()), "    ")
		},
	}
}
