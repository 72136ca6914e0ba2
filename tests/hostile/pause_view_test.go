package hostile

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/sys/mountinfo"
	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// TestHostilePauseViewSetuid: a container on an engine-style overlay
// rootfs makes a copy of a program of its image set-user-ID in its layer
// (its own file, container root's; the program is the host's id, which
// does not drop privileges as busybox does). While it is paused the engine's path shows the
// layer at rest, where container root is host root: the file must not
// run as host root for a host user who reaches that path (the view is
// mounted nosuid, nodev, read-only).
func TestHostilePauseViewSetuid(t *testing.T) {
	rt := testutil.NewRuntime(t)
	v := overlayMountVictim(t)
	openToHostUsers(t, v.merged)
	idBin, err := exec.LookPath("id")
	if err != nil {
		t.Skip(err)
	}
	prog, err := os.ReadFile(idBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(v.lower, "idprobe"), prog, 0o755); err != nil {
		t.Fatal(err)
	}
	b := testutil.NewBundle(t, "sh", "-c", `cp /idprobe /tmp/suid && chmod 4755 /tmp/suid && touch /tmp/ready && sleep 1000`)
	b.Edit(t, func(s *specs.Spec) { s.Root.Path = v.merged })
	id := rt.NewID()
	rt.MustRun("run", "--detach", "--bundle", b.Dir, id)
	ready := filepath.Join(v.upper, "tmp", "ready")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Lstat(ready); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the container did not make its set-user-ID file (no %s)", ready)
		}
	}
	rt.MustRun("pause", id)
	defer rt.Run("resume", id)
	suid := filepath.Join(v.merged, "tmp", "suid")
	var st syscall.Stat_t
	if err := syscall.Lstat(suid, &st); err != nil {
		t.Fatal(err)
	}
	if st.Uid != 0 || st.Mode&syscall.S_ISUID == 0 {
		t.Fatalf("%s while paused: owner %d mode %o, want the layer at rest: container root's (host 0), set-user-ID", suid, st.Uid, st.Mode)
	}
	mounts, err := mountinfo.GetMounts(mountinfo.SingleEntryFilter(v.merged))
	if err != nil || len(mounts) == 0 {
		t.Fatalf("mountinfo of %s: %v", v.merged, err)
	}
	view := mounts[len(mounts)-1]
	if opts := strings.Split(view.Options, ","); !slices.Contains(opts, "nosuid") || !slices.Contains(opts, "nodev") || !slices.Contains(opts, "ro") {
		t.Errorf("the view at rest at %s is mounted %s, want ro,nosuid,nodev", v.merged, view.Options)
	}
	cmd := exec.Command(suid, "-u")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if got := strings.TrimSpace(string(out)); err != nil || got != "65534" {
		t.Errorf("the container's set-user-ID file, run by host user 65534 at the engine's path while paused: euid %q (%v), want 65534", got, err)
	}
}

// openToHostUsers makes the directories above path (up to the temporary
// directory) searchable by every host user, as when a host user reaches
// an engine's path (Docker's overlay2 directory is 0710 root:root; any
// host process of root's group, or one whose mount namespace got a bind
// of it, would do).
func openToHostUsers(t *testing.T, path string) {
	t.Helper()
	for d := filepath.Dir(path); d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}
