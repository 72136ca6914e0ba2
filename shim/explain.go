package shim

import (
	"fmt"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/hardened-runtime/hardened/hardening"
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
			report, err := explain(bundle, pol, root)
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

// explain reports everything the policy would do to the bundle. An
// enforcing policy stops at the first refusal, so the rules are run in
// audit mode to list the changes too; the report keeps the real mode.
// root is the runtime root whose containers the bundle's namespace paths
// may belong to.
func explain(bundle *spec.Bundle, pol *hardening.Policy, root string) (*hardening.Report, error) {
	facts, err := hardening.GatherHostFacts(bundle.Dir, bundle.Spec, pol)
	if err != nil {
		return nil, err
	}
	hardening.GatherJoinFacts(root, bundle.Spec, &facts)
	hardening.GatherCgroupFacts(bundle.Spec, &facts)
	audit := *pol
	if audit.Mode == hardening.ModeEnforce {
		audit.Mode = hardening.ModeAudit
	}
	report, err := hardening.Harden(bundle.Spec, &audit, facts)
	if err != nil {
		return nil, fmt.Errorf("bundle %s: %w", bundle.Dir, err)
	}
	report.Mode = pol.Mode
	return report, nil
}
