package hostile

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// TestHostileWritablePathSwapIntoImage: a directory bundle's rootfs is shared
// with another running container, which can write its writable paths
// (<rootfs>/tmp). It swaps <rootfs>/tmp with a symlink to /etc (which the
// runtime resolves inside the rootfs: the image's read-only /etc) in a
// loop while containers are created from the bundle. The writable-path
// rule found /tmp a real directory, with no symlink on its way: what is
// made writable must be that directory, never the image's /etc.
func TestHostileWritablePathSwapIntoImage(t *testing.T) {
	rt := testutil.NewRuntime(t)
	b := testutil.NewBundle(t)
	b.SetArgs(t, "/bin/sh", "-c", "touch /tmp/review2-marker 2>/dev/null; true")
	tmp := filepath.Join(b.Rootfs, "tmp")
	alt := filepath.Join(b.Rootfs, "tmp.alt")
	if err := os.MkdirAll(tmp, 0o1777); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc", alt); err != nil {
		t.Fatal(err)
	}
	swapper := startSwapping(t, tmp, alt)
	leaked := filepath.Join(b.Rootfs, "etc", "review2-marker")
	var ran int
	for i := 0; i < 40; i++ {
		swapper.holdForRun(i)
		if _, _, exit := rt.Run("run", "--bundle", b.Dir, rt.NewID()); exit == 0 {
			ran++
		}
		if _, err := os.Lstat(leaked); err == nil {
			t.Errorf("run %d wrote into the image's read-only /etc through the writable /tmp", i)
			break
		}
	}
	swapper.finish()
	t.Logf("%d runs ran", ran)
}
