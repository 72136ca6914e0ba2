package hardening

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func withoutNS(t specs.LinuxNamespaceType) func(*specs.Spec) {
	return func(s *specs.Spec) {
		var out []specs.LinuxNamespace
		for _, ns := range s.Linux.Namespaces {
			if ns.Type != t {
				out = append(out, ns)
			}
		}
		s.Linux.Namespaces = out
	}
}

func joinNS(t specs.LinuxNamespaceType, path string) func(*specs.Spec) {
	return func(s *specs.Spec) {
		withoutNS(t)(s)
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: t, Path: path})
	}
}

func TestRefuseHostNamespaces(t *testing.T) {
	t.Parallel()
	rule := RefuseHostNamespaces
	runRefusalCases(t, RuleHostNamespaces, rule, []refusalCase{
		{name: "runc example passes"},
		{name: "docker fixture passes", base: func(t testing.TB) *specs.Spec { return dockerSpec(t) }},
		{name: "host network", tweak: withoutNS(specs.NetworkNamespace), want: []string{`host network namespace / "allowHostNamespaces": ["network"]`}},
		{name: "host pid", tweak: withoutNS(specs.PIDNamespace), want: []string{"host pid namespace"}},
		{name: "host mount", tweak: withoutNS(specs.MountNamespace), want: []string{"host mount namespace"}},
		{name: "no linux section is every host namespace but cgroup", tweak: func(s *specs.Spec) { s.Linux = nil },
			want: []string{"host pid", "host network", "host ipc", "host uts", "host mount"}},
		{name: "host network allowed by policy", tweak: withoutNS(specs.NetworkNamespace),
			pol: func(p *Policy) { p.AllowHostNamespaces = []string{"network"} }},
		{name: "join of pid 1 network namespace", tweak: joinNS(specs.NetworkNamespace, "/proc/1/ns/net"),
			want: []string{"joins the host network namespace at /proc/1/ns/net"}},
		{name: "join of pid 1 via dot-dot", tweak: joinNS(specs.NetworkNamespace, "/proc/7/../1/ns/net"),
			want: []string{"joins the host network namespace"}},
		{name: "join of the runtime's own namespace", tweak: joinNS(specs.PIDNamespace, "/proc/self/ns/pid"),
			want: []string{"joins the host pid namespace"}},
		{name: "join of pid 1 user namespace", tweak: joinNS(specs.UserNamespace, "/proc/1/ns/user"),
			want: []string{`joins the host user namespace at /proc/1/ns/user / "allowHostNamespaces": ["user"]`}},
		{name: "join of another container's namespace", tweak: joinNS(specs.NetworkNamespace, "/proc/4711/ns/net")},
		{name: "join of a named netns", tweak: joinNS(specs.NetworkNamespace, "/var/run/netns/cni-1234")},
		{name: "missing user namespace is not refused", tweak: withoutNS(specs.UserNamespace)},
	})
}

func TestCgroupNamespace(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		allow   []string
		tweak   func(*specs.Spec)
		changes int
	}{
		{name: "runc example gains one", changes: 1},
		{name: "present stays", tweak: func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.CgroupNamespace, Path: "/proc/42/ns/cgroup"})
		}},
		{name: "allowed host cgroup namespace", allow: []string{"cgroup"}},
	} {
		s := exampleSpec()
		if tc.tweak != nil {
			tc.tweak(s)
		}
		pol := DefaultPolicy()
		pol.AllowHostNamespaces = tc.allow
		rep := &Report{}
		CgroupNamespace(s, pol, HostFacts{}, rep)
		n := 0
		for _, ns := range s.Linux.Namespaces {
			if ns.Type == specs.CgroupNamespace {
				n++
			}
		}
		wantN := 1
		if tc.allow != nil {
			wantN = 0
		}
		if n != wantN || len(rep.Changes) != tc.changes {
			t.Errorf("%s: %d cgroup namespaces, changes %v", tc.name, n, changedPaths(rep))
		}
	}
}
