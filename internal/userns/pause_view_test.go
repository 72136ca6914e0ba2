package userns

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/moby/sys/mountinfo"
)

// TestViewAtRestNosuid: at rest container root's files are host root's,
// so a file the container made set-user-ID root would be set-user-ID
// host root at the engine's path while the container is paused. The
// view is mounted read-only, nosuid and nodev: the file runs as whoever
// runs it.
func TestViewAtRestNosuid(t *testing.T) {
	rng, ns := stagingUserns(t)
	idBin, err := exec.LookPath("id")
	if err != nil {
		t.Skip(err)
	}
	o := mountCallerOverlay(t, "")
	// A host user must reach the file to run it.
	for d := filepath.Dir(o.upper); d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// What container root made set-user-ID in its layer: owned by
	// container root at rest.
	bin, err := os.ReadFile(idBin)
	if err != nil {
		t.Fatal(err)
	}
	suid := filepath.Join(o.upper, "suid-id")
	if err := os.WriteFile(suid, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Chmod(suid, 0o4755); err != nil {
		t.Fatal(err)
	}
	dir, pinned := newStagingDir(t, o)
	if err := (overlayRebuild{}).stageOverlay(pinned, dir, ns, rng); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unstage(kernelMounts{}, dir) })
	if err := showLayerAtRest(kernelMounts{}, dir, nil); err != nil {
		t.Fatal(err)
	}
	mounts, err := mountinfo.GetMounts(mountinfo.SingleEntryFilter(o.merged))
	if err != nil || len(mounts) == 0 {
		t.Fatalf("mountinfo of %s: %v", o.merged, err)
	}
	view := mounts[len(mounts)-1]
	if opts := strings.Split(view.Options, ","); !slices.Contains(opts, "ro") || !slices.Contains(opts, "nosuid") || !slices.Contains(opts, "nodev") {
		t.Errorf("the view at rest at %s is mounted %s, want ro,nosuid,nodev", o.merged, view.Options)
	}
	cmd := exec.Command(filepath.Join(o.merged, "suid-id"), "-u")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if got := strings.TrimSpace(string(out)); err != nil || got != "65534" {
		t.Errorf("a set-user-ID file of container root, run by host user 65534 at the engine's path while paused: %q (%v), want 65534", got, err)
	}
	if err := showLiveLayer(kernelMounts{}, dir); err != nil {
		t.Fatal(err)
	}
	if err := unstage(kernelMounts{}, dir); err != nil {
		t.Fatal(err)
	}
	o.checkCallerBack(t, dir)
}
