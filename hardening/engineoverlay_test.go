package hardening

import (
	"os"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestEngineOwnOverlay(t *testing.T) {
	t.Parallel()
	// A Docker data root with the record of container c1's layer L1.
	docker := t.TempDir()
	writeMountID := func(id, mountID string) {
		dir := filepath.Join(docker, "image", "overlay2", "layerdb", "mounts", id)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "mount-id"), []byte(mountID), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeMountID("c1", "L1")
	writeMountID("c2", "../L1")
	// Docker's record counts only as a file of root's (OwnDockerRoot).
	root := os.Geteuid() == 0
	hosts := func(id string) specs.Mount {
		return specs.Mount{Destination: "/etc/hosts", Type: "bind", Source: filepath.Join(docker, "containers", id, "hosts"), Options: []string{"rbind"}}
	}
	merged := func(layer string) string { return filepath.Join(docker, "overlay2", layer, "merged") }
	task := "/run/containerd/io.containerd.runtime.v2.task/k8s.io"
	for _, tc := range []struct {
		name     string
		rootPath string
		mounts   []specs.Mount
		facts    HostFacts
		id       string
		want     bool
	}{
		{name: "containerd: the bundle's own rootfs", rootPath: "rootfs", id: "abc",
			facts: HostFacts{Bundle: task + "/abc", Rootfs: task + "/abc/rootfs"}, want: true},
		{name: "containerd: no container ID", rootPath: "rootfs",
			facts: HostFacts{Bundle: task + "/abc", Rootfs: task + "/abc/rootfs"}},
		{name: "containerd: the bundle is not the container's directory", rootPath: "rootfs", id: "abc",
			facts: HostFacts{Bundle: task + "/other", Rootfs: task + "/other/rootfs"}},
		{name: "containerd: another container's rootfs by a relative path", rootPath: "../victim/rootfs", id: "abc",
			facts: HostFacts{Bundle: task + "/abc", Rootfs: task + "/victim/rootfs"}},
		{name: "containerd: root.path rootfs resolves elsewhere (a symlink)", rootPath: "rootfs", id: "abc",
			facts: HostFacts{Bundle: task + "/abc", Rootfs: task + "/victim/rootfs"}},
		{name: "containerd: another container's rootfs by its absolute path", rootPath: task + "/victim/rootfs", id: "victim",
			facts: HostFacts{Bundle: task + "/abc", Rootfs: task + "/victim/rootfs"}},
		{name: "docker: the container's own layer", rootPath: merged("L1"), id: "c1", mounts: []specs.Mount{hosts("c1")},
			facts: HostFacts{Rootfs: merged("L1")}, want: true},
		{name: "docker: another container's layer", rootPath: merged("L2"), id: "c1", mounts: []specs.Mount{hosts("c1")},
			facts: HostFacts{Rootfs: merged("L2")}},
		{name: "docker: the other container's /etc/hosts (not this ID's)", rootPath: merged("L1"), id: "c3", mounts: []specs.Mount{hosts("c1")},
			facts: HostFacts{Rootfs: merged("L1")}},
		{name: "docker: no record of the container's layer", rootPath: merged("L1"), id: "c4", mounts: []specs.Mount{hosts("c4")},
			facts: HostFacts{Rootfs: merged("L1")}},
		{name: "docker: a record naming a path, not a layer", rootPath: merged("L1"), id: "c2", mounts: []specs.Mount{hosts("c2")},
			facts: HostFacts{Rootfs: merged("L1")}},
		{name: "docker: the layer's diff, not merged", rootPath: filepath.Join(docker, "overlay2", "L1", "diff"), id: "c1", mounts: []specs.Mount{hosts("c1")},
			facts: HostFacts{Rootfs: filepath.Join(docker, "overlay2", "L1", "diff")}},
		{name: "docker: /etc/hosts written as another path that resolves to the record's root", rootPath: merged("L1"), id: "c1",
			mounts: []specs.Mount{{Destination: "/etc/hosts", Type: "bind", Source: "/elsewhere/hosts", Options: []string{"rbind"}}},
			facts:  HostFacts{Rootfs: merged("L1"), MountSources: map[string]string{"/elsewhere/hosts": filepath.Join(docker, "containers", "c1", "hosts")}}, want: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.want && len(tc.mounts) > 0 && !root {
				t.Skip("Docker's layer store is root's: the mount-id file must be")
			}
			s := &specs.Spec{Root: &specs.Root{Path: tc.rootPath}, Mounts: tc.mounts}
			if got := EngineOwnOverlay(s, tc.facts, tc.id); got != tc.want {
				t.Errorf("EngineOwnOverlay = %v, want %v", got, tc.want)
			}
		})
	}
}

// Docker's per-container files are the container's own only when its
// rootfs is the overlay Docker mounted for that container ID: the ID in
// the files' path alone is the caller's choice.
func TestOwnDockerRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("Docker's layer store is root's: the mount-id file must be")
	}
	data := filepath.Join(t.TempDir(), "docker")
	s := &specs.Spec{Mounts: []specs.Mount{{Destination: "/etc/hosts", Type: "bind", Source: filepath.Join(data, "containers", "c1", "hosts"), Options: []string{"rbind"}}}}
	mounts := filepath.Join(data, "image", "overlay2", "layerdb", "mounts", "c1")
	if err := os.MkdirAll(mounts, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mounts, "mount-id"), []byte("abc123\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	overlay := func(rootfs string) HostFacts { return HostFacts{Rootfs: rootfs} }
	for _, tc := range []struct {
		name string
		f    HostFacts
		id   string
		want string
	}{
		{name: "overlay2 layer of the container", f: overlay(filepath.Join(data, "overlay2", "abc123", "merged")), id: "c1", want: data},
		{name: "containerd image store", f: overlay(filepath.Join(data, "rootfs", "overlayfs", "c1")), id: "c1", want: data},
		{name: "a rootfs of the caller's", f: overlay("/bundles/c1/rootfs")},
		{name: "the layer unmounted", f: HostFacts{Rootfs: filepath.Join(data, "overlay2", "abc123", "merged"), RootfsNotOverlayMount: true}, id: "c1"},
		{name: "another layer", f: overlay(filepath.Join(data, "overlay2", "def456", "merged")), id: "c1"},
		{name: "another container's image-store rootfs", f: overlay(filepath.Join(data, "rootfs", "overlayfs", "c2")), id: "c1"},
		{name: "no rootfs", id: "c1"},
		{name: "another container's files", f: overlay(filepath.Join(data, "overlay2", "abc123", "merged")), id: "c2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := OwnDockerRoot(s, tc.f, tc.id); got != tc.want {
				t.Errorf("OwnDockerRoot = %q, want %q", got, tc.want)
			}
		})
	}
	// A mount-id file that is not root's alone is not Docker's.
	if err := os.Chmod(filepath.Join(mounts, "mount-id"), 0o666); err != nil {
		t.Fatal(err)
	}
	if got := OwnDockerRoot(s, overlay(filepath.Join(data, "overlay2", "abc123", "merged")), "c1"); got != "" {
		t.Errorf("OwnDockerRoot with a mount-id file others write = %q", got)
	}
}
