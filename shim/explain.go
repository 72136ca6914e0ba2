package shim

import (
	"fmt"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/hardened-runtime/hardened/hardening"
	"github.com/hardened-runtime/hardened/internal/create"
	"github.com/hardened-runtime/hardened/spec"
)

func explainCommand() *cli.Command {
	return &cli.Command{
		Name:      "explain",
		Usage:     "show what the policy would change in a bundle, and what it would refuse",
		ArgsUsage: "<bundle>",
		Description: `The explain command runs the host's policy over a bundle's config.json
without touching anything and prints every change and every refusal. It
exits 0 when the bundle would run and 1 when it would be refused, so CI can
check a workload before it is deployed. Namespace paths the bundle joins
are judged against the containers of --root (the engine's root).

EXAMPLE:
       # hardened --policy ./policy.json explain --format json ./bundle`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "text", Usage: "text or json"},
		},
		Action: func(c *cli.Context) error {
			if err := checkArgs(c, 1, 1); err != nil {
				return err
			}
			format := c.String("format")
			if format != "text" && format != "json" {
				return fmt.Errorf("explain: unknown --format %q: use text or json", format)
			}
			pol, path, err := loadPolicy(c)
			if err != nil {
				return err
			}
			bundle, err := spec.LoadBundleLimit(c.Args().First(), pol.MaxConfigSize)
			if err != nil {
				return err
			}
			root, err := filepath.Abs(c.String("root"))
			if err != nil {
				return err
			}
			report, err := create.Explain(bundle, pol, root)
			if err != nil {
				return err
			}
			if format == "json" {
				err = writeJSON(c.App.Writer, report, "  ")
			} else {
				fmt.Fprintf(c.App.Writer, "bundle %s, policy %s\n", bundle.Dir, path)
				err = report.WriteText(c.App.Writer)
			}
			if err != nil {
				return err
			}
			if report.Refused() && pol.Mode == hardening.ModeEnforce {
				return exitWith(1)
			}
			return nil
		},
	}
}
