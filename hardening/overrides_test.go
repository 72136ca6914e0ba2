package hardening

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestOverrideWarnings: explicit requests the policy overrides warn;
// the engines' defaults do not.
func TestOverrideWarnings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		tweak func(*specs.Spec)
		want  []string // substrings, one per warning
	}{
		{"docker defaults", nil, nil},
		{"cap-add SYS_ADMIN and NET_ADMIN", func(s *specs.Spec) {
			s.Process.Capabilities.Bounding = append(s.Process.Capabilities.Bounding, "CAP_SYS_ADMIN", "CAP_NET_ADMIN")
		}, []string{`requested CAP_SYS_ADMIN, CAP_NET_ADMIN dropped: beyond level baseline (allow with "allowCapabilities": ["CAP_SYS_ADMIN", "CAP_NET_ADMIN"])`}},
		{"seccomp unconfined", func(s *specs.Spec) { s.Linux.Seccomp = nil }, []string{"seccomp unconfined requested"}},
		{"allow-all profile without rules", func(s *specs.Spec) {
			s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow}
		}, []string{"seccomp unconfined requested"}},
		{"deny-list profile", func(s *specs.Spec) {
			s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActErrno}}}
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := dockerSpec(t)
			if tt.tweak != nil {
				tt.tweak(s)
			}
			rep, err := Harden(s, DefaultPolicy(), dockerFacts())
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Warnings) != len(tt.want) {
				t.Fatalf("warnings %+v, want %q", rep.Warnings, tt.want)
			}
			for i, w := range tt.want {
				if !strings.Contains(rep.Warnings[i].Message, w) {
					t.Errorf("warning %q lacks %q", rep.Warnings[i].Message, w)
				}
			}
		})
	}
}

// TestCallerDenialsKept: a caller's deny-list profile is intersected with
// Docker's: its denials stay, Docker's stay, nothing is widened.
func TestCallerDenialsKept(t *testing.T) {
	t.Parallel()
	s := dockerSpec(t)
	s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
		{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno},
		{Names: []string{"mount"}, Action: specs.ActAllow},
	}}
	if _, err := Harden(s, DefaultPolicy(), dockerFacts()); err != nil {
		t.Fatal(err)
	}
	p := s.Linux.Seccomp
	if !SeccompBlocks(p) {
		t.Fatalf("default action %s, want a blocking one", p.DefaultAction)
	}
	for _, name := range []string{"mkdir", "mkdirat", "mount", "bpf"} {
		for _, rule := range p.Syscalls {
			if rule.Action == specs.ActAllow && len(rule.Args) == 0 && containsName(rule.Names, name) {
				t.Errorf("%s allowed by %+v", name, rule)
			}
		}
	}
	denied := false
	for _, rule := range p.Syscalls {
		if rule.Action == specs.ActErrno && containsName(rule.Names, "mkdir") && containsName(rule.Names, "mkdirat") {
			denied = true
		}
	}
	if !denied {
		t.Error("the caller's mkdir denial was lost")
	}
	allowsRead := false
	for _, rule := range p.Syscalls {
		if rule.Action == specs.ActAllow && containsName(rule.Names, "read") {
			allowsRead = true
		}
	}
	if !allowsRead {
		t.Error("Docker's allow rules were lost")
	}
}

func containsName(names []string, n string) bool {
	for _, x := range names {
		if x == n {
			return true
		}
	}
	return false
}
