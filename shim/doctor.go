package shim

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/hardened-runtime/hardened/internal/doctor"
)

func doctorCommand() *cli.Command {
	return &cli.Command{
		Name:      "doctor",
		Usage:     "check that this host can run hardened containers, with a fix for each problem",
		ArgsUsage: " ",
		Description: `The doctor command checks the kernel features hardened uses (user
namespaces, seccomp, mount_setattr and idmapped mounts on each filesystem
engines keep containers on), the cgroup version and driver, AppArmor and
SELinux, whether Docker and containerd have hardened registered, whether the
policy is valid, and the user-namespace ID pool: how much of it is free and
whether it overlaps the /etc/subuid ranges of other users (kubelet, podman
users, dockremap). Each failed check comes with a one-line fix. The exit
status is 1 when a check failed.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "output format: table or json"},
		},
		Action: func(c *cli.Context) error {
			if err := checkArgs(c, 0, 0); err != nil {
				return err
			}
			format := c.String("format")
			if format != "table" && format != "json" {
				return fmt.Errorf("--format %q: use table or json", format)
			}
			self, _ := os.Executable()
			if r, err := filepath.EvalSymlinks(self); err == nil {
				self = r
			}
			pol, polPath, polErr := loadPolicy(c)
			checks := doctor.Run(doctor.HostPaths(self), pol, polPath, polErr)
			if err := doctor.Write(c.App.Writer, format, checks); err != nil {
				return err
			}
			for _, ch := range checks {
				if ch.Status == doctor.Fail {
					return exitWith(1)
				}
			}
			return nil
		},
	}
}
