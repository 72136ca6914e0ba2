package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// TestPodmanOverlayVolume mounts a host directory as Podman's overlay
// volume (-v SRC:DST:O): the container writes over the host's files into
// a throw-away upper layer, and the host directory is left as it was.
// Podman 4.3 makes the upper and work directories host root's, which a
// user namespace's root cannot mount (runc 1.1.5 with --userns=auto
// fails the same way): the runtime mounts the overlay on the host and
// gives the container a bind of it. The host directory is writable by
// all, so that the container may change its files at all (host root's
// files are nobody's to the container's root).
func TestPodmanOverlayVolume(t *testing.T) {
	t.Run("hardened range", func(t *testing.T) { podmanOverlayVolume(t) })
	t.Run("userns auto", func(t *testing.T) {
		ensurePodmanSubIDs(t)
		podmanOverlayVolume(t, "--userns", "auto:size=65536")
	})
}

func podmanOverlayVolume(t *testing.T, more ...string) {
	p := testutil.StartPodman(t, testutil.Binary(t))
	host := t.TempDir()
	if err := os.Chmod(host, 0o777); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(host, "hostfile")
	if err := os.WriteFile(file, []byte("host\n"), 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(file, 0o666); err != nil {
		t.Fatal(err)
	}
	args := append(append([]string{"run"}, testutil.PodmanRunArgs()...), "--rm", "-v", host+":/h:O")
	args = append(append(args, more...), testutil.BusyboxImage, "sh", "-c",
		"cat /h/hostfile; echo changed > /h/hostfile && cat /h/hostfile; touch /h/new && echo made; grep -c ' /h ' /proc/self/mountinfo")
	out, errOut, exit := podmanCmd(t, p, args...)
	if exit != 0 {
		t.Fatalf("podman run -v %s:/h:O: exit %d: %s", host, exit, errOut)
	}
	if got := strings.Fields(out); len(got) != 4 || got[0] != "host" || got[1] != "changed" || got[2] != "made" || got[3] != "1" {
		t.Errorf("inside: %q, want the host file, the container's change, a new file, /h mounted once", out)
	}
	if data, err := os.ReadFile(file); err != nil || string(data) != "host\n" {
		t.Errorf("host file after the run: %q, %v; want it unchanged", data, err)
	}
	if _, err := os.Lstat(filepath.Join(host, "new")); err == nil {
		t.Errorf("the container's new file reached the host directory")
	}
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(mi), "\n") {
		if strings.Contains(l, "-merged ") && strings.Contains(l, "/run/hardened-idmap/") {
			t.Errorf("host overlay left mounted after podman run --rm: %s", l)
		}
	}
}
