package idmap

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestProcNSPID(t *testing.T) {
	t.Parallel()
	for path, want := range map[string]string{
		"/proc/123/ns/net":            "123",
		"/proc/1/ns/pid_for_children": "1",
		"/proc/self/ns/net":           "",
		"/proc/12/ns/":                "",
		"/proc//ns/net":               "",
		"/proc/12/ns/net/x":           "",
		"/proc/12/task/3/ns/net":      "",
		"/run/netns/x":                "",
		"proc/12/ns/net":              "",
		"/proc/1a/ns/net":             "",
		"/proc/12/ns/NET":             "",
	} {
		got, ok := procNSPID(path)
		if got != want || ok != (want != "") {
			t.Errorf("procNSPID(%q) = %q, %v; want %q", path, got, ok, want)
		}
	}
}

// TestOwnerUsernsPidReused: the mappings of /proc/<pid>/ns/<type>'s
// process are read from the process whose user namespace was compared,
// even when its pid names another process by the time they are read
// (here a copy of its /proc/<pid> directory, replaced by another's in
// between): that other process's mappings would be taken for the
// namespace's.
func TestOwnerUsernsPidReused(t *testing.T) {
	ns, err := UsernsFile(Mapping{ContainerID: 0, Host: Range{Start: 3_000_000_000, Size: 65536}})
	if err != nil {
		t.Skip(err)
	}
	defer ns.Close()
	nsLink := fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), ns.Fd())
	proc := t.TempDir()
	process := func(userns, idMap string) {
		t.Helper()
		dir := filepath.Join(proc, "123")
		if err := os.MkdirAll(filepath.Join(dir, "ns"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(userns, filepath.Join(dir, "ns", "user")); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"uid_map", "gid_map"} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(idMap), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	process(nsLink, "         0 3000000000      65536\n")
	reused := func() {
		if err := os.Rename(filepath.Join(proc, "123"), filepath.Join(proc, "exited")); err != nil {
			t.Fatal(err)
		}
		process("/proc/self/ns/user", "         0          0 4294967295\n")
	}
	info, err := ownerUsernsOf(nsLink, "/proc/123/ns/user", proc, reused)
	if err != nil {
		t.Fatal(err)
	}
	want := []Mapping{{ContainerID: 0, Host: Range{Start: 3_000_000_000, Size: 65536}}}
	if info.Host || !reflect.DeepEqual(info.UIDMap, want) || !reflect.DeepEqual(info.GIDMap, want) {
		t.Errorf("owner of a namespace whose process's pid was reused: %+v, want the compared process's mappings %v", info, want)
	}
}
