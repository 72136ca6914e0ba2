package hostile

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// TestHostileOverlayOfAnotherRuntimesContainer: root.path names the
// overlay rootfs of a container that another runtime (runc, crun) runs:
// its init's root directory is that overlay, in a mount namespace of its
// own. TestHostileOverlayOfAnotherContainer covers this runtime's own
// containers, found by their ID ranges; this one has no range. The
// create must not take the layer over (shift its owners into the
// attacker's range, detach the victim's overlay, show its files to the
// attacker): refused by name.
func TestHostileOverlayOfAnotherRuntimesContainer(t *testing.T) {
	rt := testutil.NewRuntime(t)
	v := overlayMountVictim(t)
	// The other runtime's container.
	pid := startProcessRootedAt(t, v.merged)
	owner := ownerOf(t, filepath.Join(v.upper, "secret"))

	attacker := testutil.NewBundle(t, "cat", "/secret")
	attacker.Edit(t, func(s *specs.Spec) { s.Root.Path = v.merged })
	out, errOut, exit := rt.Run("run", "--bundle", attacker.Dir, rt.NewID())
	expectOverlayNotTakenOver(t, v.upper, owner, pid, out, errOut, exit)
}

// startProcessRootedAt starts a process whose root directory is merged,
// in a mount namespace of its own, as another runtime's container init
// (unshare execs chroot, which execs sleep: one PID), killed at the
// cleanup, and returns its PID once /proc/<pid>/root is merged.
func startProcessRootedAt(t *testing.T, merged string) int {
	t.Helper()
	victim := exec.Command("unshare", "-m", "--propagation", "private", "chroot", merged, "/bin/sleep", "1000")
	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = victim.Process.Kill(); _ = victim.Wait() })
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var root, want unix.Stat_t
		if unix.Stat("/proc/"+strconv.Itoa(victim.Process.Pid)+"/root", &root) == nil && unix.Stat(merged, &want) == nil &&
			root.Dev == want.Dev && root.Ino == want.Ino {
			return victim.Process.Pid
		}
		if time.Now().After(deadline) {
			t.Fatal("the victim process did not enter its overlay root")
		}
	}
}

// expectOverlayNotTakenOver checks an attacker's run on the overlay that
// process pid runs in (upper its upper directory, whose secret was owned
// by owner): it did not read the victim's file nor shift its owner, and
// was refused by host-rootfs naming that process.
func expectOverlayNotTakenOver(t *testing.T, upper string, owner uint32, pid int, out, errOut string, exit int) {
	t.Helper()
	if strings.Contains(out, "victim's") {
		t.Errorf("the attacker's container read the other container's file")
	}
	if got := ownerOf(t, filepath.Join(upper, "secret")); got != owner {
		t.Errorf("the other container's file now owned by %d (was %d)", got, owner)
	}
	if exit == 0 {
		t.Fatalf("a container on another runtime's running container's overlay ran: %q", out)
	}
	for _, want := range []string{"rule host-rootfs", "root directory of running process " + strconv.Itoa(pid)} {
		if !strings.Contains(errOut, want) {
			t.Errorf("refusal %q does not hold %q", errOut, want)
		}
	}
}
