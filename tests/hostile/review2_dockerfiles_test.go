package hostile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// TestHostileDockerFilesChownSwapRace: config.json binds
// <dir>/containers/<id>/hosts at /etc/hosts, which makes the runtime take
// the container for Docker's (its rootfs is the overlay "Docker" mounted
// for that ID, see escapesDockerData) and give that file to the
// container's mapped root. Someone who owns <dir> (an unprivileged host user, or a
// process in another container writing to a rootfs shared with this
// bundle) swaps <dir>/containers/<id> with a symlink to a host directory
// (standing for /etc) in a loop while containers are run. The chown must
// act on the file that was checked: the host directory's hosts file keeps
// its owner, whatever the interleaving.
func TestHostileDockerFilesChownSwapRace(t *testing.T) {
	rt := testutil.NewRuntime(t)
	b := testutil.NewBundle(t, "true")
	victim := t.TempDir() // stands for the host's /etc
	victimHosts := filepath.Join(victim, "hosts")
	if err := os.WriteFile(victimHosts, []byte("127.0.0.1 localhost\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(victimHosts, 0, 0); err != nil {
		t.Fatal(err)
	}
	// The files are chowned only for Docker's own container: its rootfs
	// is the overlay Docker mounted for that container ID.
	docker := escapesNewDockerData(t)
	fake := docker.root
	b.Edit(t, func(s *specs.Spec) { s.Root.Path = docker.merged })
	// Unraced, the file is the container's: its root owns it inside.
	{
		id := rt.NewID()
		docker.claim(t, id)
		dir := filepath.Join(fake, "containers", id)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "hosts"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		b.Edit(t, func(s *specs.Spec) {
			s.Process.Args = []string{"stat", "-c", "%u:%g", "/etc/hosts"}
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/etc/hosts", Type: "bind", Source: filepath.Join(dir, "hosts"), Options: []string{"rbind", "ro"}})
		})
		out, errOut, exit := rt.Run("run", "--bundle", b.Dir, id)
		if exit != 0 || strings.TrimSpace(out) != "0:0" {
			t.Fatalf("unraced run: exit %d, stdout %q (want 0:0), stderr %s", exit, out, errOut)
		}
	}
	const runs = 30
	var chowned, ran, refused int
	for i := 0; i < runs && chowned == 0; i++ {
		id := rt.NewID()
		docker.claim(t, id)
		dir := filepath.Join(fake, "containers", id)
		alt := dir + ".alt"
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "hosts"), []byte("127.0.0.1 localhost\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(victim, alt); err != nil {
			t.Fatal(err)
		}
		b.Edit(t, func(s *specs.Spec) {
			s.Mounts = append(review2WithoutDest(s.Mounts, "/etc/hosts"), specs.Mount{
				Destination: "/etc/hosts", Type: "bind", Source: filepath.Join(dir, "hosts"), Options: []string{"rbind", "ro"},
			})
		})
		swapper := startSwapping(t, dir, alt)
		swapper.holdForRun(i)
		_, errOut, exit := rt.Run("run", "--bundle", b.Dir, id)
		swapper.finish()
		if exit == 0 {
			ran++
		} else {
			refused++
			t.Logf("run %d refused: %s", i, strings.TrimSpace(errOut))
		}
		var st unix.Stat_t
		if err := unix.Lstat(victimHosts, &st); err != nil {
			t.Fatal(err)
		}
		if st.Uid != 0 || st.Gid != 0 {
			chowned++
			t.Errorf("run %d (exit %d) chowned the host directory's hosts file (standing for /etc/hosts) to %d:%d", i, exit, st.Uid, st.Gid)
		}
	}
	t.Logf("%d runs: %d ran, %d refused", ran+refused, ran, refused)
}

// review2WithoutDest returns ms without the mounts at dest.
func review2WithoutDest(ms []specs.Mount, dest string) []specs.Mount {
	var out []specs.Mount
	for _, m := range ms {
		if m.Destination != dest {
			out = append(out, m)
		}
	}
	return out
}
