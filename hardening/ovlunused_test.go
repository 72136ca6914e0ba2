package hardening

import (
	"os"
	"path/filepath"
	"testing"
)

// unusedOverlayAt is rootfsAt of an overlay mount that no engine's
// records give to the container, found outside the bundle.
func unusedOverlayAt(p string) HostFacts {
	f := outsideBundle(rootfsAt(p))
	f.RootfsOverlayNotEngineOwn = true
	return f
}

// TestRefuseUnusedEngineOverlay: an overlay mount below an engine's root
// that the engine's records do not give to this container is refused,
// though no process runs in it; the engine's own and a caller's own
// overlay elsewhere pass.
func TestRefuseUnusedEngineOverlay(t *testing.T) {
	t.Parallel()
	allow := func(paths ...string) func(*Policy) { return func(p *Policy) { p.AllowRootfs = paths } }
	podman := "/var/lib/containers/storage/overlay/9f3e/merged"
	runRefusalCases(t, RuleHostRootfs, RefuseHostRootfs, []refusalCase{
		{name: "a podman-mounted layer of another container", facts: unusedOverlayAt(podman),
			want: []string{`rootfs ` + podman + ` is an overlay mount in the engine root /var/lib/containers/storage that the engine's own records do not give to this container (another container's rootfs, mounted whether or not it runs: its files, and its upper layer writable) / "allowRootfs": ["` + podman + `"]`}},
		{name: "a stopped docker container's overlay", facts: unusedOverlayAt("/var/lib/docker/overlay2/5b1c/merged"), want: []string{"engine root /var/lib/docker "}},
		{name: "docker's containerd image store", facts: unusedOverlayAt("/var/lib/docker/rootfs/overlayfs/abc"), want: []string{"engine root /var/lib/docker "}},
		{name: "a created ctr task's rootfs", facts: unusedOverlayAt("/run/containerd/io.containerd.runtime.v2.task/default/victim/rootfs"), want: []string{"engine root /run/containerd "}},
		{name: "through /var/run", facts: unusedOverlayAt("/var/run/containerd/io.containerd.runtime.v2.task/default/victim/rootfs"), want: []string{"engine root /run/containerd "}},
		{name: "a k3s containerd's mount", facts: unusedOverlayAt("/var/lib/rancher/k3s/agent/containerd/tmpmounts/m1"), want: []string{"engine root /var/lib/rancher/k3s/agent/containerd "}},
		{name: "a graph root of the policy's engineRoots", facts: unusedOverlayAt("/data/storage/overlay/9f3e/merged"),
			pol: func(p *Policy) { p.EngineRoots = map[string][]string{EngineContainersStorage: {"/data/storage"}} }, want: []string{"engine root /data/storage "}},
		{name: "a docker root found in daemon.json", facts: func() HostFacts {
			f := unusedOverlayAt("/data/docker/overlay2/5b1c/merged")
			f.EngineRoots = map[string][]string{EngineDocker: {"/data/docker"}}
			return f
		}(), want: []string{"engine root /data/docker "}},
		{name: "the engine's own overlay passes", facts: outsideBundle(rootfsAt(podman))},
		{name: "a caller's own overlay outside every engine root passes", facts: unusedOverlayAt("/tmp/bench/merged")},
		{name: "an unknown root outside the engines' passes", facts: unusedOverlayAt("/data/storage/overlay/9f3e/merged")},
		{name: "allowRootfs relaxes it", facts: unusedOverlayAt(podman), pol: allow(podman)},
		{name: "a running process's root is refused with no key first", facts: func() HostFacts {
			f := unusedOverlayAt(podman)
			f.RootfsRootOf = []int{77}
			return f
		}(), pol: allow(podman), want: []string{"in use as the root directory of running process 77"}},
	})
}

// TestStorageOwnsRootfs: containers/storage's records give a layer to a
// container; its overlay is the container's own only for a bundle in that
// container's userdata directory, and only when the records are root's.
func TestStorageOwnsRootfs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("containers/storage's records count only as files of root's")
	}
	t.Setenv(EngineConfigDirEnv, t.TempDir())
	graph, other := t.TempDir(), t.TempDir()
	write := func(root, name, data string, mode os.FileMode) {
		dir := filepath.Join(root, "overlay-containers")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(dir, name), mode); err != nil {
			t.Fatal(err)
		}
	}
	write(graph, "containers.json", `[{"id":"c1","layer":"L1","names":["web"]},{"id":"c2","layer":"L2"},{"id":"../c1","layer":"L4"}]`, 0o600)
	write(graph, "volatile-containers.json", `[{"id":"c3","layer":"L3"}]`, 0o600)
	write(other, "containers.json", `[{"id":"c1","layer":"L1"}]`, 0o666)
	merged := func(root, layer string) string { return filepath.Join(root, "overlay", layer, "merged") }
	userdata := func(root, id string) string { return filepath.Join(root, "overlay-containers", id, "userdata") }
	for _, tc := range []struct {
		name           string
		rootfs, bundle string
		roots          []string
		want           bool
	}{
		{name: "podman: the container's own layer and bundle", rootfs: merged(graph, "L1"), bundle: userdata(graph, "c1"), roots: []string{graph}, want: true},
		{name: "buildah: a bundle below the userdata directory", rootfs: merged(graph, "L1"), bundle: userdata(graph, "c1") + "/buildah123", roots: []string{graph}, want: true},
		{name: "podman --rm: a volatile container", rootfs: merged(graph, "L3"), bundle: userdata(graph, "c3"), roots: []string{graph}, want: true},
		{name: "cri-o: a bundle in the default run root", rootfs: merged(graph, "L1"), bundle: userdata(defaultStorageRunRoot, "c1"), roots: []string{graph}, want: true},
		{name: "another container's layer", rootfs: merged(graph, "L2"), bundle: userdata(graph, "c1"), roots: []string{graph}},
		{name: "a bundle of the caller's own", rootfs: merged(graph, "L1"), bundle: "/tmp/attacker", roots: []string{graph}},
		{name: "a layer no record names", rootfs: merged(graph, "L9"), bundle: userdata(graph, "c1"), roots: []string{graph}},
		{name: "a record whose ID is a path", rootfs: merged(graph, "L4"), bundle: userdata(graph, "c1"), roots: []string{graph}},
		{name: "the layer's diff, not merged", rootfs: filepath.Join(graph, "overlay", "L1", "diff"), bundle: userdata(graph, "c1"), roots: []string{graph}},
		{name: "a graph root not the engine's", rootfs: merged(graph, "L1"), bundle: userdata(graph, "c1")},
		{name: "records anyone could write", rootfs: merged(other, "L1"), bundle: userdata(other, "c1"), roots: []string{other}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := storageOwnsRootfs(tc.rootfs, tc.bundle, tc.roots); got != tc.want {
				t.Errorf("storageOwnsRootfs = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestDockerLayerOwnsRootfs: Docker's layer store gives a container its
// overlay2 layer, whichever /etc/hosts it binds (a container sharing
// another's network binds that one's).
func TestDockerLayerOwnsRootfs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("Docker's layer store counts only as files of root's")
	}
	docker := t.TempDir()
	dir := filepath.Join(docker, "image", "overlay2", "layerdb", "mounts", "c1")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "mount-id"), []byte("L1"), 0o644); err != nil {
		t.Fatal(err)
	}
	merged := func(layer string) string { return filepath.Join(docker, "overlay2", layer, "merged") }
	for _, tc := range []struct {
		name, rootfs, id string
		roots            []string
		want             bool
	}{
		{name: "the container's own layer", rootfs: merged("L1"), id: "c1", roots: []string{docker}, want: true},
		{name: "another container's layer", rootfs: merged("L2"), id: "c1", roots: []string{docker}},
		{name: "another container ID", rootfs: merged("L1"), id: "c2", roots: []string{docker}},
		{name: "containerd image store: the container's own snapshot", rootfs: filepath.Join(docker, "rootfs", "overlayfs", "c1"), id: "c1", roots: []string{docker}, want: true},
		{name: "containerd image store: another container's snapshot", rootfs: filepath.Join(docker, "rootfs", "overlayfs", "c2"), id: "c1", roots: []string{docker}},
		{name: "containerd image store: not below a data root", rootfs: "/srv/rootfs/overlayfs/c1", id: "c1", roots: []string{docker}},
		{name: "a data root not Docker's", rootfs: merged("L1"), id: "c1", roots: []string{"/var/lib/docker"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := dockerLayerOwnsRootfs(tc.rootfs, tc.id, tc.roots); got != tc.want {
				t.Errorf("dockerLayerOwnsRootfs = %v, want %v", got, tc.want)
			}
		})
	}
}
