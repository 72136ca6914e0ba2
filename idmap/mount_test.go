package idmap

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// requireRoot skips the test (or benchmark) unless it runs as root: the
// package's mounts, chowns and user namespaces need it.
func requireRoot(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("needs root")
	}
}

func TestCloneIDMapped(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	os.Mkdir(src, 0o755)
	os.Mkdir(dst, 0o755)
	os.WriteFile(filepath.Join(src, "root-file"), nil, 0o644)
	os.WriteFile(filepath.Join(src, "user-file"), nil, 0o644)
	os.Chown(filepath.Join(src, "user-file"), 1000, 1001)

	m := Mapping{ContainerID: 0, Host: Range{Start: 1 << 20, Size: DefaultRangeSize}}
	ns, err := UsernsFile(m)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	if err := CloneIDMapped(src, dst, ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := Unmount(dst); err != nil {
			t.Error(err)
		}
	})
	for name, want := range map[string][2]uint32{"root-file": {1 << 20, 1 << 20}, "user-file": {1<<20 + 1000, 1<<20 + 1001}} {
		var st syscall.Stat_t
		if err := syscall.Stat(filepath.Join(dst, name), &st); err != nil {
			t.Fatal(err)
		}
		if st.Uid != want[0] || st.Gid != want[1] {
			t.Errorf("%s through the idmapped mount: %d:%d, want %d:%d", name, st.Uid, st.Gid, want[0], want[1])
		}
	}
	// A file created through the mount by host ID 1<<20 lands as 0 on disk;
	// root on the host (unmapped in the mount's namespace) cannot create.
	if err := os.WriteFile(filepath.Join(dst, "new"), nil, 0o644); !errors.Is(err, unix.EOVERFLOW) {
		t.Logf("create as host root through the idmapped mount: %v", err)
	}
	if err := Unmount(dst); err != nil {
		t.Fatal(err)
	}
	if err := Unmount(dst); err != nil {
		t.Errorf("second unmount: %v", err)
	}
	if err := Unmount(filepath.Join(dir, "missing")); err != nil {
		t.Errorf("unmount of a missing path: %v", err)
	}
}

func TestOwnerUserns(t *testing.T) {
	requireRoot(t)
	info, err := OwnerUserns("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	if !info.Host {
		t.Errorf("the runtime's own network namespace is not owned by the host user namespace: %+v", info)
	}
	if _, err := OwnerUserns("/etc/passwd"); err == nil {
		t.Error("a regular file passed as a namespace")
	}
}

func TestFilesystemOf(t *testing.T) {
	fs, err := FilesystemOf(t.TempDir())
	if err != nil || fs != FSOther {
		t.Errorf("FilesystemOf(tempdir) = %s, %v", fs, err)
	}
}

// UsernsFile's holder processes share the caller's memory: many at once
// from many goroutines must each get their own namespace, and none may be
// left behind, running or unreaped.
func TestUsernsFileConcurrentNoLeak(t *testing.T) {
	requireRoot(t)
	const n = 32
	// Every namespace file stays open until all were compared: a closed
	// one lets its namespace be freed, and nsfs gives its inode number to
	// the next namespace made, which would look like the same namespace.
	files := make(chan *os.File, n)
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func(i int) {
			ns, err := UsernsFile(Mapping{ContainerID: 0, Host: Range{Start: uint32(1<<20 + i*65536), Size: 65536}})
			if err != nil {
				errs <- err
				return
			}
			files <- ns
		}(i)
	}
	seen := map[uint64]bool{}
	var firstErr error
	for i := 0; i < n; i++ {
		select {
		case err := <-errs:
			if firstErr == nil {
				firstErr = err
			}
		case ns := <-files:
			defer ns.Close()
			var st unix.Stat_t
			if err := unix.Fstat(int(ns.Fd()), &st); err != nil {
				t.Fatal(err)
			}
			if seen[st.Ino] {
				t.Fatalf("two calls got the same user namespace %d", st.Ino)
			}
			seen[st.Ino] = true
		}
	}
	if firstErr != nil {
		t.Fatal(firstErr)
	}
	if _, err := unix.Wait4(-1, nil, unix.WNOHANG, nil); !errors.Is(err, unix.ECHILD) {
		t.Errorf("after UsernsFile: wait4(-1) = %v, want ECHILD (a holder was left)", err)
	}
}
