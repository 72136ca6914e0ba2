package hardening

import (
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestClampCapabilities(t *testing.T) {
	t.Parallel()
	docker14 := dockerSpec(t).Process.Capabilities.Bounding
	tests := []struct {
		name   string
		level  string
		allow  []string
		in     *specs.LinuxCapabilities
		want   *specs.LinuxCapabilities
		nPaths int
	}{
		{
			name:  "docker defaults clamped to baseline",
			level: LevelBaseline,
			in:    &specs.LinuxCapabilities{Bounding: docker14, Effective: docker14, Permitted: docker14, Inheritable: docker14},
			want: &specs.LinuxCapabilities{
				Bounding:  []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_SETGID", "CAP_SETUID", "CAP_NET_BIND_SERVICE", "CAP_KILL"},
				Effective: []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_SETGID", "CAP_SETUID", "CAP_NET_BIND_SERVICE", "CAP_KILL"},
				Permitted: []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_SETGID", "CAP_SETUID", "CAP_NET_BIND_SERVICE", "CAP_KILL"},
			},
			nPaths: 4,
		},
		{
			name:  "restricted keeps NET_BIND_SERVICE only",
			level: LevelRestricted,
			in:    &specs.LinuxCapabilities{Bounding: docker14, Effective: docker14, Permitted: docker14},
			want: &specs.LinuxCapabilities{
				Bounding: []string{"CAP_NET_BIND_SERVICE"}, Effective: []string{"CAP_NET_BIND_SERVICE"}, Permitted: []string{"CAP_NET_BIND_SERVICE"},
			},
			nPaths: 3,
		},
		{
			// Sneaky: dropping every other set is not enough, ambient
			// capabilities survive execve.
			name:   "caps only in ambient",
			level:  LevelBaseline,
			in:     &specs.LinuxCapabilities{Ambient: []string{"CAP_SYS_ADMIN", "CAP_CHOWN"}},
			want:   &specs.LinuxCapabilities{},
			nPaths: 1,
		},
		{
			name:   "missing section becomes empty, never full",
			level:  LevelBaseline,
			in:     nil,
			want:   &specs.LinuxCapabilities{},
			nPaths: 0,
		},
		{
			name:   "allowCapabilities adds to the list but grants nothing unasked",
			level:  LevelRestricted,
			allow:  []string{"CAP_NET_RAW", "CAP_SYS_TIME"},
			in:     &specs.LinuxCapabilities{Bounding: []string{"CAP_NET_RAW", "CAP_CHOWN"}},
			want:   &specs.LinuxCapabilities{Bounding: []string{"CAP_NET_RAW"}},
			nPaths: 1,
		},
		{
			name:   "lower-case names are not recognised and dropped",
			level:  LevelBaseline,
			in:     &specs.LinuxCapabilities{Bounding: []string{"cap_sys_admin", "CAP_KILL", "CAP_KILL"}},
			want:   &specs.LinuxCapabilities{Bounding: []string{"CAP_KILL"}},
			nPaths: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pol := DefaultPolicy()
			pol.Level = tc.level
			pol.AllowCapabilities = tc.allow
			p := &specs.Process{Capabilities: tc.in}
			rep := &Report{}
			ClampCapabilities(p, pol, HostFacts{}, rep)
			if !reflect.DeepEqual(p.Capabilities, tc.want) {
				t.Errorf("capabilities = %+v, want %+v", p.Capabilities, tc.want)
			}
			if len(rep.Changes) != tc.nPaths {
				t.Errorf("changes %v, want %d", changedPaths(rep), tc.nPaths)
			}
			for _, c := range rep.Changes {
				if c.Rule != RuleCapabilities {
					t.Errorf("change by %q", c.Rule)
				}
			}
		})
	}
}

func TestClampProcessExecPrivileged(t *testing.T) {
	t.Parallel()
	// `docker exec --privileged`: every capability, NNP off.
	all := []string{"CAP_SYS_ADMIN", "CAP_CHOWN", "CAP_NET_ADMIN", "CAP_SETUID"}
	p := &specs.Process{Args: []string{"sh"}, Capabilities: &specs.LinuxCapabilities{
		Bounding: all, Effective: all, Permitted: all, Inheritable: all, Ambient: all,
	}}
	rep, err := ClampProcess(p, DefaultPolicy(), HostFacts{})
	if err != nil {
		t.Fatal(err)
	}
	want := &specs.LinuxCapabilities{Bounding: []string{"CAP_CHOWN", "CAP_SETUID"}, Effective: []string{"CAP_CHOWN", "CAP_SETUID"}, Permitted: []string{"CAP_CHOWN", "CAP_SETUID"}}
	if !reflect.DeepEqual(p.Capabilities, want) || !p.NoNewPrivileges {
		t.Errorf("process = %+v nnp %v", p.Capabilities, p.NoNewPrivileges)
	}
	if got := len(rep.Changes); got != 6 {
		t.Errorf("changes = %v", changedPaths(rep))
	}

	audit := DefaultPolicy()
	audit.Mode = ModeAudit
	p2 := &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: all}}
	rep, err = ClampProcess(p2, audit, HostFacts{})
	if err != nil || len(p2.Capabilities.Bounding) != 4 || p2.NoNewPrivileges || len(rep.Changes) != 2 {
		t.Errorf("audit clamp modified the process or reported wrong: %+v %v", p2, changedPaths(rep))
	}
}

func TestSetNoNewPrivileges(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		in, want bool
		allow    bool
		changes  int
	}{
		{"off becomes on", false, true, false, 1},
		{"on stays on", true, true, false, 0},
		{"allowNewPrivileges keeps off", false, false, true, 0},
	} {
		pol := DefaultPolicy()
		pol.AllowNewPrivileges = tc.allow
		p := &specs.Process{NoNewPrivileges: tc.in}
		rep := &Report{}
		SetNoNewPrivileges(p, pol, HostFacts{}, rep)
		if p.NoNewPrivileges != tc.want || len(rep.Changes) != tc.changes {
			t.Errorf("%s: nnp %v changes %d", tc.name, p.NoNewPrivileges, len(rep.Changes))
		}
	}
}
