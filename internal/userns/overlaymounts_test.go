package userns

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestCommonDir(t *testing.T) {
	for _, tc := range []struct{ a, b, want string }{
		{"/s/overlay/1/upper", "/s/overlay/1/work", "/s/overlay/1"},
		{"/s/a/upper", "/s/b/c/work", "/s"},
		{"/s/upper", "/s/upper/work", "/s"},
		{"/s/upperx", "/s/upper", "/s"},
		{"/a/upper", "/b/work", "/"},
	} {
		if got := commonDir(tc.a, tc.b); got != tc.want {
			t.Errorf("commonDir(%q, %q) = %q, want %q", tc.a, tc.b, got, tc.want)
		}
	}
}

// ovlpinStage returns a Stage whose staged rootfs and staging directory
// are temporary directories, with every mount under the staging
// directory taken off at the end.
func ovlpinStage(t *testing.T) *Stage {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("needs root")
	}
	u := &Stage{staged: t.TempDir(), dir: t.TempDir()}
	t.Cleanup(func() {
		entries, _ := os.ReadDir(u.dir)
		for _, e := range entries {
			for unix.Unmount(filepath.Join(u.dir, e.Name()), unix.MNT_DETACH) == nil {
			}
		}
	})
	return u
}

func TestPinOverlaysClonesTheCheckedDirectories(t *testing.T) {
	u := ovlpinStage(t)
	vol := t.TempDir()
	for _, d := range []string{"lower", "s/upper", "s/work"} {
		if err := os.MkdirAll(filepath.Join(vol, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(vol, "lower", "marker"), []byte("layer"), 0o644); err != nil {
		t.Fatal(err)
	}
	lower, upper, work := filepath.Join(vol, "lower"), filepath.Join(vol, "s/upper"), filepath.Join(vol, "s/work")
	s := &specs.Spec{Root: &specs.Root{Path: "rootfs"}, Mounts: []specs.Mount{
		{Destination: "/b", Type: "bind", Source: lower, Options: []string{"rbind"}},
		{Destination: "/mnt", Type: "overlay", Source: "overlay", Options: []string{"lowerdir=" + lower + ",upperdir=" + upper + ",workdir=" + work, "private"}},
	}}
	if err := u.PinOverlays(s, map[string]string{}); err != nil {
		t.Fatal(err)
	}
	if _, ok := u.overlays[0]; ok {
		t.Errorf("the bind mount got overlay options: %q", u.overlays[0])
	}
	rw := filepath.Join(u.dir, "overlay1-rw")
	want := []string{"lowerdir=" + filepath.Join(u.dir, "overlay1-0") + ",upperdir=" + rw + "/upper,workdir=" + rw + "/work", "private"}
	if got := u.overlays[1]; !slices.Equal(got, want) {
		t.Fatalf("options %q, want %q", got, want)
	}
	if data, err := os.ReadFile(filepath.Join(u.dir, "overlay1-0", "marker")); err != nil || string(data) != "layer" {
		t.Errorf("clone of the lower layer: %q, %v", data, err)
	}
	// The clone of upper and work's directory follows no symlink.
	if err := os.Symlink("/etc", filepath.Join(vol, "s", "link")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(rw, "link", "passwd")); !errors.Is(err, unix.ELOOP) {
		t.Errorf("a symlink in the clone of upper and work's directory: %v, want ELOOP", err)
	}
	// Rewrite gives the converted spec the clones' options, leaving the
	// caller's spec alone.
	conv := *s
	root := *s.Root
	conv.Root = &root
	conv.Mounts = slices.Clone(s.Mounts)
	u.Rewrite(&conv)
	if !slices.Equal(conv.Mounts[1].Options, want) || slices.Equal(s.Mounts[1].Options, want) {
		t.Errorf("Rewrite: %q (caller's %q)", conv.Mounts[1].Options, s.Mounts[1].Options)
	}
}

func TestPinOverlaysRefusesASwappedLayer(t *testing.T) {
	u := ovlpinStage(t)
	vol := t.TempDir()
	lower := filepath.Join(vol, "lower")
	if err := os.Symlink("/etc", lower); err != nil {
		t.Fatal(err)
	}
	s := &specs.Spec{Mounts: []specs.Mount{{Destination: "/mnt", Type: "overlay", Source: "overlay", Options: []string{"lowerdir=" + lower + ":/tmp"}}}}
	// Checked while it was a directory (it resolved to itself).
	err := u.PinOverlays(s, map[string]string{lower: lower})
	if err == nil || !strings.Contains(err.Error(), "overlay mount at /mnt: lowerdir "+lower+": resolves to /etc, not to "+lower) {
		t.Errorf("a layer swapped for a symlink to /etc since the check: %v", err)
	}
}
