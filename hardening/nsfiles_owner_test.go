package hardening

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The user namespace that owns a joined network namespace is known by
// the /proc/<pid>/ns/user path of the process the spec named; what the
// container joins and the rootfs is idmapped with must be that user
// namespace as the rules saw it, also once the process is gone (its PID
// free for any other process): ProcPath of that path leads to the
// owner kept from the checked descriptor, not to the path again.
func TestOwnerUsernsKeptFromDescriptor(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	cmd := exec.Command("unshare", "--user", "--net", "sleep", "1000")
	if err := cmd.Start(); err != nil {
		t.Skip(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	pid := strconv.Itoa(cmd.Process.Pid)
	self, err := os.Readlink("/proc/self/ns/user")
	if err != nil {
		t.Fatal(err)
	}
	var userns string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if userns, err = os.Readlink("/proc/" + pid + "/ns/user"); err == nil && userns != self {
			break
		}
	}
	if userns == self {
		t.Fatal("unshare did not enter a user namespace")
	}
	for _, name := range []string{"uid_map", "gid_map"} {
		if err := os.WriteFile("/proc/"+pid+"/"+name, []byte("0 200000 65536\n"), 0); err != nil {
			t.Fatal(err)
		}
	}
	s := &specs.Spec{Linux: &specs.Linux{Namespaces: []specs.LinuxNamespace{{Type: specs.NetworkNamespace, Path: "/proc/" + pid + "/ns/net"}}}}
	f := HostFacts{Namespaces: OpenNamespaceFiles(s)}
	defer f.Namespaces.Close()
	GatherUsernsFacts(s, &f)
	info := f.Usernses[s.Linux.Namespaces[0].Path]
	if info.Path != "/proc/"+pid+"/ns/user" {
		t.Fatalf("owner path %q, want /proc/%s/ns/user", info.Path, pid)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	var st, want unix.Stat_t
	if err := unix.Stat(f.Namespaces.ProcPath(info.Path), &st); err != nil {
		t.Fatalf("the judged owner is reached by path only (%s): %v", f.Namespaces.ProcPath(info.Path), err)
	}
	// The kept file is the user namespace that was read at the check.
	ino, err := strconv.ParseUint(userns[len("user:["):len(userns)-1], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	if want.Ino = ino; st.Ino != want.Ino {
		t.Errorf("kept user namespace inode %d, want %d", st.Ino, want.Ino)
	}
}
