package create

import (
	"fmt"

	"github.com/hardened-runtime/hardened/hardening"
	"github.com/hardened-runtime/hardened/spec"
)

// Explain reports everything the policy would do to the bundle, touching
// nothing: the facts and rules of Launch's harden step without staging. An
// enforcing policy stops at the first refusal, so the rules are run in
// audit mode to list the changes too; the report keeps the real mode.
// root is the runtime root whose containers the bundle's namespace paths
// may belong to.
func Explain(bundle *spec.Bundle, pol *hardening.Policy, root string) (*hardening.Report, error) {
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
