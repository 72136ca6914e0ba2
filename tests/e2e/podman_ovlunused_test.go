package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// TestPodmanOvlUnusedEngineRoot: with the private Podman's graph root
// known to the runtime as containers/storage's root (the policy's
// "engineRoots"), Podman's own containers still run on their overlays
// (containers.json gives the layer to the container whose userdata
// directory is the bundle): a --rm one (volatile-containers.json) and a
// kept one, started again. Another container's overlay, mounted by
// `podman mount` and used by no process, is refused to a config.json that
// names it, with a 0600 file of its upper layer unread.
func TestPodmanOvlUnusedEngineRoot(t *testing.T) {
	p := testutil.StartPodman(t, testutil.Binary(t))
	pol := filepath.Join(t.TempDir(), "policy.json")
	graph := filepath.Join(p.Dir, "root")
	if err := os.WriteFile(pol, []byte(`{"engineRoots": {"containersStorage": ["`+graph+`"]}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	flag := []string{"--runtime-flag", "policy=" + pol}
	run := func(more ...string) []string {
		return append(append(append(append([]string{}, flag...), "run"), testutil.PodmanRunArgs()...), more...)
	}
	if out := mustPodman(t, p, append(run("--rm"), testutil.BusyboxImage, "echo", "volatile-ran")...); !strings.Contains(out, "volatile-ran") {
		t.Errorf("podman run --rm: %q", out)
	}
	name := uniqueName("ovl")
	mustPodman(t, p, append(run("--name", name), testutil.BusyboxImage, "echo", "kept-ran")...)
	if out := mustPodman(t, p, append(flag, "start", "-a", name)...); !strings.Contains(out, "kept-ran") {
		t.Errorf("podman start of a kept container: %q", out)
	}
	removePodman(t, p, name)

	victim := uniqueName("victim")
	mustPodman(t, p, "create", "--name", victim, testutil.BusyboxImage, "true")
	t.Cleanup(func() { _, _, _ = podmanCmd(t, p, "rm", "-f", victim) })
	merged := strings.TrimSpace(mustPodman(t, p, "mount", victim))
	t.Cleanup(func() { _, _, _ = podmanCmd(t, p, "umount", victim) })
	if err := os.WriteFile(filepath.Join(merged, "secret"), []byte("victim's\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rt := testutil.NewRuntime(t)
	attacker := testutil.NewBundle(t, "cat", "/secret")
	attacker.Spec.Root.Path = merged
	attacker.Write(t)
	out, errOut, exit := rt.Run("--policy="+pol, "run", "--bundle", attacker.Dir, rt.NewID())
	if exit == 0 || strings.Contains(out, "victim's") {
		t.Fatalf("a container on another container's podman-mounted overlay: exit %d, output %q", exit, out)
	}
	for _, want := range []string{"rootfs " + merged + " is an overlay mount in the engine root " + graph, `(rule host-rootfs, allow with "allowRootfs"`} {
		if !strings.Contains(errOut, want) {
			t.Errorf("refusal %q does not hold %q", errOut, want)
		}
	}
}
