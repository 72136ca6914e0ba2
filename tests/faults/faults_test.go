package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hardened-runtime/hardened/idmap"
	"github.com/hardened-runtime/hardened/tests/testutil"
)

// faultOps are the operations a kill interrupts: the runtime's create,
// run, exec and delete, and the container's init.
var faultOps = []string{"create", "run", "exec", "delete", "init"}

// faultCgroupParent is where half the containers put their cgroup
// (linux.cgroupsPath); the others get the default, <controller>/<id>.
const faultCgroupParent = "/hardened-faults"

// start runs the runtime with args in the background, output discarded.
func start(t *testing.T, rt *testutil.Runtime, args ...string) *exec.Cmd {
	t.Helper()
	cmd := rt.Command(context.Background(), args...)
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, devnull
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// killAfter kills cmd with SIGKILL after d (or lets it finish first) and
// reaps it.
func killAfter(cmd *exec.Cmd, d time.Duration) {
	time.Sleep(d)
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
}

// faultBundle is a bundle whose container sleeps, its cgroup under
// faultCgroupParent when nested.
func faultBundle(t *testing.T, nested bool, id string) *testutil.Bundle {
	b := testutil.NewBundle(t, "sleep", "1000")
	b.Edit(t, func(s *specs.Spec) {
		if nested {
			s.Linux.CgroupsPath = faultCgroupParent + "/" + id
		}
	})
	return b
}

// injectOnce starts op for container id from bundle b, kills it (or the
// init) after delay, and returns once the runtime is gone.
func injectOnce(t *testing.T, rt *testutil.Runtime, b *testutil.Bundle, op, id string, delay time.Duration) {
	switch op {
	case "create":
		killAfter(start(t, rt, "create", "--bundle", b.Dir, id), delay)
	case "run":
		killAfter(start(t, rt, "run", "--detach", "--bundle", b.Dir, id), delay)
	case "exec", "delete", "init":
		if _, errOut, code := rt.Run("run", "--detach", "--bundle", b.Dir, id); code != 0 {
			t.Errorf("run %s: exit %d: %s", id, code, errOut)
			return
		}
		switch op {
		case "exec":
			killAfter(start(t, rt, "exec", id, "true"), delay)
		case "delete":
			killAfter(start(t, rt, "delete", "--force", id), delay)
		case "init":
			time.Sleep(delay)
			if st, err := rt.State(id); err == nil && st.Pid > 0 {
				_ = unix.Kill(st.Pid, unix.SIGKILL)
			}
		}
	}
}

// TestFaultsKill makes FAULTS_INJECTIONS (default 120) kills, spread over
// four concurrent workers, each followed by delete --force and the leak
// check.
func TestFaultsKill(t *testing.T) {
	t.Cleanup(removeFaultCgroupParents)
	rt := testutil.NewRuntime(t)
	n := 120
	if s := os.Getenv("FAULTS_INJECTIONS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			t.Fatal(err)
		}
	}
	const workers = 4
	began := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	counts := map[string]int{}
	phases := map[string]int{}
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(w)))
			for i := w; i < n; i += workers {
				op := faultOps[rng.IntN(len(faultOps))]
				id := rt.NewID()
				b := faultBundle(t, rng.IntN(2) == 0, id)
				delay := time.Duration(rng.IntN(300)) * time.Millisecond
				injectOnce(t, rt, b, op, id, delay)
				phase := phaseOf(rt.Root, id)
				if !deleteAndCheck(t, rt, b, id, fmt.Sprintf("%s killed after %v", op, delay)) {
					return
				}
				mu.Lock()
				counts[op]++
				phases[phase]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	t.Logf("%d injections %v in %v; left before delete: %v", n, counts, time.Since(began).Round(time.Millisecond), phases)
}

// deleteAndCheck force-deletes id and fails the test for anything of it
// left on the host. It reports whether nothing was.
func deleteAndCheck(t *testing.T, rt *testutil.Runtime, b *testutil.Bundle, id, what string) bool {
	t.Helper()
	if _, errOut, code := rt.Run("delete", "--force", id); code != 0 {
		t.Errorf("%s: %s: delete --force: exit %d: %s", id, what, code, strings.TrimSpace(errOut))
		return false
	}
	left := leftovers(rt.Root, b.Dir, id)
	for _, l := range left {
		t.Errorf("%s: %s: %s", id, what, l)
	}
	return len(left) == 0
}

// leftovers lists what of container id of root and its bundle is still on
// the host.
func leftovers(root, bundle, id string) []string {
	var left []string
	for _, p := range []string{filepath.Join(root, id), filepath.Join(root, "."+id+".creating")} {
		if _, err := os.Lstat(p); err == nil {
			left = append(left, "left: "+p)
		}
	}
	if r, ok, err := idmap.NewHostAllocator(nil, 0).Lookup(idmap.Key(root, id)); ok || err != nil {
		left = append(left, fmt.Sprintf("ID range %s still held (%v)", r, err))
	}
	if dirs, _ := filepath.Glob(filepath.Join("/run/hardened-idmap", "*", id)); len(dirs) > 0 {
		left = append(left, fmt.Sprintf("staging directories %v", dirs))
	}
	if mi, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		for _, line := range strings.Split(string(mi), "\n") {
			if strings.Contains(line, id) {
				left = append(left, "mount: "+line)
			}
		}
	}
	var cg []string
	if unified, _ := filepath.Glob("/sys/fs/cgroup/cgroup.controllers"); len(unified) > 0 {
		cg = []string{"/sys/fs/cgroup"}
	} else {
		cg, _ = filepath.Glob("/sys/fs/cgroup/*")
	}
	for _, c := range cg {
		for _, d := range []string{filepath.Join(c, id), filepath.Join(c, faultCgroupParent, id)} {
			if _, err := os.Stat(d); err == nil {
				left = append(left, "cgroup "+d)
			}
		}
	}
	ents, _ := os.ReadDir(bundle)
	for _, e := range ents {
		name := e.Name()
		if strings.HasPrefix(name, ".config.json") || strings.HasSuffix(name, ".tmp") {
			left = append(left, "temporary file "+filepath.Join(bundle, name))
		}
		if name == "config.json" || name == "config.json.orig" {
			data, err := os.ReadFile(filepath.Join(bundle, name))
			if err != nil || !json.Valid(data) {
				left = append(left, fmt.Sprintf("torn %s (%v): %q", name, err, data))
			}
		}
	}
	if _, err := idmap.NewHostAllocator(nil, 0).Entries(); err != nil {
		left = append(left, fmt.Sprintf("registry unreadable: %v", err))
	}
	return left
}

// tmpfsRoot mounts a tmpfs of size for the runtime's root and returns it.
func tmpfsRoot(t *testing.T, rt *testutil.Runtime, size string) string {
	t.Helper()
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "mode=0700,size="+size); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
	rt.Root = dir
	return dir
}

// fillUp takes every free byte and inode of the file system of dir and
// returns the files that did.
func fillUp(t *testing.T, dir string) func() {
	t.Helper()
	fill := filepath.Join(dir, "filler")
	f, err := os.Create(fill)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			break
		}
	}
	f.Close()
	return func() { os.Remove(fill) }
}

// On a full --root a create fails and leaves nothing; a running
// container's delete --force, and the delete of a create killed there,
// succeed and leave nothing.
func TestFaultsFullRoot(t *testing.T) {
	t.Cleanup(removeFaultCgroupParents)
	rt := testutil.NewRuntime(t)
	root := tmpfsRoot(t, rt, "256k")
	if err := os.MkdirAll(root, 0o700); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		running := rt.NewID()
		rb := faultBundle(t, i%2 == 0, running)
		if _, errOut, code := rt.Run("run", "--detach", "--bundle", rb.Dir, running); code != 0 {
			t.Fatalf("run: exit %d: %s", code, errOut)
		}
		killed := rt.NewID()
		kb := faultBundle(t, i%2 == 1, killed)
		killAfter(start(t, rt, "create", "--bundle", kb.Dir, killed), time.Duration(rand.IntN(200))*time.Millisecond)
		unfill := fillUp(t, root)
		refused := rt.NewID()
		fb := faultBundle(t, false, refused)
		if _, _, code := rt.Run("create", "--bundle", fb.Dir, refused); code == 0 {
			t.Errorf("create on a full root succeeded")
		}
		for _, c := range []struct {
			id string
			b  *testutil.Bundle
		}{{refused, fb}, {killed, kb}, {running, rb}} {
			deleteAndCheck(t, rt, c.b, c.id, "on a full root")
		}
		unfill()
	}
}

// On a read-only --root a create fails and leaves nothing; delete --force
// kills the container and says what it could not remove, and once the
// root is writable again delete --force leaves nothing.
func TestFaultsReadOnlyRoot(t *testing.T) {
	t.Cleanup(removeFaultCgroupParents)
	rt := testutil.NewRuntime(t)
	root := tmpfsRoot(t, rt, "4m")
	for i := range 5 {
		id := rt.NewID()
		b := faultBundle(t, i%2 == 0, id)
		if _, errOut, code := rt.Run("run", "--detach", "--bundle", b.Dir, id); code != 0 {
			t.Fatalf("run: exit %d: %s", code, errOut)
		}
		st := rt.MustState(id)
		if err := unix.Mount("", root, "", unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
			t.Fatal(err)
		}
		refused := rt.NewID()
		fb := faultBundle(t, false, refused)
		if _, _, code := rt.Run("create", "--bundle", fb.Dir, refused); code == 0 {
			t.Errorf("create on a read-only root succeeded")
		}
		if left := leftovers(root, fb.Dir, refused); len(left) > 0 {
			t.Errorf("create refused on a read-only root left %v", left)
		}
		if _, errOut, code := rt.Run("delete", "--force", id); code == 0 {
			t.Errorf("delete --force on a read-only root exited 0 although it cannot remove the state")
		} else if t.Logf("delete --force on a read-only root: %s", strings.TrimSpace(errOut)); !strings.Contains(errOut, "read-only") {
			t.Errorf("delete --force on a read-only root: %s; want it to name what it could not remove", errOut)
		}
		if running(st.Pid) {
			t.Errorf("init %d still runs after delete --force on a read-only root", st.Pid)
		}
		// What is not under the root goes all the same: the range and
		// the staged rootfs.
		for _, l := range leftovers(root, b.Dir, id) {
			if !strings.HasPrefix(l, "left: "+root) {
				t.Errorf("%s: delete --force on a read-only root left %s", id, l)
			}
		}
		if err := unix.Mount("", root, "", unix.MS_REMOUNT, ""); err != nil {
			t.Fatal(err)
		}
		deleteAndCheck(t, rt, b, id, "after a read-only root")
	}
}

// running reports whether pid runs (a zombie does not; a process that is
// exiting may take a moment).
func running(pid int) bool {
	for range 100 {
		data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return false
		}
		if i := strings.LastIndexByte(string(data), ')'); i > 0 && len(data) > i+2 && (data[i+2] == 'Z' || data[i+2] == 'X') {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// phaseOf names what a kill left of container id before delete: how far
// its create got.
func phaseOf(root, id string) string {
	_, lockErr := os.Lstat(filepath.Join(root, "."+id+".creating"))
	_, dirErr := os.Lstat(filepath.Join(root, id))
	_, stateErr := os.Lstat(filepath.Join(root, id, "state.json"))
	switch {
	case stateErr == nil && lockErr == nil:
		return "state saved, create lock left"
	case stateErr == nil:
		return "state saved"
	case dirErr == nil:
		return "state directory without state.json"
	case lockErr == nil:
		return "create lock only"
	}
	return "nothing"
}

// removeFaultCgroupParents removes the (empty) faultCgroupParent
// directories that libcontainer made above the nested cgroups: the
// runtime, like runc, leaves a cgroupsPath's parents alone.
func removeFaultCgroupParents() {
	dirs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", faultCgroupParent))
	dirs = append(dirs, filepath.Join("/sys/fs/cgroup", faultCgroupParent))
	for _, d := range dirs {
		_ = os.Remove(d)
	}
}
