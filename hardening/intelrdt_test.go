package hardening

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestRefuseRdtClasses(t *testing.T) {
	rdt := func(closID string) func(*specs.Spec) {
		return func(s *specs.Spec) {
			s.Linux.IntelRdt = &specs.LinuxIntelRdt{ClosID: closID, Schemata: []string{"L3:0=f"}}
		}
	}
	allow := func(c ...string) func(*Policy) { return func(p *Policy) { p.AllowRdtClasses = c } }
	runRefusalCases(t, RuleIntelRdt, RefuseRdtClasses, []refusalCase{
		{name: "none"},
		{name: "the container's own group", tweak: rdt("")},
		{name: "the root group", tweak: rdt("/"),
			want: []string{`linux.intelRdt.closID "/" names a resctrl group the container would join and write the schemata of / "allowRdtClasses": ["/"]`}},
		{name: "a host class", tweak: rdt("gold"), want: []string{`"allowRdtClasses": ["gold"]`}},
		{name: "an allowed class", tweak: rdt("gold"), pol: allow("gold")},
		{name: "another class than the allowed one", tweak: rdt("silver"), pol: allow("gold"), want: []string{`closID "silver"`}},
	})
}

func TestPolicyAllowRdtClasses(t *testing.T) {
	for _, tc := range []struct {
		policy string
		ok     bool
	}{
		{`{"allowRdtClasses": ["gold", "/"]}`, true},
		{`{"allowRdtClasses": ["a/b"]}`, false},
		{`{"allowRdtClasses": [".."]}`, false},
	} {
		if _, err := ParsePolicy("test", []byte(tc.policy)); (err == nil) != tc.ok {
			t.Errorf("%s: err %v, want ok %v", tc.policy, err, tc.ok)
		}
	}
}
