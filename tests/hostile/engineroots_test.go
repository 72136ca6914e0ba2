package hostile

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/hardening"
	"github.com/hardened-runtime/hardened/tests/testutil"
)

// engineRootsPodUID is the pod the tests' containers belong to.
const engineRootsPodUID = "6f1c9a54-1d2e-4c7b-9a0e-3b5d8c2f7e10"

// engineRootsTree makes an engine's state root in a temporary directory
// of t, traversable by a container's mapped root, with a secret file at
// each of files (relative paths); it returns the root.
func engineRootsTree(t *testing.T, name string, files ...string) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), name)
	for _, f := range append([]string{"secret"}, files...) {
		p := filepath.Join(root, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("engine-state\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	traversableTempParents(t, root)
	return root
}

// traversableTempParents makes dir and its parents below the temporary
// directory traversable by everyone (t.TempDir makes them 0700), as an
// engine's root and the path to it are for a container's mapped root.
func traversableTempParents(t *testing.T, dir string) {
	t.Helper()
	for d := dir; d != "/"; d = filepath.Dir(d) {
		if strings.HasPrefix(d, os.TempDir()+"/") {
			if err := os.Chmod(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// engineRootsBind binds src at /mnt, in the pod engineRootsPodUID.
func engineRootsBind(src string) func(*testing.T, *testutil.Bundle, *specs.Spec) {
	return func(_ *testing.T, _ *testutil.Bundle, s *specs.Spec) {
		s.Annotations = map[string]string{hardening.AnnotationCRISandboxUID: engineRootsPodUID}
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Type: "bind", Source: src, Options: []string{"rbind", "ro"}})
	}
}

// engineRootsConfig makes a directory standing in for /etc with the
// engines' configuration files (relative path: contents) and has the
// runtime read it (hardening.EngineConfigDirEnv): the host's own
// /etc/docker/daemon.json is never written.
func engineRootsConfig(t *testing.T, files map[string]string) {
	t.Helper()
	etc := t.TempDir()
	for name, body := range files {
		p := filepath.Join(etc, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv(hardening.EngineConfigDirEnv, etc)
}

// TestEngineRootsPolicy: an engine installed with its state elsewhere
// than the default path (dockerd --data-root /data/docker, kubelet
// --root-dir) had no sensitive directory: a config.json bound the whole
// data root (every container's layers and state) or another pod's
// secrets below the moved kubelet root, and ran. The policy's
// "engineRoots" names such roots: each is refused like the default.
func TestEngineRootsPolicy(t *testing.T) {
	docker := engineRootsTree(t, "docker", "overlay2/5b1c/diff/etc/shadow")
	kubelet := engineRootsTree(t, "kubelet", "pods/0a9b8c7d/volumes/kubernetes.io~secret/creds/token")
	containerd := engineRootsTree(t, "containerd", "io.containerd.content.v1.content/blobs/sha256/ab")
	policy, _ := testutil.WritePolicy(t, `{"engineRoots": {"docker": ["`+docker+`"], "kubelet": ["`+kubelet+`"], "containerd": ["`+containerd+`"]}}`)
	expectAllRefused(t, []attack{
		{name: "the whole docker root", tweak: engineRootsBind(docker),
			want: []string{"bind mount of host path " + docker + " at /mnt", `(rule host-mounts, allow with "allowHostMounts": ["` + docker + `"]`}},
		{name: "another container's layer", tweak: engineRootsBind(docker + "/overlay2/5b1c/diff"),
			want: []string{docker + "/overlay2/5b1c/diff at /mnt exposes " + docker, "rule host-mounts"}},
		{name: "an ancestor of the docker root", tweak: engineRootsBind(filepath.Dir(docker)),
			want: []string{filepath.Dir(docker) + " at /mnt exposes ", "rule host-mounts"}},
		{name: "another pod's secret", tweak: engineRootsBind(kubelet + "/pods/0a9b8c7d/volumes/kubernetes.io~secret/creds"),
			want: []string{"exposes " + kubelet + " (pod 0a9b8c7d is not the container's own pod " + engineRootsPodUID + ")", "rule host-mounts"}},
		{name: "containerd's content store", tweak: engineRootsBind(containerd + "/io.containerd.content.v1.content"),
			want: []string{"exposes " + containerd, "rule host-mounts"}},
	}, policy)
}

// TestEngineRootsPolicyOwnFilesRun: below a root of "engineRoots" what
// the engines bind into their own containers runs as below the default:
// the container's hosts file from <data-root>/containers/<id>/, a named
// volume, and its own pod's secret; read from inside.
func TestEngineRootsPolicyOwnFilesRun(t *testing.T) {
	docker := engineRootsTree(t, "docker", "containers/3f2a/hosts", "volumes/data/_data/file")
	kubelet := engineRootsTree(t, "kubelet", "pods/"+engineRootsPodUID+"/volumes/kubernetes.io~secret/creds/token")
	policy, _ := testutil.WritePolicy(t, `{"engineRoots": {"docker": ["`+docker+`"], "kubelet": ["`+kubelet+`"]}}`)
	rt := testutil.NewRuntime(t)
	b := testutil.NewBundle(t)
	b.Edit(t, func(s *specs.Spec) {
		s.Annotations = map[string]string{hardening.AnnotationCRISandboxUID: engineRootsPodUID}
		s.Mounts = append(s.Mounts,
			specs.Mount{Destination: "/etc/hosts", Type: "bind", Source: docker + "/containers/3f2a/hosts", Options: []string{"rbind", "ro"}},
			specs.Mount{Destination: "/data", Type: "bind", Source: docker + "/volumes/data/_data", Options: []string{"rbind", "ro"}},
			specs.Mount{Destination: "/run/secrets/creds", Type: "bind", Source: kubelet + "/pods/" + engineRootsPodUID + "/volumes/kubernetes.io~secret/creds", Options: []string{"rbind", "ro"}})
	})
	out, exit := runInside(t, rt, b, "cat /etc/hosts /data/file /run/secrets/creds/token", policy)
	if exit != 0 || strings.Count(out, "engine-state") != 3 {
		t.Errorf("the engines' own files below moved roots: exit %d, output %q", exit, out)
	}
}

// TestEngineRootsFromEngineConfig: with no policy key, the roots the
// engines' own configuration names are found (Docker's daemon.json
// "data-root", containerd's config.toml root and state, storage.conf's
// graphroot) and refused like the defaults, bind and rootfs alike.
func TestEngineRootsFromEngineConfig(t *testing.T) {
	docker := engineRootsTree(t, "docker", "image/overlay2/repositories.json")
	containerd := engineRootsTree(t, "containerd", "io.containerd.metadata.v1.bolt/meta.db")
	state := engineRootsTree(t, "containerd-state", "io.containerd.runtime.v2.task/k8s.io/ab12/config.json")
	storage := engineRootsTree(t, "storage", "overlay/ab12/diff/secret")
	engineRootsConfig(t, map[string]string{
		"docker/daemon.json":      `{"log-driver": "json-file", "data-root": "` + docker + `"}`,
		"containerd/config.toml":  "version = 2\nroot = \"" + containerd + "\"\nstate = \"" + state + "\"\n\n[plugins]\n",
		"containers/storage.conf": "[storage]\ndriver = \"overlay\"\ngraphroot = \"" + storage + "\"\n",
	})
	policy, _ := testutil.WritePolicy(t, `{}`)
	expectAllRefused(t, []attack{
		{name: "docker's data-root", tweak: engineRootsBind(docker + "/image"),
			want: []string{docker + "/image at /mnt exposes " + docker, `(rule host-mounts, allow with "allowHostMounts": ["` + docker + `/image"]`}},
		{name: "containerd's root", tweak: engineRootsBind(containerd),
			want: []string{"bind mount of host path " + containerd + " at /mnt", "rule host-mounts"}},
		{name: "containerd's state", tweak: engineRootsBind(state + "/io.containerd.runtime.v2.task/k8s.io/ab12"),
			want: []string{"exposes " + state, "rule host-mounts"}},
		{name: "podman's graphroot", tweak: engineRootsBind(storage + "/overlay"),
			want: []string{"exposes " + storage, "rule host-mounts"}},
		{name: "a layer of the moved store as rootfs", tweak: func(t *testing.T, b *testutil.Bundle, s *specs.Spec) {
			layer := filepath.Join(docker, "overlay2", "5b1c", "diff")
			if err := os.MkdirAll(filepath.Dir(layer), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(b.Rootfs, layer); err != nil {
				t.Fatal(err)
			}
			s.Root.Path = layer
		}, want: []string{"lies in the engine store " + docker + "/overlay2 and is not an overlay mount", "rule host-rootfs"}},
	}, policy)
}

// TestEngineRootsExplain: explain names the refusal and notes the roots
// in force beyond the built-in ones, with where each came from.
func TestEngineRootsExplain(t *testing.T) {
	docker := engineRootsTree(t, "docker")
	kubelet := engineRootsTree(t, "kubelet")
	engineRootsConfig(t, map[string]string{"docker/daemon.json": `{"data-root": "` + docker + `"}`})
	policy, _ := testutil.WritePolicy(t, `{"engineRoots": {"kubelet": ["`+kubelet+`"]}}`)
	rt := testutil.NewRuntime(t)
	b := testutil.NewBundle(t, "true")
	b.Edit(t, func(s *specs.Spec) { engineRootsBind(docker)(t, b, s) })
	out, errOut, exit := rt.Run(policy, "explain", b.Dir)
	if exit != 1 {
		t.Errorf("explain: exit %d, want 1 (refused); stderr %s", exit, errOut)
	}
	for _, want := range []string{
		"host-mounts: bind mount of host path " + docker + " at /mnt",
		"note: host-mounts: engines' state roots beyond the defaults, held sensitive like them: docker " + docker + " (found on the host), kubelet " + kubelet + ` (policy "engineRoots")`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("explain output lacks %q:\n%s", want, out)
		}
	}
}

// TestEngineRootsDockerDataRoot: behind a real dockerd whose data root is
// not /var/lib/docker and whose daemon.json says so, a `docker run -v`
// of a directory of that data root (its image store) is refused, while
// what Docker itself binds from there runs as before: the container's
// hosts, hostname, resolv.conf and /dev/shm from
// <data-root>/containers/<id>/, and a named volume.
func TestEngineRootsDockerDataRoot(t *testing.T) {
	etc := t.TempDir()
	wrapper := filepath.Join(t.TempDir(), "hardened-engineroots")
	script := "#!/bin/sh\n" + hardening.EngineConfigDirEnv + "=" + etc + " exec " + testutil.Binary(t) + " \"$@\"\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	dd := testutil.StartDockerd(t, wrapper)
	dataRoot, err := filepath.EvalSymlinks(filepath.Join(dd.Dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(etc, "docker"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(etc, "docker", "daemon.json"), []byte(`{"data-root": "`+dataRoot+`"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	img := testutil.DockerImportBusybox(t, dd)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, errOut, exit := dd.Run(ctx, "run", "--rm", "--runtime=hardened", "-v", "engineroots:/data", img,
		"sh", "-c", "grep -q localhost /etc/hosts && cat /etc/hostname >/dev/null && touch /dev/shm/x && echo volume > /data/f && cat /data/f")
	if exit != 0 || out != "volume\n" {
		t.Errorf("docker run with Docker's own files below the found data root: exit %d, stdout %q, stderr %s", exit, out, errOut)
	}
	_, errOut, exit = dd.Run(ctx, "run", "--rm", "--runtime=hardened", "-v", dataRoot+"/image:/mnt:ro", img, "ls", "/mnt")
	for _, want := range []string{"bind mount of host path " + dataRoot + "/image at /mnt exposes " + dataRoot, "rule host-mounts"} {
		if exit == 0 || !strings.Contains(errOut, want) {
			t.Errorf("docker run -v <data-root>/image: exit %d, stderr %s; want a refusal holding %q", exit, errOut, want)
		}
	}
}
