package shim

import "github.com/urfave/cli/v2"

func policyCommand() *cli.Command {
	return &cli.Command{
		Name:      "policy",
		Usage:     "print the effective hardening policy as JSON",
		ArgsUsage: " ",
		Description: `The policy command prints the policy in force: the file named by --policy
or HARDENED_POLICY, else /etc/hardened/policy.json, with every key the file
leaves out filled in from the built-in default. Without a file it prints
the default.`,
		Action: func(c *cli.Context) error {
			if err := checkArgs(c, 0, 0); err != nil {
				return err
			}
			pol, _, err := loadPolicy(c)
			if err != nil {
				return err
			}
			return writeJSON(c.App.Writer, pol, "  ")
		},
	}
}
