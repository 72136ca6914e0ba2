package testutil

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestBusyboxTarIsReproducible(t *testing.T) {
	if _, err := os.Stat(BusyboxPath); err != nil {
		t.Skip("busybox-static not installed")
	}
	var a, b bytes.Buffer
	if err := WriteBusyboxTar(&a); err != nil {
		t.Fatal(err)
	}
	if err := WriteBusyboxTar(&b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("two busybox tars differ")
	}
	var x, y bytes.Buffer
	if err := WriteBusyboxOCIArchive(&x, "docker.io/"+BusyboxImage); err != nil {
		t.Fatal(err)
	}
	if err := WriteBusyboxOCIArchive(&y, "docker.io/"+BusyboxImage); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(x.Bytes(), y.Bytes()) {
		t.Fatal("two OCI archives differ")
	}
}

func TestMakeBusyboxRootfs(t *testing.T) {
	if _, err := os.Stat(BusyboxPath); err != nil {
		t.Skip("busybox-static not installed")
	}
	dir := t.TempDir()
	BusyboxRootfs(t, dir)
	if l, err := os.Readlink(filepath.Join(dir, "bin/sh")); err != nil || l != "busybox" {
		t.Errorf("bin/sh -> %q, %v; want busybox", l, err)
	}
	if fi, err := os.Lstat(filepath.Join(dir, "bin/busybox")); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o755 {
		t.Errorf("bin/busybox: %v %v, want a 0755 regular file", fi, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "tmp")); err != nil || fi.Mode()&os.ModeSticky == 0 || fi.Mode().Perm() != 0o777 {
		t.Errorf("tmp: %v %v, want 1777", fi, err)
	}
	passwd, _ := os.ReadFile(filepath.Join(dir, "etc/passwd"))
	for _, u := range []string{"root:x:0:0:", "user:x:1000:1000:", "nobody:x:65534:"} {
		if !strings.Contains(string(passwd), u) {
			t.Errorf("etc/passwd lacks %q", u)
		}
	}
}

func TestSubcommandAndID(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		sub, id string
	}{
		{[]string{"create", "--bundle", "/b", "--pid-file", "/p", "c1"}, "create", "c1"},
		{[]string{"run", "-d", "-b", "/b", "c2"}, "run", "c2"},
		{[]string{"run", "--detach", "--console-socket", "/s", "c3"}, "run", "c3"},
		{[]string{"state", "c4"}, "state", "c4"},
		{[]string{"list"}, "list", ""},
	} {
		sub, id := subcommandAndID(tc.args)
		if sub != tc.sub || id != tc.id {
			t.Errorf("subcommandAndID(%q) = %q, %q; want %q, %q", tc.args, sub, id, tc.sub, tc.id)
		}
	}
}

// recordTB records errors and cleanups instead of acting on them, so the
// cleanup checks can be tested against a planted leak.
type recordTB struct {
	testing.TB
	errs     []string
	cleanups []func()
}

func (r *recordTB) Helper()           {}
func (r *recordTB) Cleanup(f func())  { r.cleanups = append(r.cleanups, f) }
func (r *recordTB) Error(args ...any) { r.errs = append(r.errs, fmt.Sprint(args...)) }
func (r *recordTB) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}
func (r *recordTB) runCleanups() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
}

// TestCleanupFindsLeaks plants a mount under the test's directory and a
// container the runtime never deletes (a busy cgroup), and checks that the
// Runtime's cleanup reports both and removes them.
func TestCleanupFindsLeaks(t *testing.T) {
	rec := &recordTB{TB: t}
	rt := NewRuntime(rec)
	b := NewBundle(t, "sleep", "1000")
	id := rt.NewID()
	rt.MustRun("run", "--detach", "--bundle", b.Dir, id)
	pid := rt.MustState(id).Pid
	cgroups := procCgroupDirs(pid)
	if len(cgroups) == 0 {
		t.Fatalf("container init %d has no cgroups of its own", pid)
	}

	mnt := filepath.Join(b.Dir, "planted")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	// Hide the container from the runtime: delete --force cannot find it.
	hidden := rt.Root + ".hidden"
	if err := os.Rename(rt.Root, hidden); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(hidden) })

	rec.runCleanups()
	all := strings.Join(rec.errs, "\n")
	for _, want := range []string{"mounts left behind", mnt, "init pid", "cgroup"} {
		if !strings.Contains(all, want) {
			t.Errorf("cleanup errors lack %q:\n%s", want, all)
		}
	}
	if len(leftoverMounts(mnt, nil)) != 0 {
		t.Errorf("cleanup did not unmount %s", mnt)
	}
	deadline := time.Now().Add(5 * time.Second)
	for alive(pid) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if alive(pid) {
		t.Errorf("cleanup did not kill the leaked init %d", pid)
	}
	for _, d := range cgroups {
		if _, err := os.Stat(d); err == nil {
			t.Errorf("cleanup left cgroup %s", d)
		}
	}
}

// TestMountsLeftUnderReportsAllButOwn: every mount under a daemon's
// directory is detached, and each is reported but the daemon's own.
func TestMountsLeftUnderReportsAllButOwn(t *testing.T) {
	RequireRoot(t)
	dir := t.TempDir()
	own, leaked := filepath.Join(dir, "own"), filepath.Join(dir, "a", "leaked")
	for _, mp := range []string{own, leaked} {
		if err := os.MkdirAll(mp, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := unix.Mount("tmpfs", mp, "tmpfs", 0, ""); err != nil {
			t.Fatal(err)
		}
	}
	err := mountsLeftUnder("the test", dir, own)
	if err == nil || !strings.Contains(err.Error(), leaked) || strings.Contains(err.Error(), own+" ") || strings.Contains(err.Error(), own+"]") {
		t.Errorf("mountsLeftUnder: %v, want %s reported and %s not", err, leaked, own)
	}
	if left := leftoverMounts(dir, nil); len(left) != 0 {
		t.Errorf("still mounted: %v", left)
	}
	if err := mountsLeftUnder("the test", dir, own); err != nil {
		t.Errorf("nothing mounted: %v", err)
	}
}

// TestCgroupLeftoversSinceFindsANewEmptyCgroup: a top-level cgroup made
// after the listing is reported (what testutil.Main fails on), and no
// longer once removed.
func TestCgroupLeftoversSinceFindsANewEmptyCgroup(t *testing.T) {
	RequireRoot(t)
	before := cgroupTops()
	var hierarchy string
	for _, h := range []string{"pids", "memory", "unified", ""} {
		if _, err := os.Stat(filepath.Join(cgroupRoot, h, "cgroup.procs")); err == nil {
			hierarchy = filepath.Join(cgroupRoot, h)
			break
		}
	}
	if hierarchy == "" {
		t.Skip("no cgroup hierarchy found in " + cgroupRoot)
	}
	cg := filepath.Join(hierarchy, fmt.Sprintf("hardened-testutil-%d", os.Getpid()))
	if err := os.Mkdir(cg, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(cg) })
	if left := cgroupLeftoversSince(before, 0); !slices.Contains(left, cg) {
		t.Errorf("left %v, want %s among them", left, cg)
	}
	if err := os.Remove(cg); err != nil {
		t.Fatal(err)
	}
	if left := cgroupLeftoversSince(before, 0); slices.Contains(left, cg) {
		t.Errorf("left %v after %s was removed", left, cg)
	}
}
