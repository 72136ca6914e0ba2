package hostile

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"

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
	var stop atomic.Bool
	var swaps atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			if err := unix.Renameat2(unix.AT_FDCWD, lib, unix.AT_FDCWD, alt, unix.RENAME_EXCHANGE); err != nil {
				t.Errorf("swap: %v", err)
				return
			}
			swaps.Add(1)
		}
	}()
	const runs = 30
	var bound, unbound, refused int
	for i := 0; i < runs; i++ {
		out, errOut, exit := rt.Run("run", "--bundle", b.Dir, rt.NewID())
		switch got := strings.TrimSpace(out); {
		case strings.Contains(out, "host-secret"):
			t.Errorf("run %d mounted the host directory at /var/lib (exit %d): %q", i, exit, out)
		case exit == 0 && got == "image-lib":
			bound++
		case exit == 0 && got == "no-marker":
			unbound++
		case exit != 0 && writableSwapRefusal(errOut):
			if refused == 0 {
				t.Logf("run %d refused: %s", i, strings.TrimSpace(errOut))
			}
			refused++
		default:
			t.Errorf("run %d: exit %d, stdout %q, stderr %q: neither the image's /var/lib, nor none, nor a refusal", i, exit, out, errOut)
		}
	}
	stop.Store(true)
	wg.Wait()
	// Leave the real directory at var/lib for the cleanup.
	if fi, err := os.Lstat(lib); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		if err := unix.Renameat2(unix.AT_FDCWD, lib, unix.AT_FDCWD, alt, unix.RENAME_EXCHANGE); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d runs: %d with the image's /var/lib, %d without the bind, %d refused; %d swaps", runs, bound, unbound, refused, swaps.Load())
	if bound == 0 {
		t.Errorf("no run mounted the image's /var/lib: the race was not exercised")
	}
}

// writableSwapRefusal reports whether stderr is one of the refusals a
// writable path swapped under create may meet: the host-mounts rule saw
// the saved bind's source resolve outside the rootfs, or the source,
// opened inside the staged rootfs, was the symlink by then (which
// resolves there to nothing) or moved while it was opened; or
// libcontainer's init found the mount point (the same directory, now
// the destination) swapped while it mounted there, or a symlink on the
// way to it when it scoped the destination to the rootfs.
func writableSwapRefusal(stderr string) bool {
	for _, s := range []string{"rule host-mounts", "bind mount source", "no longer names the opened", "reopen mountpoint after mount", "failed to construct hallucinated target path"} {
		if strings.Contains(stderr, s) {
			return true
		}
	}
	return false
}
