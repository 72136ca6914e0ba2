package hostile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// ovlUnusedOverlay mounts a busybox overlay at merged (its lower, upper
// and work directories beside it, in layers) with a file "secret" of
// mode 0600 in its upper directory: an engine's container overlay,
// mounted while no process runs in it (podman mount, Buildah's working
// container, a created or stopped container). It returns the upper
// directory; the overlay is unmounted at the end of the test.
func ovlUnusedOverlay(t *testing.T, layers, merged string) (upper string) {
	t.Helper()
	lower, work := filepath.Join(layers, "lower"), filepath.Join(layers, "work")
	upper = filepath.Join(layers, "diff")
	testutil.BusyboxRootfs(t, lower)
	for _, p := range []string{upper, work, merged} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(upper, "secret"), []byte("victim's\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("overlay", merged, "overlay", 0, "lowerdir="+lower+",upperdir="+upper+",workdir="+work); err != nil {
		t.Skipf("overlay: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(merged, unix.MNT_DETACH) })
	return upper
}

// ovlUnusedRoot makes an engine root in a temporary directory of t,
// traversable by everyone as the engines' are.
func ovlUnusedRoot(t *testing.T, name string) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	traversableTempParents(t, root)
	return root
}

// TestHostileOvlUnusedEngineOverlay: root.path names another container's
// overlay mount inside an engine's store that no process has as its root
// directory (so the search among the processes' roots finds nothing).
// Each engine root is a temporary directory named by the policy's
// "engineRoots" or by the engines' own configuration
// (hardening.EngineConfigDirEnv). The container must not read the 0600
// file in the victim's upper layer nor shift its owner: refused by the
// host-rootfs rule with the allowRootfs key.
func TestHostileOvlUnusedEngineOverlay(t *testing.T) {
	for _, tc := range []struct {
		name string
		// kind is the engineRoots kind; merged is the overlay's path
		// below the root.
		kind, merged string
		// config, when set, names the root in this engines'
		// configuration file instead of the policy.
		config string
	}{
		{name: "podman mount", kind: "containersStorage", merged: "overlay/9f3e1a/merged"},
		{name: "podman mount: graphroot from storage.conf", kind: "containersStorage", merged: "overlay/9f3e1a/merged", config: "containers/storage.conf"},
		{name: "stopped docker container", kind: "docker", merged: "overlay2/5b1c2d/merged"},
		{name: "stopped docker container: data-root from daemon.json", kind: "docker", merged: "overlay2/5b1c2d/merged", config: "docker/daemon.json"},
		{name: "docker containerd image store", kind: "docker", merged: "rootfs/overlayfs/5b1c2d"},
		{name: "created ctr task", kind: "containerdState", merged: "io.containerd.runtime.v2.task/default/victim/rootfs"},
		{name: "containerd temporary mount", kind: "containerd", merged: "tmpmounts/m-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// First: its check for mounts left behind runs after the
			// overlay's unmount.
			rt := testutil.NewRuntime(t)
			root := ovlUnusedRoot(t, tc.kind)
			merged := filepath.Join(root, tc.merged)
			upper := ovlUnusedOverlay(t, ovlUnusedRoot(t, "layers"), merged)
			owner := ownerOf(t, filepath.Join(upper, "secret"))
			policy, _ := testutil.WritePolicy(t, `{"engineRoots": {"`+tc.kind+`": ["`+root+`"]}}`)
			switch tc.config {
			case "containers/storage.conf":
				engineRootsConfig(t, map[string]string{tc.config: "[storage]\ndriver = \"overlay\"\ngraphroot = \"" + root + "\"\n"})
				policy, _ = testutil.WritePolicy(t, `{}`)
			case "docker/daemon.json":
				engineRootsConfig(t, map[string]string{tc.config: `{"data-root": "` + root + `"}`})
				policy, _ = testutil.WritePolicy(t, `{}`)
			}
			attacker := testutil.NewBundle(t, "cat", "/secret")
			attacker.Edit(t, func(s *specs.Spec) { s.Root.Path = merged })
			out, errOut, exit := rt.Run(policy, "run", "--bundle", attacker.Dir, rt.NewID())
			if strings.Contains(out, "victim's") {
				t.Errorf("the container read the other container's 0600 file")
			}
			if got := ownerOf(t, filepath.Join(upper, "secret")); got != owner {
				t.Errorf("the other container's file now owned by %d (was %d)", got, owner)
			}
			if exit == 0 {
				t.Fatalf("a container on another container's unused overlay ran: %q", out)
			}
			for _, want := range []string{
				"rootfs " + merged + " is an overlay mount in the engine root " + root + " that the engine's own records do not give to this container",
				`(rule host-rootfs, allow with "allowRootfs": ["` + merged + `"]`,
			} {
				if !strings.Contains(errOut, want) {
					t.Errorf("refusal %q does not hold %q", errOut, want)
				}
			}
		})
	}
}

// TestHostileOvlUnusedEngineOwnRuns: what the engines' records give to
// the container runs. A Podman container: its layer in containers.json
// (root's) under the graph root, its bundle the userdata directory of
// that container. And a caller's own overlay outside every engine root
// (the bench's, the tests'), which no process uses, keeps running.
func TestHostileOvlUnusedEngineOwnRuns(t *testing.T) {
	t.Run("podman's own container", func(t *testing.T) {
		rt := testutil.NewRuntime(t)
		graph := ovlUnusedRoot(t, "storage")
		merged := filepath.Join(graph, "overlay", "9f3e1a", "merged")
		ovlUnusedOverlay(t, ovlUnusedRoot(t, "layers"), merged)
		records := filepath.Join(graph, "overlay-containers", "containers.json")
		userdata := filepath.Join(graph, "overlay-containers", "c0ffee", "userdata")
		if err := os.MkdirAll(userdata, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(records, []byte(`[{"id":"c0ffee","names":["web"],"image":"i","layer":"9f3e1a"}]`), 0o600); err != nil {
			t.Fatal(err)
		}
		policy, _ := testutil.WritePolicy(t, `{"engineRoots": {"containersStorage": ["`+graph+`"]}}`)
		b := testutil.NewBundle(t)
		if err := os.Rename(filepath.Join(b.Dir, "config.json"), filepath.Join(userdata, "config.json")); err != nil {
			t.Fatal(err)
		}
		b.Dir = userdata
		b.Edit(t, func(s *specs.Spec) { s.Root.Path = merged })
		out, exit := runInside(t, rt, b, "cat /secret", policy)
		if exit != 0 || !strings.Contains(out, "victim's") {
			t.Errorf("podman's own container on its own layer: exit %d, output %q", exit, out)
		}
	})
	t.Run("a caller's own overlay outside the engines' roots", func(t *testing.T) {
		rt := testutil.NewRuntime(t)
		merged := filepath.Join(ovlUnusedRoot(t, "own"), "merged")
		ovlUnusedOverlay(t, ovlUnusedRoot(t, "layers"), merged)
		b := testutil.NewBundle(t)
		b.Edit(t, func(s *specs.Spec) { s.Root.Path = merged })
		out, exit := runInside(t, rt, b, "cat /secret")
		if exit != 0 || !strings.Contains(out, "victim's") {
			t.Errorf("a caller's own overlay: exit %d, output %q", exit, out)
		}
	})
}
