package hardening

//lint:file-ignore SA1019 the tests set Hooks.Prestart, deprecated but still run by runc and checked by the hooks rule.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestRefuseHooks(t *testing.T) {
	t.Parallel()
	docker := func(t testing.TB) *specs.Spec { return dockerSpec(t) }
	hooks := func(h specs.Hooks) func(*specs.Spec) { return func(s *specs.Spec) { s.Hooks = &h } }
	setkey := func(tweak func(h *specs.Hook)) func(*specs.Spec) {
		return func(s *specs.Spec) { tweak(&s.Hooks.Prestart[0]) } //nolint:staticcheck // Docker's stage
	}
	const id64 = "92281a44cc692ce594151300516f007fbdf6d8667a454623990f9cdcdd23cb6b"
	nvidia := HookAllowance{Path: "/usr/bin/nvidia-container-runtime-hook", Args: []string{"nvidia-container-runtime-hook", "prestart"}}
	runRefusalCases(t, RuleHooks, RefuseHooks, []refusalCase{
		{name: "no hooks"},
		{name: "docker's setkey hook resolves to dockerd", base: docker, facts: dockerFacts()},
		{name: "docker 28's setkey hook: 64-hex id, TRACEPARENT", base: docker, facts: dockerFacts(), tweak: setkey(func(h *specs.Hook) {
			h.Args = []string{"libnetwork-setkey", "-exec-root=/run/docker", id64, "0bf16d27a1b4"}
			h.Env = []string{"TRACEPARENT=00-5ebf70084575ef7986a74f21e4a018db-df514d71c49d34e1-01"}
		})},
		{name: "docker's setkey hook without facts", base: docker,
			want: []string{`prestart hook /proc/4242/exe runs on the host as root and does not resolve to a binary on the host / `}},
		{name: "docker's setkey hook resolving elsewhere", base: docker,
			facts: HostFacts{HookPaths: map[string]string{"/proc/4242/exe": "/tmp/evil"}},
			want:  []string{`"allowedHooks": [{"path":"/tmp/evil"`}},
		{name: "dockerd with a daemon's args", base: docker, facts: dockerFacts(), tweak: setkey(func(h *specs.Hook) {
			h.Args = []string{"dockerd", "--data-root=/tmp/x", "-H", "unix:///tmp/x.sock"}
		}), want: []string{`prestart hook /proc/4242/exe (/usr/sbin/dockerd) runs with args ["dockerd","--data-root=/tmp/x","-H","unix:///tmp/x.sock"], which no "allowedHooks" entry for /usr/sbin/dockerd allows`}},
		{name: "dockerd setkey with an extra arg", base: docker, facts: dockerFacts(), tweak: setkey(func(h *specs.Hook) {
			h.Args = append(h.Args, "--debug")
		}), want: []string{"which no \"allowedHooks\" entry"}},
		{name: "dockerd setkey with a flag as the container id", base: docker, facts: dockerFacts(), tweak: setkey(func(h *specs.Hook) {
			h.Args[2] = "-exec-root=/tmp"
		}), want: []string{"which no \"allowedHooks\" entry"}},
		{name: "dockerd setkey with a relative exec root", base: docker, facts: dockerFacts(), tweak: setkey(func(h *specs.Hook) {
			h.Args[1] = "-exec-root=run/docker"
		}), want: []string{"which no \"allowedHooks\" entry"}},
		{name: "dockerd without args", base: docker, facts: dockerFacts(), tweak: setkey(func(h *specs.Hook) { h.Args = nil }),
			want: []string{`runs with args [], which no "allowedHooks" entry for /usr/sbin/dockerd allows / "allowedHooks": ["/usr/sbin/dockerd"]`}},
		{name: "LD_PRELOAD", base: docker, facts: dockerFacts(), tweak: setkey(func(h *specs.Hook) { h.Env = []string{"LD_PRELOAD=/bundle/evil.so"} }),
			want: []string{`sets LD_PRELOAD, which changes what the binary loads or runs / "allowedHooks": [{"path":"/usr/sbin/dockerd","args":["libnetwork-setkey","-exec-root={path}","{id}","{hex}"],"env":["LD_PRELOAD"]}]`}},
		{name: "GCONV_PATH and LD_LIBRARY_PATH", base: docker, facts: dockerFacts(), tweak: setkey(func(h *specs.Hook) {
			h.Env = []string{"PATH=/usr/bin", "GCONV_PATH=/tmp", "LD_LIBRARY_PATH=/tmp"}
		}), want: []string{"sets GCONV_PATH", "sets LD_LIBRARY_PATH"}},
		{name: "env listed by the entry", facts: HostFacts{HookPaths: map[string]string{nvidia.Path: nvidia.Path}},
			pol: func(p *Policy) {
				a := nvidia
				a.Env = []string{"LD_LIBRARY_PATH", "MALLOC_*"}
				p.AllowedHooks = []HookAllowance{a}
			},
			tweak: hooks(specs.Hooks{Prestart: []specs.Hook{{Path: nvidia.Path, Args: nvidia.Args, Env: []string{"LD_LIBRARY_PATH=/usr/lib", "MALLOC_ARENA_MAX=2"}}}})},
		{name: "unsafe binary", base: docker, facts: func() HostFacts {
			f := dockerFacts()
			f.HookBinaryProblems = map[string]string{"/usr/sbin/dockerd": "/usr/sbin is writable by group or others (mode 0777)"}
			return f
		}(), want: []string{"someone other than root could replace the binary: /usr/sbin is writable by group or others (mode 0777) / "}},
		{name: "every stage", facts: HostFacts{HookPaths: map[string]string{"/bin/a": "/bin/a", "/bin/b": "/bin/b", "/bin/c": "/bin/c", "/bin/d": "/bin/d", "/bin/e": "/bin/e"}}, tweak: hooks(specs.Hooks{
			CreateRuntime:   []specs.Hook{{Path: "/bin/a"}},
			CreateContainer: []specs.Hook{{Path: "/bin/b"}},
			StartContainer:  []specs.Hook{{Path: "/bin/c"}},
			Poststart:       []specs.Hook{{Path: "/bin/d"}},
			Poststop:        []specs.Hook{{Path: "/bin/e"}},
		}), want: []string{"createRuntime hook /bin/a", "createContainer hook /bin/b", "startContainer hook /bin/c", "poststart hook /bin/d", "poststop hook /bin/e"}},
		{name: "allowed plain path", pol: func(p *Policy) { p.AllowedHooks = []HookAllowance{{Path: "/usr/bin/nvidia-container-runtime-hook"}} },
			facts: HostFacts{HookPaths: map[string]string{"/usr/bin/../bin/nvidia-container-runtime-hook": "/usr/bin/nvidia-container-runtime-hook"}},
			tweak: hooks(specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/usr/bin/../bin/nvidia-container-runtime-hook", Args: []string{"nvidia-container-runtime-hook"}}}})},
		{name: "plain path takes no args", pol: func(p *Policy) { p.AllowedHooks = []HookAllowance{{Path: "/bin/sh"}} },
			facts: HostFacts{HookPaths: map[string]string{"/bin/sh": "/bin/sh"}},
			tweak: hooks(specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "id"}}}}),
			want:  []string{`createRuntime hook /bin/sh runs with args ["sh","-c","id"]`}},
		{name: "object entry with args", pol: func(p *Policy) { p.AllowedHooks = []HookAllowance{nvidia} },
			facts: HostFacts{HookPaths: map[string]string{nvidia.Path: nvidia.Path}},
			tweak: hooks(specs.Hooks{Prestart: []specs.Hook{{Path: nvidia.Path, Args: nvidia.Args}}})},
		{name: "object entry, other args", pol: func(p *Policy) { p.AllowedHooks = []HookAllowance{nvidia} },
			facts: HostFacts{HookPaths: map[string]string{nvidia.Path: nvidia.Path}},
			tweak: hooks(specs.Hooks{Prestart: []specs.Hook{{Path: nvidia.Path, Args: []string{"nvidia-container-runtime-hook", "poststop"}}}}),
			want:  []string{"which no \"allowedHooks\" entry"}},
		{name: "relative path never matches", pol: func(p *Policy) { p.AllowedHooks = []HookAllowance{{Path: "/bin/true"}} },
			tweak: hooks(specs.Hooks{Poststop: []specs.Hook{{Path: "bin/true"}}}), want: []string{"poststop hook bin/true: the path is not absolute"}},
		{name: "/proc/self/exe resolves to the runtime", facts: HostFacts{HookPaths: map[string]string{"/proc/self/exe": "/usr/bin/hardened"}},
			tweak: hooks(specs.Hooks{Prestart: []specs.Hook{{Path: "/proc/self/exe", Args: []string{"libnetwork-setkey", "-exec-root=/run/docker", "abc", "abc"}}}}),
			want:  []string{`prestart hook /proc/self/exe runs on the host as root / "allowedHooks": [{"path":"/usr/bin/hardened"`}},
	})
}

func TestHookArgsMatch(t *testing.T) {
	t.Parallel()
	setkey := HookAllowance{Path: "/usr/sbin/dockerd", Args: DockerSetkeyArgs()}
	plain := HookAllowance{Path: "/usr/bin/hook"}
	anyArg := HookAllowance{Path: "/bin/sh", Args: []string{"sh", "-c", "{any}"}}
	for _, tc := range []struct {
		entry HookAllowance
		args  []string
		want  bool
	}{
		{setkey, []string{"libnetwork-setkey", "-exec-root=/var/run/docker", "3f2a91c0d1e2", "c0ffee123456"}, true},
		{setkey, []string{"libnetwork-setkey", "-exec-root=/var/run/docker", "3f2a91c0d1e2", "C0FFEE"}, false},
		{setkey, []string{"libnetwork-setkey", "-exec-root=/var/run/docker", "3f2a91c0d1e2"}, false},
		{setkey, []string{"libnetwork-setkey", "-exec-root=/var/run/docker x", "3f2a91c0d1e2", "c0ffee"}, false},
		{setkey, []string{"libnetwork-setkey", "-exec-root=/var/run/docker\n", "3f2a91c0d1e2", "c0ffee"}, false},
		{setkey, []string{"libnetwork-setkeyX", "-exec-root=/var/run/docker", "3f2a91c0d1e2", "c0ffee"}, false},
		{plain, nil, true},
		{plain, []string{}, true},
		{plain, []string{"/usr/bin/hook"}, true},
		{plain, []string{"hook"}, true},
		{plain, []string{"other"}, false},
		{plain, []string{"hook", "x"}, false},
		{anyArg, []string{"sh", "-c", "echo hi; id\n"}, true},
		{anyArg, []string{"sh", "-c"}, false},
		{HookAllowance{Path: "/x", Args: []string{}}, nil, true},
		{HookAllowance{Path: "/x", Args: []string{}}, []string{"x"}, false},
		{HookAllowance{Path: "/x", Args: []string{"a.b*"}}, []string{"aXb*"}, false},
	} {
		if got := tc.entry.argsMatch(tc.args); got != tc.want {
			t.Errorf("%+v with %q: %v, want %v", tc.entry, tc.args, got, tc.want)
		}
	}
}

func TestAllowedHooksPolicy(t *testing.T) {
	t.Parallel()
	p, err := ParsePolicy("p.json", []byte(`{"replace": ["allowedHooks"], "allowedHooks": ["/usr/bin/../bin/hook",
	  {"path": "/usr/bin/nvidia-container-runtime-hook", "args": ["nvidia-container-runtime-hook", "prestart"], "env": ["NVIDIA_*"]}],
	  "exceptions": [{"match": {"io.kubernetes.pod.name": "gpu"}, "allow": {"allowedHooks": [{"path": "/opt/cdi/hook", "args": ["hook", "{path}"]}], "idmapMountSources": ["/srv/gpu/"]}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := []HookAllowance{{Path: "/usr/bin/hook"}, {Path: "/usr/bin/nvidia-container-runtime-hook", Args: []string{"nvidia-container-runtime-hook", "prestart"}, Env: []string{"NVIDIA_*"}}}
	if !reflect.DeepEqual(p.AllowedHooks, want) {
		t.Errorf("allowedHooks %+v, want %+v", p.AllowedHooks, want)
	}
	eff, _ := p.ForAnnotations(map[string]string{"io.kubernetes.pod.name": "gpu"})
	if !slices.Contains(eff.IDMapMountSources, "/srv/gpu") || slices.Contains(p.IDMapMountSources, "/srv/gpu") {
		t.Errorf("exception idmapMountSources: %v (policy %v)", eff.IDMapMountSources, p.IDMapMountSources)
	}
	if len(eff.AllowedHooks) != 3 || eff.AllowedHooks[2].Path != "/opt/cdi/hook" || len(p.AllowedHooks) != 2 {
		t.Errorf("exception: %+v (policy %+v)", eff.AllowedHooks, p.AllowedHooks)
	}
	b, err := json.Marshal(p.AllowedHooks)
	if err != nil || string(b) != `["/usr/bin/hook",{"path":"/usr/bin/nvidia-container-runtime-hook","args":["nvidia-container-runtime-hook","prestart"],"env":["NVIDIA_*"]}]` {
		t.Errorf("marshal: %s %v", b, err)
	}
	for _, tc := range []struct{ body, want string }{
		{`{"allowedHooks": ["bin/hook"]}`, `key "allowedHooks": "bin/hook" is not an absolute path`},
		{`{"allowedHooks": [{"path": "/x", "argz": []}]}`, `unknown key "argz" in a hook entry`},
		{`{"allowedHooks": [{"path": "/x", "args": ["{pth}"]}]}`, `unknown placeholder {pth}`},
		{`{"allowedHooks": [{"path": "/x", "env": ["A=B"]}]}`, `env "A=B"`},
		{`{"allowedHooks": [{"args": ["x"]}]}`, `"" is not an absolute path`},
		{`{"allowedHooks": [7]}`, `key "allowedHooks"`},
		{`{"idmapMountSources": ["/"]}`, `key "idmapMountSources"`},
		{`{"idmapMountSources": ["var/lib"]}`, `key "idmapMountSources"`},
		{`{"idmapMountSources": ["/*/lib"]}`, `key "idmapMountSources": "/*/lib" is not a directory below /`},
		{`{"idmapMountSources": ["/var/[lib"]}`, `key "idmapMountSources"`},
		{`{"exceptions": [{"match": {"io.kubernetes.pod.name": "x"}, "allow": {"idmapMountSources": ["/"]}}]}`, `key "exceptions[0].allow.idmapMountSources"`},
	} {
		_, err := ParsePolicy("p.json", []byte(tc.body))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.body, err, tc.want)
		}
	}
}

func TestPinHooks(t *testing.T) {
	t.Parallel()
	s := dockerSpec(t)
	s.Hooks.Poststop = []specs.Hook{{Path: "/bundle/link", Timeout: intPtr(3)}, {Path: "/usr/bin/x", Timeout: intPtr(100000)}}
	f := dockerFacts()
	f.HookPaths["/bundle/link"] = "/usr/bin/true"
	r := &Report{}
	PinHooks(s, nil, f, r)
	if got := s.Hooks.Prestart[0].Path; got != "/usr/sbin/dockerd" { //nolint:staticcheck // Docker's stage
		t.Errorf("prestart path %s", got)
	}
	if got := s.Hooks.Poststop[0]; got.Path != "/usr/bin/true" || *got.Timeout != 3 {
		t.Errorf("poststop[0] %+v", got)
	}
	if got := s.Hooks.Poststop[1]; got.Path != "/usr/bin/x" || *got.Timeout != maxHookTimeout {
		t.Errorf("poststop[1] %+v", got)
	}
	if got := *s.Hooks.Prestart[0].Timeout; got != maxHookTimeout { //nolint:staticcheck // Docker's stage
		t.Errorf("unset timeout became %d", got)
	}
	want := []string{"hooks.poststop[0].path", "hooks.poststop[1].timeout", "hooks.prestart[0].path", "hooks.prestart[0].timeout"}
	if got := changedPaths(r); !reflect.DeepEqual(got, want) {
		t.Errorf("changes %v, want %v", got, want)
	}
	r2 := &Report{}
	PinHooks(s, nil, f, r2)
	if len(r2.Changes) != 0 {
		t.Errorf("second pin changed %v", changedPaths(r2))
	}
}

func intPtr(i int) *int { return &i }

func TestCheckHookBinary(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root-owned files")
	}
	if got := checkHookBinary("/bin/sh"); got != "" {
		if real, err := filepath.EvalSymlinks("/bin/sh"); err == nil {
			if got := checkHookBinary(real); got != "" {
				t.Errorf("%s: %s", real, got)
			}
		}
	}
	dir, err := os.MkdirTemp("/var/lib", "hardened-hooktest-")
	if err != nil {
		t.Skip(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "hook")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		setup func()
		want  string
	}{
		{"safe", func() {}, ""},
		{"group-writable binary", func() { os.Chmod(bin, 0o775) }, "writable by group or others (mode 0775)"},
		{"not root's", func() { os.Chmod(bin, 0o755); os.Chown(bin, 1000, 0) }, bin + " is not owned by root"},
		{"world-writable dir", func() { os.Chown(bin, 0, 0); os.Chmod(dir, 0o1777) }, dir + " is writable by group or others"},
	} {
		tc.setup()
		if got := checkHookBinary(bin); (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	os.Chmod(dir, 0o700)
	if got := checkHookBinary(dir); !strings.Contains(got, "not a regular file") {
		t.Errorf("directory: %q", got)
	}
}
