package hardening

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// engineRootsPolicy sets the policy's "engineRoots" to roots.
func engineRootsPolicy(roots map[string][]string) func(*Policy) {
	return func(p *Policy) { p.EngineRoots = roots }
}

// engineRootsFacts are facts with the engine roots the host's
// configuration gave.
func engineRootsFacts(roots map[string][]string) HostFacts {
	f := rootfsAt("/bundles/x/rootfs")
	f.EngineRoots = roots
	return f
}

// An engine's state root beyond its default is sensitive like the
// default, and what is allowed below the default is allowed below it;
// whether the policy names it or the engine's configuration does.
func TestRefuseHostMountsEngineRoots(t *testing.T) {
	t.Parallel()
	const uid, other = "6f1c9a54-1d2e-4c7b-9a0e-3b5d8c2f7e10", "0a9b8c7d-6e5f-4a3b-2c1d-0e9f8a7b6c5d"
	docker := engineRootsPolicy(map[string][]string{EngineDocker: {"/data/docker"}})
	dockerFound := engineRootsFacts(map[string][]string{EngineDocker: {"/data/docker"}})
	kubelet := engineRootsPolicy(map[string][]string{EngineKubelet: {"/data/kubelet"}})
	pod := func(src, podUID string) func(*specs.Spec) {
		return func(s *specs.Spec) {
			s.Annotations = map[string]string{AnnotationCRISandboxUID: podUID}
			addBind(src, "/mnt", "ro")(s)
		}
	}
	runRefusalCases(t, RuleHostMounts, RefuseHostMounts, []refusalCase{
		{name: "docker root by policy", pol: docker, tweak: addBind("/data/docker", "/mnt", "ro"),
			want: []string{`bind mount of host path /data/docker at /mnt / "allowHostMounts": ["/data/docker"]`}},
		{name: "docker layers by policy", pol: docker, tweak: addBind("/data/docker/overlay2", "/mnt", "ro"),
			want: []string{`/data/docker/overlay2 at /mnt exposes /data/docker / "allowHostMounts": ["/data/docker/overlay2"]`}},
		{name: "an ancestor of the docker root", pol: docker, tweak: addBind("/data", "/mnt", "ro"), want: []string{"/data at /mnt exposes /data/docker"}},
		{name: "docker root found on the host", facts: dockerFound, tweak: addBind("/data/docker/image", "/mnt", "ro"), want: []string{"exposes /data/docker"}},
		{name: "a container's state file", facts: dockerFound, tweak: addBind("/data/docker/containers/3f2a/config.v2.json", "/mnt", "ro"), want: []string{"exposes /data/docker"}},
		{name: "a container's hosts file", facts: dockerFound, tweak: addBind("/data/docker/containers/3f2a/hosts", "/etc/hosts")},
		{name: "a container's shm", pol: docker, tweak: addBind("/data/docker/containers/3f2a/mounts/shm", "/dev/shm")},
		{name: "a named volume", pol: docker, tweak: addBind("/data/docker/volumes/data/_data", "/data")},
		{name: "userns-remap's hosts file", pol: docker, tweak: addBind("/data/docker/100000.100000/containers/3f2a/hosts", "/etc/hosts")},
		{name: "resolving into the docker root", facts: func() HostFacts {
			f := engineRootsFacts(map[string][]string{EngineDocker: {"/data/docker"}})
			f.MountSources = map[string]string{"/srv/link": "/data/docker/overlay2"}
			return f
		}(), tweak: addBind("/srv/link", "/mnt"), want: []string{"bind mount of host path /srv/link at /mnt (resolves to /data/docker/overlay2) exposes /data/docker"}},
		{name: "allowed by allowHostMounts", pol: func(p *Policy) { docker(p); p.AllowHostMounts = []string{"/data/docker/image"} },
			tweak: addBind("/data/docker/image", "/mnt", "ro")},
		{name: "a root with glob characters", pol: engineRootsPolicy(map[string][]string{EngineDocker: {"/data/d[1]"}}),
			tweak: addBind("/data/d[1]/containers/3f2a/hosts", "/etc/hosts")},
		{name: "a root with glob characters, its layers", pol: engineRootsPolicy(map[string][]string{EngineDocker: {"/data/d[1]"}}),
			tweak: addBind("/data/d[1]/overlay2", "/mnt"), want: []string{"exposes /data/d[1]"}},
		{name: "containerd root", facts: engineRootsFacts(map[string][]string{EngineContainerd: {"/data/containerd"}}),
			tweak: addBind("/data/containerd/io.containerd.content.v1.content", "/mnt", "ro"), want: []string{"exposes /data/containerd"}},
		{name: "containerd sandbox's resolv.conf", facts: engineRootsFacts(map[string][]string{EngineContainerd: {"/data/containerd"}}),
			tweak: addBind("/data/containerd/io.containerd.grpc.v1.cri/sandboxes/ab12/resolv.conf", "/etc/resolv.conf")},
		{name: "containerd state: another container's bundle", facts: engineRootsFacts(map[string][]string{EngineContainerdState: {"/data/run/containerd"}}),
			tweak: addBind("/data/run/containerd/io.containerd.runtime.v2.task/k8s.io/ab12/rootfs", "/mnt"), want: []string{"exposes /data/run/containerd"}},
		{name: "containerd state: the sandbox's shm", facts: engineRootsFacts(map[string][]string{EngineContainerdState: {"/data/run/containerd"}}),
			tweak: addBind("/data/run/containerd/io.containerd.grpc.v1.cri/sandboxes/ab12/shm", "/dev/shm")},
		{name: "containers storage layers", pol: engineRootsPolicy(map[string][]string{EngineContainersStorage: {"/data/containers"}}),
			tweak: addBind("/data/containers/overlay", "/mnt"), want: []string{"exposes /data/containers"}},
		{name: "containers storage userdata", pol: engineRootsPolicy(map[string][]string{EngineContainersStorage: {"/data/containers"}}),
			tweak: addBind("/data/containers/overlay-containers/ab12/userdata/hosts", "/etc/hosts")},
		{name: "kubelet root: the own pod's secret", pol: kubelet, tweak: pod("/data/kubelet/pods/"+uid+"/volumes/kubernetes.io~secret/token", uid)},
		{name: "kubelet root: another pod's secret", pol: kubelet, tweak: pod("/data/kubelet/pods/"+other+"/volumes/kubernetes.io~secret/token", uid),
			want: []string{"exposes /data/kubelet (pod " + other + " is not the container's own pod " + uid + ")"}},
		{name: "kubelet root: no pod UID", pol: kubelet, tweak: addBind("/data/kubelet/pods/"+uid+"/volumes/x", "/mnt"),
			want: []string{"exposes /data/kubelet (a pod's directory is bound only into that pod's containers"}},
		{name: "kubelet root: every pod", pol: kubelet, tweak: addBind("/data/kubelet/pods", "/mnt", "ro"), want: []string{"exposes /data/kubelet"}},
		{name: "MicroK8s: another pod's secret", tweak: pod("/var/snap/microk8s/common/var/lib/kubelet/pods/"+other+"/volumes/x", uid),
			want: []string{"exposes /var/snap/microk8s/common/var/lib/kubelet (pod " + other}},
		{name: "MicroK8s: the own pod's secret", tweak: pod("/var/snap/microk8s/common/var/lib/kubelet/pods/"+uid+"/volumes/x", uid)},
		{name: "k0s kubelet", tweak: addBind("/var/lib/k0s/kubelet", "/mnt", "ro"), want: []string{`bind mount of host path /var/lib/k0s/kubelet at /mnt / "allowHostMounts": ["/var/lib/k0s/kubelet"]`}},
		{name: "k3s containerd", tweak: addBind("/var/lib/rancher/k3s/agent/containerd/io.containerd.snapshotter.v1.overlayfs", "/mnt", "ro"),
			want: []string{"exposes /var/lib/rancher/k3s/agent/containerd"}},
		{name: "k3s containerd sandbox's hosts", tweak: addBind("/var/lib/rancher/k3s/agent/containerd/io.containerd.grpc.v1.cri/sandboxes/ab12/hosts", "/etc/hosts")},
		{name: "k3s containerd state", tweak: addBind("/run/k3s/containerd/io.containerd.runtime.v2.task", "/mnt", "ro"), want: []string{"exposes /run/k3s/containerd"}},
		{name: "a sibling of the root", pol: docker, tweak: addBind("/data/dockerfiles", "/mnt")},
		{name: "a root under /var/run, bound as /run", facts: engineRootsFacts(map[string][]string{EngineContainerdState: {"/var/run/ctd"}}),
			tweak: addBind("/run/ctd/io.containerd.runtime.v2.task", "/mnt"), want: []string{"exposes /run/ctd"}},
		{name: "a root under /var/run, bound as written", facts: engineRootsFacts(map[string][]string{EngineContainerdState: {"/var/run/ctd"}}),
			tweak: addBind("/var/run/ctd/io.containerd.runtime.v2.task", "/mnt"), want: []string{"exposes /run/ctd"}},
		{name: "a root under /var/run, the sandbox's shm", facts: engineRootsFacts(map[string][]string{EngineContainerdState: {"/var/run/ctd"}}),
			tweak: addBind("/var/run/ctd/io.containerd.grpc.v1.cri/sandboxes/ab12/shm", "/dev/shm")},
	})
}

// Below a further engine root a rootfs is only the engine's overlay mount,
// as below the default; the root and its stores are no rootfs.
func TestRefuseHostRootfsEngineRoots(t *testing.T) {
	t.Parallel()
	docker := engineRootsPolicy(map[string][]string{EngineDocker: {"/data/docker"}})
	plain := func(p string, roots map[string][]string) HostFacts {
		f := plainRootfsAt(p)
		f.EngineRoots = roots
		return f
	}
	runRefusalCases(t, RuleHostRootfs, RefuseHostRootfs, []refusalCase{
		{name: "the engine's merged overlay", pol: docker, facts: rootfsAt("/data/docker/overlay2/5b1c/merged")},
		{name: "another layer as a directory", pol: docker, facts: plainRootfsAt("/data/docker/overlay2/5b1c/diff"),
			want: []string{`rootfs /data/docker/overlay2/5b1c/diff lies in the engine store /data/docker/overlay2 and is not an overlay mount`}},
		{name: "a volume as a directory, root found on the host", facts: plain("/data/docker/volumes/v/_data", map[string][]string{EngineDocker: {"/data/docker"}}),
			want: []string{"lies in the engine store /data/docker/volumes"}},
		{name: "the layer store itself", pol: docker, facts: rootfsAt("/data/docker/overlay2"), want: []string{"/data/docker/overlay2 is a host system directory"}},
		{name: "an ancestor of the root", pol: docker, facts: rootfsAt("/data"), want: []string{"rootfs /data contains the sensitive host path /data/docker"}},
		{name: "a pod's volume below a kubelet root", facts: plain("/data/kubelet/pods/0f1e/volumes/x", map[string][]string{EngineKubelet: {"/data/kubelet"}}),
			want: []string{"lies in the engine store /data/kubelet"}},
		{name: "a bundle below a containerd state root passes", facts: plain("/data/run/containerd/io.containerd.runtime.v2.task/k8s.io/ab12/rootfs",
			map[string][]string{EngineContainerdState: {"/data/run/containerd"}})},
		{name: "the containerd state root's task directory", facts: rootfsAt("/run/k3s/containerd/io.containerd.runtime.v2.task"),
			want: []string{"is a host system directory"}},
	})
}

// An "idmapMountSources" entry below an engine's default root applies
// below its further roots, and only the host's own entries do.
func TestRefuseIDMappedMountsEngineRoots(t *testing.T) {
	t.Parallel()
	own := mapping(testRange.Start, testRange.Size)
	bind := func(src string) func(*specs.Spec) {
		return func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/cache", Type: "bind", Source: src, Options: []string{"rbind"}, UIDMappings: own, GIDMappings: own})
		}
	}
	facts := allDirs("/bundles/example/rootfs")
	kubelet := engineRootsPolicy(map[string][]string{EngineKubelet: {"/data/kubelet"}})
	const vol = "/data/kubelet/pods/0f1e/volumes/kubernetes.io~empty-dir/cache"
	runRefusalCases(t, RuleIDMappedMounts, RefuseIDMappedMounts, []refusalCase{
		{name: "a pod volume below the kubelet root", facts: facts, pol: kubelet, tweak: bind(vol)},
		{name: "not an engine root", facts: facts, tweak: bind(vol), want: []string{vol + " is not below a directory where engines idmap volumes"}},
		{name: "another directory of the kubelet root", facts: facts, pol: kubelet, tweak: bind("/data/kubelet/plugins/x"), want: []string{"/data/kubelet/plugins/x is not below"}},
		{name: "docker volume below a found root", facts: func() HostFacts {
			f := allDirs("/bundles/example/rootfs")
			f.EngineRoots = map[string][]string{EngineDocker: {"/data/docker"}}
			return f
		}(), tweak: bind("/data/docker/volumes/v/_data")},
		{name: "the defaults replaced", facts: facts, pol: func(p *Policy) { kubelet(p); p.IDMapMountSources = []string{"/srv"} },
			tweak: bind(vol), want: []string{"is not below"}},
	})
}

// The host-mounts rule notes the roots beyond the built-in ones, and
// where they come from, for explain and the audit record.
func TestEngineRootsNote(t *testing.T) {
	t.Parallel()
	pol := DefaultPolicy()
	if got := engineRootsNote(pol, HostFacts{}); got != "" {
		t.Errorf("default: note %q", got)
	}
	pol.EngineRoots = map[string][]string{EngineKubelet: {"/data/kubelet"}}
	f := HostFacts{EngineRoots: map[string][]string{EngineDocker: {"/data/docker"}, EngineKubelet: {"/data/kubelet"}}}
	want := `engines' state roots beyond the defaults, held sensitive like them: docker /data/docker (found on the host), kubelet /data/kubelet (policy "engineRoots")`
	if got := engineRootsNote(pol, f); got != want {
		t.Errorf("note %q, want %q", got, want)
	}
	s := exampleSpec()
	rep := &Report{}
	if err := RefuseHostMounts(s, pol, f, rep); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(rep.Notes, Note{Rule: RuleHostMounts, Message: want}) {
		t.Errorf("notes %+v lack %q", rep.Notes, want)
	}
}

// EngineKinds lists the kinds of defaultEngineRoots, sorted.
func TestEngineKinds(t *testing.T) {
	t.Parallel()
	if got, want := EngineKinds(), slices.Sorted(maps.Keys(defaultEngineRoots())); !slices.Equal(got, want) {
		t.Errorf("EngineKinds() = %v, want %v", got, want)
	}
}

// "engineRoots" takes known kinds and absolute paths other than "/".
func TestParsePolicyEngineRoots(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ body, want string }{
		{`{"engineRoots": {"dockerd": ["/data/docker"]}}`, `key "engineRoots": "dockerd" is not one of containerd, containerdState, containersStorage, docker, kubelet`},
		{`{"engineRoots": {"docker": ["data/docker"]}}`, `key "engineRoots.docker": "data/docker" is not an absolute path`},
		{`{"engineRoots": {"kubelet": ["/"]}}`, `key "engineRoots.kubelet": "/" is the host itself`},
		{`{"engineRoots": {"kubelet": ["/data/.."]}}`, `key "engineRoots.kubelet": "/" is the host itself`},
		{`{"engineRoots": {"docker": "/data/docker"}}`, `key "engineRoots": want []string, got JSON string`},
		{`{"exceptions": [{"match": {"io.kubernetes.pod.name": "x"}, "allow": {"engineRoots": {}}}]}`, `unknown key "engineRoots"`},
	} {
		_, err := ParsePolicy("/etc/hardened/policy.json", []byte(tc.body))
		if !errors.Is(err, ErrInvalidPolicy) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.body, err, tc.want)
		}
	}
	p, err := ParsePolicy("policy.json", []byte(`{"engineRoots": {"docker": ["/data/docker/"], "containerd": ["/data/containerd"]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.EngineRoots; !slices.Equal(got[EngineDocker], []string{"/data/docker"}) || !slices.Equal(got[EngineContainerd], []string{"/data/containerd"}) {
		t.Errorf("engineRoots = %v", got)
	}
}

// GatherEngineRoots reads the engines' own configuration files, and
// nothing else of them, and follows symlinked roots.
func TestGatherEngineRoots(t *testing.T) {
	t.Parallel()
	write := func(t *testing.T, etc, name, body string) {
		t.Helper()
		p := filepath.Join(etc, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  map[string][]string
	}{
		{name: "no files"},
		{name: "docker data-root", files: map[string]string{"docker/daemon.json": `{"data-root": "/data/docker/", "log-driver": "json-file"}`},
			want: map[string][]string{EngineDocker: {"/data/docker"}}},
		{name: "docker's older graph", files: map[string]string{"docker/daemon.json": `{"graph": "/srv/docker"}`},
			want: map[string][]string{EngineDocker: {"/srv/docker"}}},
		{name: "docker default root", files: map[string]string{"docker/daemon.json": `{"data-root": "/var/lib/docker"}`}},
		{name: "malformed daemon.json", files: map[string]string{"docker/daemon.json": `{"data-root": "/data/docker"`}},
		{name: "relative and root paths", files: map[string]string{"docker/daemon.json": `{"data-root": "docker", "graph": "/"}`}},
		{name: "containerd root and state", files: map[string]string{"containerd/config.toml": "version = 2\n# moved\nroot = \"/data/containerd\"\nstate = '/data/run/containerd'\n\n[plugins]\n  root = \"/elsewhere\"\n"},
			want: map[string][]string{EngineContainerd: {"/data/containerd"}, EngineContainerdState: {"/data/run/containerd"}}},
		{name: "containerd keys in a table only", files: map[string]string{"containerd/config.toml": "version = 2\n[plugins.x]\nroot = \"/elsewhere\"\n"}},
		{name: "containerd config malformed before root", files: map[string]string{"containerd/config.toml": "version = = 2\nroot = \"/data/containerd\"\n"}},
		{name: "storage graphroot", files: map[string]string{"containers/storage.conf": "[storage]\ndriver = \"overlay\"\nrunroot = \"/run/containers/storage\"\ngraphroot = \"/data/containers/storage\"\n[storage.options]\ngraphroot = \"/elsewhere\"\n"},
			want: map[string][]string{EngineContainersStorage: {"/data/containers/storage"}}},
		{name: "too large", files: map[string]string{"docker/daemon.json": `{"data-root": "/data/docker", "x": "` + strings.Repeat("x", maxEngineConfigSize) + `"}`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			etc := t.TempDir()
			for name, body := range tc.files {
				write(t, etc, name, body)
			}
			var f HostFacts
			GatherEngineRoots(etc, &f)
			for kind, roots := range f.EngineRoots {
				// The default roots resolve through symlinks on some
				// hosts; only what the files name is compared.
				f.EngineRoots[kind] = slices.DeleteFunc(roots, func(r string) bool { return !strings.HasPrefix(r, "/data") && !strings.HasPrefix(r, "/srv") })
				if len(f.EngineRoots[kind]) == 0 {
					delete(f.EngineRoots, kind)
				}
			}
			if len(f.EngineRoots) != len(tc.want) {
				t.Fatalf("EngineRoots = %v, want %v", f.EngineRoots, tc.want)
			}
			for kind, want := range tc.want {
				if !slices.Equal(f.EngineRoots[kind], want) {
					t.Errorf("EngineRoots[%s] = %v, want %v", kind, f.EngineRoots[kind], want)
				}
			}
		})
	}
	t.Run("symlinked root", func(t *testing.T) {
		t.Parallel()
		etc, dir := t.TempDir(), t.TempDir()
		real := filepath.Join(dir, "disk", "docker")
		link := filepath.Join(dir, "docker")
		if err := os.MkdirAll(real, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(real, link); err != nil {
			t.Fatal(err)
		}
		write(t, etc, "docker/daemon.json", `{"data-root": "`+link+`"}`)
		var f HostFacts
		GatherEngineRoots(etc, &f)
		if got := f.EngineRoots[EngineDocker]; !slices.Contains(got, link) || !slices.Contains(got, real) {
			t.Errorf("EngineRoots[docker] = %v, want %s and %s", got, link, real)
		}
	})
}

// BenchmarkGatherEngineRoots is what finding the engines' roots adds to
// every create: this host's /etc, and the three files, containerd's
// written by `containerd config default` (the root and state keys first,
// ~10 KiB of tables after them, not read), with symlinked roots.
func BenchmarkGatherEngineRoots(b *testing.B) {
	b.Run("host-etc", func(b *testing.B) {
		for b.Loop() {
			var f HostFacts
			GatherEngineRoots("/etc", &f)
		}
	})
	b.Run("three-files", func(b *testing.B) {
		etc := b.TempDir()
		tables := strings.Repeat("[plugins.\"io.containerd.x\"]\n  key = \"value\"\n  list = [\"a\", \"b\"]\n", 200)
		for name, body := range map[string]string{
			"docker/daemon.json":      `{"data-root": "/data/docker", "log-driver": "json-file", "log-opts": {"max-size": "10m"}}`,
			"containerd/config.toml":  "version = 2\nroot = \"/data/containerd\"\nstate = \"/run/containerd\"\n\n" + tables,
			"containers/storage.conf": "[storage]\ndriver = \"overlay\"\nrunroot = \"/run/containers/storage\"\ngraphroot = \"/data/containers/storage\"\n\n[storage.options]\n" + tables,
		} {
			p := filepath.Join(etc, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
				b.Fatal(err)
			}
		}
		for b.Loop() {
			var f HostFacts
			GatherEngineRoots(etc, &f)
			if len(f.EngineRoots[EngineDocker]) == 0 {
				b.Fatal("no docker root")
			}
		}
	})
}

// BenchmarkEngineLayout is what each of the three rules that read the
// engines' roots pays to build their lists, with one root found on the
// host.
func BenchmarkEngineLayout(b *testing.B) {
	pol := DefaultPolicy()
	f := HostFacts{EngineRoots: map[string][]string{EngineDocker: {"/data/docker"}}}
	for b.Loop() {
		if l := engineLayoutOf(pol, f); len(l.sensitive) == 0 {
			b.Fatal("no sensitive paths")
		}
	}
}
