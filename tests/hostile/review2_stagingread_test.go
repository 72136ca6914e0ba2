package hostile

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// TestHostileStagedRootfsClosedToHostUsers: a container's rootfs lies
// where host users cannot reach it (Docker's /var/lib/docker is 0710):
// its staged mount under /run/hardened-idmap must not open it to them.
// An unprivileged host user (nobody) who knows the container's ID (from
// /proc/<pid>/cgroup, world-readable) tries to read a file the container
// wrote with mode 0644.
func TestHostileStagedRootfsClosedToHostUsers(t *testing.T) {
	rt := testutil.NewRuntime(t)
	b := testutil.NewBundle(t)
	// The bundle closed to others, as an engine's store is.
	if err := os.Chmod(b.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	b.SetArgs(t, "sh", "-c", "echo container-data > /tmp/review2-note; chmod 0644 /tmp/review2-note; sleep 1000")
	id := rt.NewID()
	rt.MustRun("run", "--detach", "--bundle", b.Dir, id)
	staged, _ := filepath.Glob(filepath.Join("/run/hardened-idmap", "*", id, "rootfs"))
	if len(staged) != 1 {
		t.Fatalf("staged rootfs of %s: %v", id, staged)
	}
	note := filepath.Join(staged[0], "tmp", "review2-note")
	for i := 0; i < 50; i++ {
		if _, err := os.Stat(note); err == nil {
			break
		}
		rt.Run("exec", id, "true")
	}
	cmd := exec.Command("cat", note)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err == nil || string(out) == "container-data\n" {
		t.Errorf("host user nobody read the container's file through %s: %q", note, out)
	}
	if o, _, code := rt.Run("exec", id, "cat", "/tmp/review2-note"); code != 0 || o != "container-data\n" {
		t.Errorf("the container reads its own file: exit %d, %q", code, o)
	}
	rt.Run("kill", id, "KILL")
}
