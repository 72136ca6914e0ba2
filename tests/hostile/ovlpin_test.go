package hostile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// ovlpinHostDir makes a directory under the bundle that the container's
// mapped root can reach (mode 0755, as its parents are made).
func ovlpinHostDir(t *testing.T, b *testutil.Bundle, rel string, mode os.FileMode) string {
	t.Helper()
	d := filepath.Join(b.Dir, rel)
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	for p := d; p != "/" && len(p) >= len(b.Dir); p = filepath.Dir(p) {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(d, mode); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestHostileOverlayLowerdirSwapRace swaps the lower layer of an overlay
// mount (a directory of a volume other containers may write, as Podman's
// `-v /src:/dst:O` names it) with a symlink to the host's /etc, in a loop,
// while containers run from the bundle. The host-mounts rule checks the
// layer by path (a symlink to /etc is refused); libcontainer's init
// mounted the overlay later by the same path, following whatever symlink
// was there by then, so the container read the host's /etc. Now the
// runtime opens each layer once, compares it with what the rule checked
// and hands the init a clone of it (Stage.PinOverlays). Every run must
// show the volume's layer, or be refused; never the host's /etc.
func TestHostileOverlayLowerdirSwapRace(t *testing.T) {
	ovlpinSwapRace(t, "lowerdir", func(b *testutil.Bundle, swapped string) []string {
		return []string{"lowerdir=" + swapped + ":" + ovlpinHostDir(t, b, "vol/base", 0o755)}
	})
}

// TestHostileOverlayUpperdirSwapRace is TestHostileOverlayLowerdirSwapRace
// for the upper layer, which the container writes: the upper and work
// directories are cloned together (overlayfs wants them on one mount) as
// their common directory, in which the init looks them up by path, so the
// clone follows no symlink.
func TestHostileOverlayUpperdirSwapRace(t *testing.T) {
	ovlpinSwapRace(t, "upperdir", func(b *testutil.Bundle, swapped string) []string {
		src := ovlpinHostDir(t, b, "vol/src", 0o755)
		work := ovlpinHostDir(t, b, "vol/s/work", 0o777)
		return []string{"lowerdir=" + src + ",upperdir=" + swapped + ",workdir=" + work}
	})
}

// ovlpinSwapRace runs the swap race on the overlay directory that key
// names: options returns the overlay's options with swapped, a directory
// of a volume holding a marker, in that place. The directory is swapped
// (RENAME_EXCHANGE) with a symlink to the host's /etc in a loop while 40
// containers run with the overlay at /mnt; each must show the marker, or
// be refused, never the host's /etc.
func ovlpinSwapRace(t *testing.T, key string, options func(b *testutil.Bundle, swapped string) []string) {
	rt := testutil.NewRuntime(t)
	b := testutil.NewBundle(t)
	swapped := ovlpinHostDir(t, b, "vol/s/layer", 0o777)
	if err := os.WriteFile(filepath.Join(swapped, "marker"), []byte("volume-layer\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	alt := swapped + ".alt"
	if err := os.Symlink("/etc", alt); err != nil {
		t.Fatal(err)
	}
	opts := options(b, swapped)
	b.Edit(t, func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Type: "overlay", Source: "overlay", Options: opts})
	})
	b.SetArgs(t, "/bin/sh", "-c", "if test -e /mnt/shadow || test -e /mnt/passwd; then echo HOST-ETC; fi; cat /mnt/marker 2>/dev/null || echo no-marker; true")
	c := swapRace{path: swapped, alt: alt, runs: 40,
		leaks: []string{"HOST-ETC"}, leaked: "the host's /etc as the overlay's " + key,
		want: []string{"volume-layer"}, refusal: ovlpinSwapRefusal,
	}.run(t, rt, b)
	if c.seen["volume-layer"] == 0 {
		t.Errorf("no run mounted the volume's %s: the race was not exercised", key)
	}
}

// ovlpinSwapRefusal reports whether stderr is one of the refusals an
// overlay layer swapped under create may meet: the host-mounts rule saw
// the symlink to /etc, or the layer, opened once, no longer resolved to
// the directory checked; or (upper and work directories, looked up by
// the init in the clone of their common directory) the clone followed no
// symlink swapped in after they were opened.
func ovlpinSwapRefusal(stderr string) bool {
	if strings.Contains(stderr, "-rw/") && strings.Contains(stderr, "too many levels of symbolic links") {
		return true
	}
	for _, s := range []string{"rule host-mounts", "overlay mount at"} {
		if strings.Contains(stderr, s) {
			return true
		}
	}
	return false
}

// TestHostileOverlayPinnedPodmanShape: an overlay mount shaped as Podman's
// `-v /src:/dst:O` (lowerdir a host directory, upperdir and workdir beside
// each other in the engine's storage) still works with the layers pinned:
// the container reads the host directory's files through it and writes
// to the upper layer (symlinks too, though the clone of the upper and
// work directories is nosymfollow), not to the host directory.
func TestHostileOverlayPinnedPodmanShape(t *testing.T) {
	rt := testutil.NewRuntime(t)
	b := testutil.NewBundle(t)
	src := ovlpinHostDir(t, b, "src", 0o755)
	if err := os.WriteFile(filepath.Join(src, "marker"), []byte("from-src\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	upper := ovlpinHostDir(t, b, "storage/overlay/1/upper", 0o777)
	work := ovlpinHostDir(t, b, "storage/overlay/1/work", 0o777)
	b.Edit(t, func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "overlay", Source: "overlay",
			Options: []string{"lowerdir=" + src + ",upperdir=" + upper + ",workdir=" + work, "private"}})
	})
	out, exit := runInside(t, rt, b, "cat /data/marker && echo written > /data/new && ln -s new /data/link && cat /data/link && grep ' /data ' /proc/self/mountinfo")
	if exit != 0 || !strings.Contains(out, "from-src") || !strings.Contains(out, "written") {
		t.Fatalf("overlay of a host directory: exit %d, output:\n%s", exit, out)
	}
	// The overlay was mounted (on the host, in a user namespace) from
	// the clones of the directories opened once, not the paths as
	// written.
	lower := strings.Contains(out, "lowerdir=/run/hardened-idmap/") || strings.Contains(out, "lowerdir+=/run/hardened-idmap/")
	if strings.Contains(out, src) || strings.Contains(out, upper) || !lower || !strings.Contains(out, "-rw/upper") {
		t.Errorf("the overlay's options name other directories than the runtime's clones:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(src, "new")); err == nil {
		t.Errorf("the container's write reached the lower layer %s", src)
	}
	if data, err := os.ReadFile(filepath.Join(upper, "new")); err != nil || string(data) != "written\n" {
		t.Errorf("upper layer's new file: %q, %v", data, err)
	}
}
