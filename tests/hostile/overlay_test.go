package hostile

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// overlayVictim is an engine-style overlay rootfs (lower: a busybox
// rootfs, upper: the container's layer with a private file of container
// root) mounted at merged, as Docker, containerd and Podman mount one.
type overlayVictim struct {
	lower, upper, work, merged string
}

func overlayMountVictim(t *testing.T) overlayVictim {
	t.Helper()
	d := t.TempDir()
	if err := os.Chmod(d, 0o755); err != nil {
		t.Fatal(err)
	}
	v := overlayVictim{lower: filepath.Join(d, "lower"), upper: filepath.Join(d, "diff"), work: filepath.Join(d, "work"), merged: filepath.Join(d, "merged")}
	testutil.BusyboxRootfs(t, v.lower)
	for _, p := range []string{v.upper, v.work, v.merged} {
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(v.upper, "secret"), []byte("victim's\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("overlay", v.merged, "overlay", 0, "lowerdir="+v.lower+",upperdir="+v.upper+",workdir="+v.work); err != nil {
		t.Skipf("overlay: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(v.merged, unix.MNT_DETACH) })
	return v
}

func ownerOf(t *testing.T, path string) uint32 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Uid
}

// TestHostileOverlayOfAnotherContainer: a config.json whose root.path is
// the overlay rootfs of another, running container (its engine path)
// must not take that container's layer: its files keep their owner and
// the running container keeps them.
func TestHostileOverlayOfAnotherContainer(t *testing.T) {
	rt := testutil.NewRuntime(t)
	v := overlayMountVictim(t)
	victim := testutil.NewBundle(t, "sleep", "1000")
	victim.Edit(t, func(s *specs.Spec) { s.Root.Path = v.merged })
	vid := rt.NewID()
	rt.MustRun("run", "--detach", "--bundle", victim.Dir, vid)
	owner := ownerOf(t, filepath.Join(v.upper, "secret"))
	if owner == 0 {
		t.Fatalf("the victim's layer is not in its range while it runs (owner 0)")
	}

	attacker := testutil.NewBundle(t, "true")
	attacker.Edit(t, func(s *specs.Spec) { s.Root.Path = v.merged })
	aid := rt.NewID()
	_, errOut, exit := rt.Run("run", "--bundle", attacker.Dir, aid)
	if got := ownerOf(t, filepath.Join(v.upper, "secret")); got != owner {
		t.Errorf("the victim's file now owned by %d (was %d): the attacker's create took over its layer (exit %d: %s)", got, owner, exit, errOut)
	}
	if exit == 0 {
		t.Errorf("a second container on a running container's overlay rootfs ran; want it refused")
	} else if !strings.Contains(errOut, "rootfs") {
		t.Errorf("refusal %q does not name the rootfs", errOut)
	}
	// The victim's rebuilt overlay in the staging directory, named
	// directly.
	staged, _ := filepath.Glob(filepath.Join("/run/hardened-idmap", "*", vid, "rootfs"))
	if len(staged) != 1 {
		t.Fatalf("the victim's staged rootfs: %v", staged)
	}
	attacker2 := testutil.NewBundle(t, "true")
	attacker2.Edit(t, func(s *specs.Spec) { s.Root.Path = staged[0] })
	if _, errOut, exit := rt.Run("run", "--bundle", attacker2.Dir, rt.NewID()); exit == 0 {
		t.Errorf("a container on another container's staged rootfs ran; want it refused")
	} else if !strings.Contains(errOut, "rootfs") {
		t.Errorf("refusal %q does not name the rootfs", errOut)
	}
	if got := ownerOf(t, filepath.Join(v.upper, "secret")); got != owner {
		t.Errorf("after the staged-path attack the victim's file is owned by %d (was %d)", got, owner)
	}
	out, _, code := rt.Run("exec", vid, "cat", "/secret")
	if code != 0 || out != "victim's\n" {
		t.Errorf("the victim reads its own file: exit %d, %q", code, out)
	}
}
