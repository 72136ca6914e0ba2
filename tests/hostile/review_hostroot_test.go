package hostile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// TestReviewHostRootBinds: with user namespaces off, container root is
// host root (fewer capabilities, but the owner of every root-owned
// file), so a bind mount is host root's access to its source. The
// host-mounts rule's list was made for a mapped root that only gets an
// unprivileged user's access: a config.json bound /usr/local/sbin
// read-write and left a root-owned program first in host root's PATH,
// or bound /run/dbus (or any directory of /run) to reach daemons'
// sockets that authenticate the peer as uid 0. Without a user namespace,
// anything under /run is now refused, and read-write binds of the
// host's program and library directories and of /var/spool (cron);
// with one, they still run as before.
func TestReviewHostRootBinds(t *testing.T) {
	off, _ := testutil.WritePolicy(t, `{"userNamespace": {"enabled": false}}`)
	usernsOff := func(src string, opts ...string) func(*testing.T, *testutil.Bundle, *specs.Spec) {
		return func(t *testing.T, b *testutil.Bundle, s *specs.Spec) {
			reviewUsernsOff(s)
			reviewBind(src, opts...)(t, b, s)
		}
	}
	expectAllRefused(t, []attack{
		{name: "/usr/local/sbin read-write", tweak: usernsOff("/usr/local/sbin", "rw"),
			want: []string{"bind mount of host path /usr/local/sbin at /mnt exposes /usr (container root is host root)", `(rule host-mounts, allow with "allowHostMounts": ["/usr/local/sbin"]`}},
		{name: "/usr/bin read-write", tweak: usernsOff("/usr/bin", "rw"), want: []string{"/usr/bin at /mnt exposes /usr (container root is host root)", "rule host-mounts"}},
		{name: "/var/spool/cron read-write", tweak: usernsOff("/var/spool/cron", "rw"), want: []string{"exposes /var/spool", "rule host-mounts"}},
		{name: "/opt/cni/bin read-write", tweak: usernsOff("/opt/cni/bin", "rw"), want: []string{"exposes /opt (container root is host root)", "rule host-mounts"}},
		{name: "/run/dbus read-only (sockets)", tweak: usernsOff("/run/dbus", "ro"), want: []string{"/run/dbus at /mnt exposes /run (container root is host root)", "rule host-mounts"}},
		{name: "/var/run/systemd", tweak: usernsOff("/var/run/systemd", "ro"), want: []string{"/var/run/systemd at /mnt", `"allowHostMounts": ["/run/systemd"]`}},
	}, off)

	// A read-only bind of /usr/share and any bind of a data directory
	// still run without a user namespace; with one, a read-write bind of
	// /usr/local/sbin runs too (the mapped root cannot write there).
	data := t.TempDir()
	if err := os.Chmod(data, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Run("allowed binds", func(t *testing.T) {
		rt := testutil.NewRuntime(t)
		b := testutil.NewBundle(t, "sh", "-c", "ls /mnt/share >/dev/null && echo ok > /mnt/data/f")
		b.Edit(t, func(s *specs.Spec) {
			reviewUsernsOff(s)
			s.Mounts = append(s.Mounts,
				specs.Mount{Destination: "/mnt/share", Type: "bind", Source: "/usr/share", Options: []string{"rbind", "ro"}},
				specs.Mount{Destination: "/mnt/data", Type: "bind", Source: data, Options: []string{"rbind", "rw"}})
		})
		rt.RunIn(t, b, off)
		if got, err := os.ReadFile(filepath.Join(data, "f")); err != nil || strings.TrimSpace(string(got)) != "ok" {
			t.Errorf("data directory: %q, %v", got, err)
		}
		b2 := testutil.NewBundle(t, "sh", "-c", "! touch /mnt/x")
		b2.Edit(t, func(s *specs.Spec) { reviewBind("/usr/local/sbin", "rw")(t, b2, s) })
		rt.RunIn(t, b2)
	})
}
