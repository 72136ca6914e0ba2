package hostile

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// TestHostileBundleDirSwapRace: whoever can write the directory above the
// bundle (the threat model's "anyone who can write the bundle directory")
// swaps the bundle directory with a symlink to a host directory (standing
// for /etc or another container's bundle) in a loop while containers are
// run from it. The rewritten config.json and the kept config.json.orig
// must land in the bundle that was loaded, never in the host directory.
func TestHostileBundleDirSwapRace(t *testing.T) {
	rt := testutil.NewRuntime(t)
	b := testutil.NewBundle(t, "true")
	victim := t.TempDir()
	alt := b.Dir + ".alt"
	if err := os.Symlink(victim, alt); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(b.ConfigPath())
	if err != nil {
		t.Fatal(err)
	}
	const runs = 30
	var ran int
	for i := 0; i < runs; i++ {
		// Each run starts from the caller's config.json.
		if err := os.WriteFile(b.ConfigPath(), raw, 0o644); err != nil {
			t.Fatal(err)
		}
		swapper := startSwapping(t, b.Dir, alt)
		swapper.holdForRun(i)
		_, _, exit := rt.Run("run", "--bundle", b.Dir, rt.NewID())
		swapper.finish()
		if exit == 0 {
			ran++
		}
		ents, err := os.ReadDir(victim)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			t.Errorf("run %d (exit %d) wrote %s into the host directory the bundle was swapped for", i, exit, filepath.Join(victim, e.Name()))
		}
		if len(ents) > 0 {
			break
		}
	}
	t.Logf("%d runs ran", ran)
}
