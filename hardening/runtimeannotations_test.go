package hardening

import (
	"errors"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestRefuseRuntimeAnnotations(t *testing.T) {
	annotate := func(kv ...string) func(*specs.Spec) {
		return func(s *specs.Spec) {
			s.Annotations = map[string]string{}
			for i := 0; i+1 < len(kv); i += 2 {
				s.Annotations[kv[i]] = kv[i+1]
			}
		}
	}
	allow := func(keys ...string) func(*Policy) {
		return func(p *Policy) { p.AllowRuntimeAnnotations = keys }
	}
	runRefusalCases(t, RuleRuntimeAnnotations, RefuseRuntimeAnnotations, []refusalCase{
		{name: "none"},
		{name: "ordinary annotations", tweak: annotate("io.kubernetes.pod.name", "x", "org.opencontainers.image.title", "y")},
		{name: "empty criu config means none", tweak: annotate("org.criu.config", "")},
		{name: "criu config", tweak: annotate("org.criu.config", "/srv/vol/criu.conf"),
			want: []string{`annotation org.criu.config makes CRIU read a configuration file as host root at checkpoint and restore / "allowRuntimeAnnotations": ["org.criu.config"]`}},
		{name: "systemd properties, sorted", tweak: annotate("org.systemd.property.TasksMax", "uint64 1", "org.systemd.property.DeviceAllow", "x"),
			want: []string{`annotation org.systemd.property.DeviceAllow sets a property`, `org.systemd.property.TasksMax`}},
		{name: "bare prefix", tweak: annotate("org.systemd.property.", "x"), want: []string{`annotation org.systemd.property. `}},
		{name: "allowed", tweak: annotate("org.systemd.property.TimeoutStopSec", "10"), pol: allow("org.systemd.property.TimeoutStopSec")},
		{name: "another property than the allowed one", tweak: annotate("org.systemd.property.TimeoutStopSec", "10", "org.systemd.property.Delegate", "true"),
			pol: allow("org.systemd.property.TimeoutStopSec"), want: []string{`org.systemd.property.Delegate`}},
	})
}

func TestPolicyAllowRuntimeAnnotations(t *testing.T) {
	for _, tc := range []struct {
		policy string
		ok     bool
	}{
		{`{"allowRuntimeAnnotations": ["org.criu.config", "org.systemd.property.TimeoutStopSec"]}`, true},
		{`{"allowRuntimeAnnotations": ["org.systemd.property."]}`, false},
		{`{"allowRuntimeAnnotations": ["io.kubernetes.pod.name"]}`, false},
	} {
		_, err := ParsePolicy("test", []byte(tc.policy))
		if (err == nil) != tc.ok {
			t.Errorf("%s: err %v, want ok %v", tc.policy, err, tc.ok)
		}
	}
}

func TestCheckCheckpointAnnotations(t *testing.T) {
	ann := map[string]string{"org.criu.config": "/srv/criu.conf"}
	if err := CheckCheckpointAnnotations(ann, DefaultPolicy()); !errors.Is(err, ErrRefused) {
		t.Errorf("enforce: %v, want a refusal", err)
	}
	allowing := DefaultPolicy()
	allowing.AllowRuntimeAnnotations = []string{"org.criu.config"}
	if err := CheckCheckpointAnnotations(ann, allowing); err != nil {
		t.Errorf("allowed: %v", err)
	}
	audit := DefaultPolicy()
	audit.Mode = ModeAudit
	if err := CheckCheckpointAnnotations(ann, audit); err != nil {
		t.Errorf("audit: %v", err)
	}
	if err := CheckCheckpointAnnotations(map[string]string{"org.criu.config": ""}, DefaultPolicy()); err != nil {
		t.Errorf("empty value: %v", err)
	}
}
