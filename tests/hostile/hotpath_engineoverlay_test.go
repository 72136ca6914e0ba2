package hostile

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// TestHostileOverlayOfAnotherRuntimesContainerdBundle: like
// TestHostileOverlayOfAnotherRuntimesContainer, with the victim laid out
// as containerd lays out a container (its overlay mounted at
// <tasks>/<victim id>/rootfs) and the attacker's bundle beside it, named
// by its own container ID, as containerd names it. The runtime skips the
// search among the processes' root directories for the overlay an engine
// mounted for the container itself (hardening.EngineOwnOverlay); config.json
// must not make the victim's overlay pass for the attacker's own, by a
// relative or an absolute root.path.
func TestHostileOverlayOfAnotherRuntimesContainerdBundle(t *testing.T) {
	for _, rootPath := range []string{"../VICTIM/rootfs", "ABS"} {
		t.Run(rootPath, func(t *testing.T) {
			rt := testutil.NewRuntime(t)
			tasks := t.TempDir()
			if err := os.Chmod(tasks, 0o755); err != nil {
				t.Fatal(err)
			}
			victimID, attackerID := rt.NewID(), rt.NewID()
			merged, upper := hotpathContainerdOverlay(t, tasks, victimID)
			pid := startProcessRootedAt(t, merged)
			owner := ownerOf(t, filepath.Join(upper, "secret"))

			attacker := testutil.NewBundle(t, "cat", "/secret")
			dir := filepath.Join(tasks, attackerID)
			if err := os.Rename(attacker.Dir, dir); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = os.RemoveAll(dir) })
			attacker.Dir, attacker.Rootfs = dir, filepath.Join(dir, "rootfs")
			attacker.Edit(t, func(s *specs.Spec) {
				s.Root.Path = "../" + victimID + "/rootfs"
				if rootPath == "ABS" {
					s.Root.Path = merged
				}
			})
			out, errOut, exit := rt.Run("run", "--bundle", attacker.Dir, attackerID)
			expectOverlayNotTakenOver(t, upper, owner, pid, out, errOut, exit)
		})
	}
}

// hotpathContainerdOverlay mounts a busybox overlay at <tasks>/<id>/rootfs
// (its layers beside tasks) with a file "secret" in its upper directory,
// and returns the mount point and the upper directory.
func hotpathContainerdOverlay(t *testing.T, tasks, id string) (merged, upper string) {
	t.Helper()
	layers := t.TempDir()
	if err := os.Chmod(layers, 0o755); err != nil {
		t.Fatal(err)
	}
	merged = filepath.Join(tasks, id, "rootfs")
	return merged, ovlUnusedOverlay(t, layers, merged)
}
