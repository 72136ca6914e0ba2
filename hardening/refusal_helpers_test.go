package hardening

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// refusalCase is one tweak of a base spec and the refusal reasons it must
// produce (substrings, in order), none meaning it must pass.
type refusalCase struct {
	name  string
	base  func(testing.TB) *specs.Spec
	pol   func(*Policy)
	facts HostFacts
	tweak func(*specs.Spec)
	want  []string
}

func example(testing.TB) *specs.Spec { return exampleSpec() }

// runRefusalCases runs every case through rule and checks the refusals
// exactly, and that the rule left the spec unmodified.
func runRefusalCases(t *testing.T, ruleID string, rule Func, cases []refusalCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			base := tc.base
			if base == nil {
				base = example
			}
			s := base(t)
			if tc.tweak != nil {
				tc.tweak(s)
			}
			pol := DefaultPolicy()
			if tc.pol != nil {
				tc.pol(pol)
			}
			before, _ := copySpec(s)
			rep := &Report{}
			if err := rule(s, pol, tc.facts, rep); err != nil {
				t.Fatal(err)
			}
			if string(jsonValue(before)) != string(jsonValue(s)) {
				t.Error("refusal rule modified the spec")
			}
			if len(rep.Refusals) != len(tc.want) {
				t.Fatalf("refusals %+v, want %d: %q", rep.Refusals, len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				f := rep.Refusals[i]
				if f.Rule != ruleID || !strings.Contains(f.Reason+" / "+f.Allow, w) {
					t.Errorf("refusal %d = %s: %q / %s, want rule %s containing %q", i, f.Rule, f.Reason, f.Allow, ruleID, w)
				}
			}
		})
	}
}
