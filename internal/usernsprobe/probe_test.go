//go:build linux && cgo

package usernsprobe

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/hardened-runtime/hardened/idmap"
)

// TestReadPinned pins a user namespace as a bind-mounted file, as
// containerd does for a hostUsers: false pod, lets its only process
// exit, and reads the mappings through the file: a namespace with no
// process, and one owned namespace (a network namespace made in it).
func TestReadPinned(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	const host, size = 3_100_000, 65536
	cmd := exec.Command("sleep", "60")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNET,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: host, Size: size}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: host + size, Size: size}},
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pins := map[string]string{"user": filepath.Join(dir, "user"), "net": filepath.Join(dir, "net")}
	for typ, pin := range pins {
		if err := os.WriteFile(pin, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := unix.Mount("/proc/"+strconv.Itoa(cmd.Process.Pid)+"/ns/"+typ, pin, "", unix.MS_BIND, ""); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = unix.Unmount(pin, unix.MNT_DETACH) })
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	wantU := []idmap.Mapping{{ContainerID: 0, Host: idmap.Range{Start: host, Size: size}}}
	wantG := []idmap.Mapping{{ContainerID: 0, Host: idmap.Range{Start: host + size, Size: size}}}
	for typ, pin := range pins {
		uids, gids, err := Read(pin)
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		if !slices.Equal(uids, wantU) || !slices.Equal(gids, wantG) {
			t.Errorf("%s: uid map %v gid map %v, want %v %v", typ, uids, gids, wantU, wantG)
		}
	}
	if _, _, err := Read("/proc/self/exe"); err == nil {
		t.Error("Read of a file that is no namespace succeeded")
	}
}
