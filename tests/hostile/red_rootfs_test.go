package hostile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// redVictimHome makes a stand-in for a host user's home directory (uid
// 1000, mode 0700) holding a private file and a tmp directory, and
// returns its path.
func redVictimHome(t *testing.T) string {
	t.Helper()
	top := t.TempDir()
	if err := os.Chmod(top, 0o755); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(top, "alice")
	for _, d := range []string{home, filepath.Join(home, "tmp")} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(home, "id_rsa"), []byte("ALICE-PRIVATE-KEY\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{home, filepath.Join(home, "tmp"), filepath.Join(home, "id_rsa")} {
		if err := os.Chown(p, testutil.UserUID, testutil.UserUID); err != nil {
			t.Fatal(err)
		}
	}
	return home
}

// TestRedRootfsSomeoneElsesDirectory: root.path may name any host
// directory the host-rootfs rule does not list (its list is of system
// directories and engine stores), and the runtime shows the rootfs to
// the container with its disk IDs (an idmapped clone with a user
// namespace). A config.json naming a user's home as its rootfs, running
// as that user's uid with busybox bound in read-only, read the user's
// private key and wrote into the home through the writable path /tmp:
// the user namespace protected nothing. A plain directory outside the
// bundle that is no overlay mount is now refused ("allowRootfs" for a
// shared rootfs the host prepared).
func TestRedRootfsSomeoneElsesDirectory(t *testing.T) {
	home := redVictimHome(t)
	rt := testutil.NewRuntime(t)
	b := testutil.NewBundle(t)
	b.Edit(t, func(s *specs.Spec) {
		s.Root.Path = home
		s.Process.User = specs.User{UID: testutil.UserUID, GID: testutil.UserUID}
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/bin", Type: "bind", Source: filepath.Join(b.Rootfs, "bin"), Options: []string{"rbind", "ro"}})
	})
	b.SetArgs(t, "/bin/sh", "-c", "cat /id_rsa; echo planted > /tmp/planted")
	out, errOut, exit := rt.Run("run", "--bundle", b.Dir, rt.NewID())
	if strings.Contains(out, "ALICE-PRIVATE-KEY") {
		t.Errorf("the container read the user's private key: %q", out)
	}
	if _, err := os.Stat(filepath.Join(home, "tmp", "planted")); err == nil {
		t.Error("the container wrote into the user's home")
	}
	for _, want := range []string{"rootfs " + home + " is a plain directory outside the bundle", `(rule host-rootfs, allow with "allowRootfs": ["` + home + `"]`} {
		if exit == 0 || !strings.Contains(errOut, want) {
			t.Errorf("run: exit %d, stderr lacks %q: %s", exit, want, errOut)
		}
	}
	// Nothing was created in the home (mount points of /bin, /proc...).
	entries, err := os.ReadDir(home)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("the user's home holds %v after a refused run", names)
	}
}

// TestRedRootfsSharedAllowed: a rootfs the host prepared outside any
// bundle (a shared image tree) runs when "allowRootfs" names it, and a
// bundle's own rootfs runs as before.
func TestRedRootfsSharedAllowed(t *testing.T) {
	shared := filepath.Join(t.TempDir(), "rootfs")
	if err := os.Chmod(filepath.Dir(shared), 0o755); err != nil {
		t.Fatal(err)
	}
	testutil.BusyboxRootfs(t, shared)
	flag, _ := testutil.WritePolicy(t, `{"allowRootfs": [`+"\""+shared+"\""+`]}`)
	rt := testutil.NewRuntime(t)
	b := testutil.NewBundle(t, "true")
	b.Edit(t, func(s *specs.Spec) { s.Root.Path = shared })
	rt.RunIn(t, b, flag)
	own := testutil.NewBundle(t, "true")
	rt.RunIn(t, own)
}
