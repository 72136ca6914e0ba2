package hostile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// TestHostileWritablePathSwapRace swaps a writable path of the rootfs
// (/var/lib, which the default policy binds read-write on the read-only
// rootfs) with an absolute symlink to a host directory, in a loop, while
// containers run from the bundle: what a writer of the rootfs (another
// container sharing it, the engine's layer) can do between the check of
// the directory and the init's bind mount. libcontainer mounts a bind
// source by its path, following symlinks on the host, so the runtime
// hands it a clone of the directory opened inside the staged rootfs
// (Stage.PinBinds) instead. Every run must show the image's /var/lib, or
// no bind at all (the path was the symlink when it was checked), or be
// refused; never the host directory. The saved config.json carries the
// bind after the first run, so later runs check it as a caller mount too.
func TestHostileWritablePathSwapRace(t *testing.T) {
	rt := testutil.NewRuntime(t)
	b := testutil.NewBundle(t)
	lib := filepath.Join(b.Rootfs, "var", "lib")
	if err := os.WriteFile(filepath.Join(lib, "marker"), []byte("image-lib\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A host directory the container's mapped root could read, were it
	// mounted: only the swap may bring it in.
	secret := filepath.Join(b.Dir, "host-secret")
	if err := os.Mkdir(secret, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(secret, "marker"), []byte("host-secret\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	alt := lib + ".alt"
	if err := os.Symlink(secret, alt); err != nil {
		t.Fatal(err)
	}
	b.SetArgs(t, "/bin/sh", "-c", "cat /var/lib/marker 2>/dev/null || echo no-marker; true")
	c := swapRace{path: lib, alt: alt, runs: 30,
		leaks: []string{"host-secret"}, leaked: "the host directory at /var/lib",
		// no-marker: no bind (the path was the symlink when checked).
		want: []string{"image-lib", "no-marker"}, refusal: writableSwapRefusal,
	}.run(t, rt, b)
	if c.seen["image-lib"] == 0 {
		t.Errorf("no run mounted the image's /var/lib: the race was not exercised")
	}
}

// writableSwapRefusal reports whether stderr is one of the refusals a
// writable path swapped under create may meet: the host-mounts rule saw
// the saved bind's source resolve outside the rootfs, or the source,
// opened inside the staged rootfs, was the symlink by then (which
// resolves there to nothing) or moved while it was opened; or
// libcontainer's init found the mount point (the same directory, now
// the destination) swapped while it mounted there, a symlink on the
// way to it when it scoped the destination to the rootfs, or the
// symlink in its place when it made the mount point.
func writableSwapRefusal(stderr string) bool {
	for _, s := range []string{"rule host-mounts", "bind mount source", "no longer names the opened", "reopen mountpoint after mount", "failed to construct hallucinated target path", "create mountpoint for /var/lib mount"} {
		if strings.Contains(stderr, s) {
			return true
		}
	}
	return false
}
