package hardening

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestRefuseHooks(t *testing.T) {
	t.Parallel()
	docker := func(t testing.TB) *specs.Spec { return dockerSpec(t) }
	hooks := func(h specs.Hooks) func(*specs.Spec) { return func(s *specs.Spec) { s.Hooks = &h } }
	runRefusalCases(t, RuleHooks, RefuseHooks, []refusalCase{
		{name: "no hooks"},
		{name: "docker's setkey hook resolves to dockerd", base: docker, facts: dockerFacts()},
		{name: "docker's setkey hook without facts", base: docker,
			want: []string{`prestart hook /proc/4242/exe runs on the host as root / "allowedHooks": ["/proc/4242/exe"]`}},
		{name: "docker's setkey hook resolving elsewhere", base: docker,
			facts: HostFacts{HookPaths: map[string]string{"/proc/4242/exe": "/tmp/evil"}},
			want:  []string{`"allowedHooks": ["/tmp/evil"]`}},
		{name: "every stage", tweak: hooks(specs.Hooks{
			CreateRuntime:   []specs.Hook{{Path: "/bin/a"}},
			CreateContainer: []specs.Hook{{Path: "/bin/b"}},
			StartContainer:  []specs.Hook{{Path: "/bin/c"}},
			Poststart:       []specs.Hook{{Path: "/bin/d"}},
			Poststop:        []specs.Hook{{Path: "/bin/e"}},
		}), want: []string{"createRuntime hook /bin/a", "createContainer hook /bin/b", "startContainer hook /bin/c", "poststart hook /bin/d", "poststop hook /bin/e"}},
		{name: "allowed path", pol: func(p *Policy) { p.AllowedHooks = []string{"/usr/bin/nvidia-container-runtime-hook"} },
			tweak: hooks(specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/usr/bin/../bin/nvidia-container-runtime-hook"}}})},
		{name: "relative path never matches", pol: func(p *Policy) { p.AllowedHooks = []string{"/bin/true"} },
			tweak: hooks(specs.Hooks{Poststop: []specs.Hook{{Path: "bin/true"}}}), want: []string{"poststop hook bin/true"}},
	})
}
