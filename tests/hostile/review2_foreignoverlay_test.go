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
	// The other runtime's container: a process whose root is the
	// overlay, in its own mount namespace.
	victim := exec.Command("unshare", "-m", "--propagation", "private", "chroot", v.merged, "/bin/sleep", "1000")
	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = victim.Process.Kill(); _ = victim.Wait() })
	deadline := time.Now().Add(5 * time.Second)
	for {
		var root, merged unix.Stat_t
		// unshare execs chroot, which execs sleep: the same PID.
		if unix.Stat("/proc/"+strconv.Itoa(victim.Process.Pid)+"/root", &root) == nil && unix.Stat(v.merged, &merged) == nil &&
			root.Dev == merged.Dev && root.Ino == merged.Ino {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the victim process did not enter its overlay root")
		}
		time.Sleep(20 * time.Millisecond)
	}
	owner := ownerOf(t, filepath.Join(v.upper, "secret"))

	attacker := testutil.NewBundle(t, "cat", "/secret")
	attacker.Edit(t, func(s *specs.Spec) { s.Root.Path = v.merged })
	out, errOut, exit := rt.Run("run", "--bundle", attacker.Dir, rt.NewID())
	if strings.Contains(out, "victim's") {
		t.Errorf("the attacker's container read the other container's file")
	}
	if got := ownerOf(t, filepath.Join(v.upper, "secret")); got != owner {
		t.Errorf("the other container's file now owned by %d (was %d)", got, owner)
	}
	if exit == 0 {
		t.Fatalf("a container on another runtime's running container's overlay ran: %q", out)
	}
	for _, want := range []string{"rule host-rootfs", "root directory of running process " + strconv.Itoa(victim.Process.Pid)} {
		if !strings.Contains(errOut, want) {
			t.Errorf("refusal %q does not hold %q", errOut, want)
		}
	}
}
