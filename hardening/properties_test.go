package hardening

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"slices"
	"testing"

	"github.com/opencontainers/runc/libcontainer/configs/validate"
	"github.com/opencontainers/runc/libcontainer/specconv"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// checkProperties fails when a hardened spec grants more than pol allows.
func checkProperties(t testing.TB, s *specs.Spec, pol *Policy) {
	t.Helper()
	allowed := append(LevelCapabilities(pol.Level), pol.AllowCapabilities...)
	c := s.Process.Capabilities
	if c == nil {
		t.Fatal("no capabilities section")
	}
	for name, set := range map[string][]string{"bounding": c.Bounding, "effective": c.Effective, "permitted": c.Permitted, "inheritable": c.Inheritable, "ambient": c.Ambient} {
		for _, cp := range set {
			if !slices.Contains(allowed, cp) {
				t.Errorf("%s holds %s", name, cp)
			}
		}
	}
	if len(c.Inheritable) != 0 || len(c.Ambient) != 0 {
		t.Errorf("inheritable %v ambient %v", c.Inheritable, c.Ambient)
	}
	if !pol.AllowNewPrivileges && !s.Process.NoNewPrivileges {
		t.Error("noNewPrivileges false")
	}
	checkDenied(t, s.Linux.Seccomp, pol.DenySyscalls)
	if pol.ReadonlyRootfs && (s.Root == nil || !s.Root.Readonly) {
		t.Error("rootfs writable")
	}
	for _, p := range DefaultMaskedPaths() {
		if !slices.Contains(s.Linux.MaskedPaths, p) {
			t.Errorf("%s not masked", p)
		}
	}
	for _, p := range DefaultReadonlyPaths() {
		if !slices.Contains(s.Linux.ReadonlyPaths, p) {
			t.Errorf("%s not read-only", p)
		}
	}
	if pol.PidsLimit > 0 && (s.Linux.Resources == nil || s.Linux.Resources.Pids == nil || s.Linux.Resources.Pids.Limit == nil || *s.Linux.Resources.Pids.Limit <= 0) {
		t.Error("no pids limit")
	} else if pol.PidsLimit > 0 && *s.Linux.Resources.Pids.Limit > pol.PidsLimit {
		t.Errorf("pids limit %d above the policy's %d", *s.Linux.Resources.Pids.Limit, pol.PidsLimit)
	}
	if s.Process.OOMScoreAdj != nil && *s.Process.OOMScoreAdj < pol.MinOOMScoreAdj {
		t.Errorf("oomScoreAdj %d below the policy's %d", *s.Process.OOMScoreAdj, pol.MinOOMScoreAdj)
	}
}

// hardenTwice hardens s, checks the properties, hardens the result again
// and checks that nothing changes. A refusal must leave s untouched.
func hardenTwice(t testing.TB, s *specs.Spec, pol *Policy, f HostFacts) {
	t.Helper()
	orig, err := copySpec(s)
	if err != nil {
		t.Skip(err)
	}
	_, err = Harden(s, pol, f)
	if errors.Is(err, ErrRefused) {
		if !reflect.DeepEqual(jsonValue(s), jsonValue(orig)) {
			t.Fatal("refused spec modified")
		}
		return
	}
	if err != nil {
		t.Fatalf("Harden: %v", err)
	}
	checkProperties(t, s, pol)
	once, _ := copySpec(s)
	rep, err := Harden(s, pol, f)
	if err != nil {
		t.Fatalf("second Harden: %v", err)
	}
	if len(rep.Changes) != 0 || !reflect.DeepEqual(s, once) {
		t.Errorf("second pass changed %v", changedPaths(rep))
	}
}

func TestPropertiesFixtures(t *testing.T) {
	t.Parallel()
	restricted := DefaultPolicy()
	restricted.Level = LevelRestricted
	relaxed := DefaultPolicy()
	relaxed.AllowCapabilities = []string{"CAP_SYS_ADMIN", "CAP_NET_ADMIN"}
	relaxed.AllowNewPrivileges = true
	for name, pol := range map[string]*Policy{"default": DefaultPolicy(), "restricted": restricted, "relaxed": relaxed} {
		hardenTwice(t, exampleSpec(), pol, allDirs("/bundles/example/rootfs"))
		hardenTwice(t, dockerSpec(t), pol, dockerFacts())
		_ = name
	}
}

// TestHardenedPassesLibcontainerValidation converts the hardened spec the
// way runc does and runs libcontainer's validator (no root needed).
func TestHardenedPassesLibcontainerValidation(t *testing.T) {
	t.Parallel()
	for name, base := range map[string]*specs.Spec{"example": exampleSpec(), "docker": dockerSpec(t)} {
		t.Run(name, func(t *testing.T) {
			bundle := t.TempDir()
			rootfs := bundle + "/rootfs"
			for _, d := range []string{"tmp", "var/tmp", "var/lib", "home", "run"} {
				if err := os.MkdirAll(rootfs+"/"+d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Symlink("/run", rootfs+"/var/run"); err != nil {
				t.Fatal(err)
			}
			s := base
			s.Root.Path = rootfs
			s.Hooks = nil
			s.Mounts = slices.DeleteFunc(s.Mounts, func(m specs.Mount) bool { return m.Type == "bind" })
			facts, err := GatherHostFacts(bundle, s, DefaultPolicy())
			if err != nil {
				t.Fatal(err)
			}
			if facts.ExistingDirs["/var/run"] || !facts.ExistingDirs["/var/lib"] || facts.ExistingDirs["/var/log"] {
				t.Errorf("existing dirs %v", facts.ExistingDirs)
			}
			// The range the runtime allocates with user namespaces on.
			facts.IDRange = allDirs("").IDRange
			if _, err := Harden(s, DefaultPolicy(), facts); err != nil {
				t.Fatal(err)
			}
			cfg, err := specconv.CreateLibcontainerConfig(&specconv.CreateOpts{Spec: s, CgroupName: "x"})
			if err != nil {
				t.Fatalf("CreateLibcontainerConfig: %v", err)
			}
			if err := validate.Validate(cfg); err != nil {
				t.Fatalf("validate: %v", err)
			}
			if !cfg.NoNewPrivileges || cfg.Seccomp == nil || cfg.Cgroups.Resources.PidsLimit == nil || *cfg.Cgroups.Resources.PidsLimit != 4096 {
				t.Errorf("config: nnp %v seccomp %v", cfg.NoNewPrivileges, cfg.Seccomp != nil)
			}
		})
	}
}

func FuzzHarden(f *testing.F) {
	for _, seed := range []string{
		`{}`,
		`{"process":{"capabilities":{"ambient":["CAP_SYS_ADMIN"]}},"linux":{"seccomp":{}}}`,
		`{"linux":{"namespaces":[{"type":"network","path":"/proc/1/ns/net"}]}}`,
		`{"mounts":[{"destination":"/s","type":"bind","source":"/var/run/../run/docker.sock"}]}`,
		`{"mounts":[{"destination":"/v","type":"bind","source":"/var/lib/kubelet/pods/a/volumes/b","options":["rbind","idmap","suid"]},{"destination":"/w","type":"bind","source":"/home","uidMappings":[{"containerID":0,"hostID":1879048192,"size":65536}],"gidMappings":[{"containerID":0,"hostID":1879048192,"size":65536}]}]}`,
		`{"root":{"path":"rootfs"},"mounts":[{"destination":"/var","type":"tmpfs"}],"linux":{"seccomp":{"defaultAction":"SCMP_ACT_KILL","syscalls":[{"names":["bpf","read"],"action":"SCMP_ACT_ALLOW"},{"names":[],"action":"SCMP_ACT_ALLOW"}]}}}`,
	} {
		f.Add([]byte(seed))
	}
	for _, file := range []string{"testdata/docker-20.10.json"} {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	ex, _ := json.Marshal(exampleSpec())
	f.Add(ex)
	f.Fuzz(func(t *testing.T, data []byte) {
		s := new(specs.Spec)
		if err := json.Unmarshal(data, s); err != nil {
			return
		}
		hardenTwice(t, s, DefaultPolicy(), allDirs("/bundles/example/rootfs"))
	})
}

func FuzzLoadPolicy(f *testing.F) {
	for _, seed := range []string{
		`{"mode":"off"}`, `{}`, `{"levle":"x"}`, `{"mode":"audit"} {}`,
		`{"level":"restricted","allowCapabilities":["net_raw"],"allowDevices":["c 10:229"],"allowSysctls":["vm.*"]}`,
		`{"exceptions":[{"match":{"io.kubernetes.pod.namespace":"kube-*"},"allow":{"allowHostNamespaces":["network"]}}]}`,
		`{"allowedHooks":["/x",{"path":"/y","args":[]},{"path":"/z","env":[]},{"path":"/w","args":["a{hex}","{path}"],"env":["LD_*"]}],"idmapMountSources":["/srv"]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePolicy("fuzz.json", data)
		if err != nil {
			if !errors.Is(err, ErrInvalidPolicy) {
				t.Fatalf("error not ErrInvalidPolicy: %v", err)
			}
			return
		}
		// What decoded re-encodes to an equal policy.
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		q, err := ParsePolicy("again.json", b)
		if err != nil {
			t.Fatalf("re-encoded policy invalid: %v\n%s", err, b)
		}
		if !reflect.DeepEqual(jsonValue(p), jsonValue(q)) {
			t.Fatalf("round trip differs:\n%s\n%s", jsonValue(p), jsonValue(q))
		}
		s := exampleSpec()
		if _, err := Harden(s, p, allDirs("/bundles/example/rootfs")); err != nil && !errors.Is(err, ErrRefused) {
			t.Fatalf("Harden: %v", err)
		}
	})
}

func BenchmarkHarden(b *testing.B) {
	polJSON := []byte(`{"level":"baseline","allowSysctls":["net.*"],"pidsLimit":4096}`)
	specJSON, err := os.ReadFile("testdata/docker-20.10.json")
	if err != nil {
		b.Fatal(err)
	}
	facts := dockerFacts()
	b.ReportAllocs()
	for b.Loop() {
		pol, err := ParsePolicy("bench.json", polJSON)
		if err != nil {
			b.Fatal(err)
		}
		s := new(specs.Spec)
		if err := json.Unmarshal(specJSON, s); err != nil {
			b.Fatal(err)
		}
		if _, err := Harden(s, pol, facts); err != nil {
			b.Fatal(err)
		}
	}
}
