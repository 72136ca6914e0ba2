package hostile

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/idmap"
	"github.com/hardened-runtime/hardened/tests/testutil"
)

// One host-wide allocator (issue #11, item 5): Docker and containerd pass
// their own --root, and every root allocates from the registry in
// idmap.RegistryDir, so no two live containers share host IDs.

// allocUIDMap runs `cat /proc/self/uid_map` inside container id and
// returns its one mapping.
func allocUIDMap(t *testing.T, rt *testutil.Runtime, id string) idmap.Mapping {
	t.Helper()
	out, errOut, exit := rt.Run("exec", id, "cat", "/proc/self/uid_map")
	if exit != 0 {
		t.Fatalf("exec %s: exit %d: %s", id, exit, errOut)
	}
	f := strings.Fields(out)
	if len(f) != 3 {
		t.Fatalf("uid_map of %s inside: %q", id, out)
	}
	c, _ := strconv.ParseUint(f[0], 10, 32)
	h, _ := strconv.ParseUint(f[1], 10, 32)
	n, _ := strconv.ParseUint(f[2], 10, 32)
	return idmap.Mapping{ContainerID: uint32(c), Host: idmap.Range{Start: uint32(h), Size: uint32(n)}}
}

// allocSleeper runs a detached sleep under id in rt, with tweak applied
// to its spec.
func allocSleeper(t *testing.T, rt *testutil.Runtime, id string, tweak func(*specs.Spec)) string {
	t.Helper()
	b := testutil.NewBundle(t, "sleep", "1000")
	if tweak != nil {
		b.Edit(t, tweak)
	}
	if id == "" {
		id = rt.NewID()
	}
	rt.MustRun("run", "--detach", "--bundle", b.Dir, id)
	return id
}

// allocTwoRoots returns two runtimes (two engines' roots) for one test.
// Containers of both are force-deleted before either runtime's leak
// check, which would otherwise count the other root's live mounts.
func allocTwoRoots(t *testing.T) (*testutil.Runtime, *testutil.Runtime) {
	t.Helper()
	rts := []*testutil.Runtime{testutil.NewRuntime(t), testutil.NewRuntime(t)}
	t.Cleanup(func() {
		for _, rt := range rts {
			out, _, _ := rt.Run("list", "-q")
			for _, id := range strings.Fields(out) {
				rt.Run("delete", "--force", id)
			}
		}
	})
	return rts[0], rts[1]
}

// allocOwnCgroup gives the spec a cgroup of its own: two roots may hold
// the same container ID, and libcontainer's default cgroup is /<id>.
func allocOwnCgroup(t *testing.T, rt *testutil.Runtime) func(*specs.Spec) {
	return func(s *specs.Spec) { s.Linux.CgroupsPath = "/" + filepath.Base(filepath.Dir(rt.Root)) }
}

func allocEntry(t *testing.T, root, id string) (idmap.Entry, bool) {
	t.Helper()
	e, err := idmap.NewHostAllocator(nil, 0).Entries()
	if err != nil {
		t.Fatal(err)
	}
	got, ok := e[idmap.Key(root, id)]
	return got, ok
}

// Two roots (two engines) creating at once get pairwise disjoint ranges,
// as seen from inside each container.
func TestIDRangesTwoRootsConcurrent(t *testing.T) {
	rtA, rtB := allocTwoRoots(t)
	roots := []*testutil.Runtime{rtA, rtB}
	type made struct {
		rt *testutil.Runtime
		id string
	}
	var (
		mu  sync.Mutex
		all []made
		wg  sync.WaitGroup
	)
	for _, rt := range roots {
		for range 3 {
			id := rt.NewID()
			b := testutil.NewBundle(t, "sleep", "1000")
			wg.Go(func() {
				if _, errOut, exit := rt.Run("run", "--detach", "--bundle", b.Dir, id); exit != 0 {
					t.Errorf("run %s: %s", id, errOut)
					return
				}
				mu.Lock()
				all = append(all, made{rt, id})
				mu.Unlock()
			})
		}
	}
	wg.Wait()
	seen := map[string]idmap.Range{}
	for _, m := range all {
		r := allocUIDMap(t, m.rt, m.id).Host
		if r.Start == 0 {
			t.Errorf("%s maps host ID 0", m.id)
		}
		for other, o := range seen {
			if r.Overlaps(o) {
				t.Errorf("BUG: containers %s and %s of two roots share host IDs: %s and %s", m.id, other, r, o)
			}
		}
		seen[m.rt.Root+"/"+m.id] = r
	}
	if len(seen) != 6 {
		t.Errorf("%d containers ran, want 6", len(seen))
	}
}

// A caller's mapping that is another root's live container's range is
// replaced: the container runs with a range of its own.
func TestIDRangeCallerTakesOtherRootsRange(t *testing.T) {
	rtA, rtB := allocTwoRoots(t)
	victim := allocSleeper(t, rtA, "", nil)
	taken := allocUIDMap(t, rtA, victim).Host
	id := allocSleeper(t, rtB, "", func(s *specs.Spec) {
		m := []specs.LinuxIDMapping{{ContainerID: 0, HostID: taken.Start, Size: taken.Size}}
		s.Linux.UIDMappings, s.Linux.GIDMappings = m, m
	})
	if got := allocUIDMap(t, rtB, id).Host; got.Overlaps(taken) {
		t.Errorf("BUG: the caller's mapping %s, held by container %s of another root, was kept: %s", taken, victim, got)
	}
}

// Container IDs are unique per root only: the same ID under two roots
// gets two ranges, and deleting one keeps the other's.
func TestIDRangeSameIDTwoRoots(t *testing.T) {
	rtA, rtB := allocTwoRoots(t)
	id := rtA.NewID()
	rtB.NewID() // tracked by both roots' cleanups
	allocSleeper(t, rtA, id, nil)
	allocSleeper(t, rtB, id, allocOwnCgroup(t, rtB))
	a, b := allocUIDMap(t, rtA, id).Host, allocUIDMap(t, rtB, id).Host
	if a.Overlaps(b) {
		t.Errorf("BUG: %s under two roots: %s and %s overlap", id, a, b)
	}
	rtA.MustRun("delete", "--force", id)
	if _, ok := allocEntry(t, rtA.Root, id); ok {
		t.Errorf("%s of root A still holds a range after delete", id)
	}
	if e, ok := allocEntry(t, rtB.Root, id); !ok || e.Range != b {
		t.Errorf("deleting %s under root A dropped root B's range: %+v %v", id, e, ok)
	}
}

// A container that joins another's user namespace (through its network
// namespace, Docker's container:<name>) holds that range as a
// reservation: after the first container is deleted, the range is still
// not handed out while the joiner runs.
func TestIDRangeJoinedNamespaceReserved(t *testing.T) {
	rt, other := allocTwoRoots(t)
	target := allocSleeper(t, rt, "", nil)
	shared := allocUIDMap(t, rt, target).Host
	pid := rt.MustState(target).Pid
	joiner := allocSleeper(t, rt, "", func(s *specs.Spec) {
		joinsNS(s, specs.NetworkNamespace, "/proc/"+strconv.Itoa(pid)+"/ns/net")
	})
	if got := allocUIDMap(t, rt, joiner).Host; got != shared {
		t.Fatalf("joiner maps %s, want the target's %s", got, shared)
	}
	e, ok := allocEntry(t, rt.Root, joiner)
	if !ok || !e.Reserved || e.Range != shared || e.Shares != idmap.Key(rt.Root, target) {
		t.Fatalf("joiner's registry entry: %+v %v, want a reservation of %s shared with %s", e, ok, shared, target)
	}
	rt.MustRun("delete", "--force", target)
	// Every free range is handed out before the pool runs dry; none may be
	// the joiner's.
	for range 4 {
		id := allocSleeper(t, other, "", nil)
		if got := allocUIDMap(t, other, id).Host; got.Overlaps(shared) {
			t.Fatalf("BUG: %s got %s, which the running joiner %s still uses", id, got, joiner)
		}
	}
}

// A user namespace the caller names whose range another root's live
// container holds is refused before any host change: here it is that
// container's own namespace, which the namespace-joins rule refuses.
func TestIDRangeJoinOtherRootsUserns(t *testing.T) {
	rt, other := allocTwoRoots(t)
	victim := allocSleeper(t, other, "", nil)
	pid := other.MustState(victim).Pid
	b := testutil.NewBundle(t, "true")
	b.Edit(t, func(s *specs.Spec) {
		joinsNS(s, specs.UserNamespace, "/proc/"+strconv.Itoa(pid)+"/ns/user")
		s.Linux.UIDMappings, s.Linux.GIDMappings = nil, nil
	})
	rt.ExpectRefused(t, b, nil, "joins the user namespace at /proc/"+strconv.Itoa(pid)+"/ns/user", `"allowUnrelatedJoins": ["user"]`)
}

// Upgrade: a root's idmap.json of the previous version (ranges keyed by
// container ID under that --root) still counts: its live containers'
// ranges are not handed out, and the file is moved into the registry.
func TestIDRangeOldPerRootFile(t *testing.T) {
	rt := testutil.NewRuntime(t)
	first := allocSleeper(t, rt, "", nil)
	r := allocUIDMap(t, rt, first).Host
	rt.MustRun("delete", "--force", first)
	// The old file claims r for "old", created by this (live) test
	// process, as the previous version recorded a create in progress.
	start, err := idmap.ProcessStartTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	old := map[string]any{"version": 1, "ranges": map[string]any{"old": map[string]any{"start": r.Start, "size": r.Size, "pid": os.Getpid(), "pidStart": start}}}
	data, _ := json.Marshal(old)
	if err := os.WriteFile(filepath.Join(rt.Root, idmap.StateName), data, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idmap.NewHostAllocator(nil, 0).Release(idmap.Key(rt.Root, "old")) })
	id := allocSleeper(t, rt, "", func(s *specs.Spec) {
		m := []specs.LinuxIDMapping{{ContainerID: 0, HostID: r.Start, Size: r.Size}}
		s.Linux.UIDMappings, s.Linux.GIDMappings = m, m
	})
	if got := allocUIDMap(t, rt, id).Host; got.Overlaps(r) {
		t.Errorf("BUG: %s got %s, which the old per-root file gives to a live create", id, got)
	}
	if _, ok := allocEntry(t, rt.Root, "old"); !ok {
		t.Error("the old file's entry is not in the registry")
	}
	if _, err := os.Stat(filepath.Join(rt.Root, idmap.StateName)); !os.IsNotExist(err) {
		t.Errorf("the old per-root file is still there: %v", err)
	}
}

// The registry is the host's, whatever the root: a container's range is
// in idmap.RegistryDir while it lives, nothing under its --root.
func TestIDRangeRegistryIsHostWide(t *testing.T) {
	rt := testutil.NewRuntime(t)
	id := allocSleeper(t, rt, "", nil)
	r := allocUIDMap(t, rt, id).Host
	if e, ok := allocEntry(t, rt.Root, id); !ok || e.Range != r {
		t.Errorf("registry %s: %+v %v, want %s", filepath.Join(idmap.RegistryDir, idmap.StateName), e, ok, r)
	}
	if _, err := os.Stat(filepath.Join(rt.Root, idmap.StateName)); !os.IsNotExist(err) {
		t.Errorf("a per-root %s was written: %v", idmap.StateName, err)
	}
	rt.MustRun("delete", "--force", id)
	if _, ok := allocEntry(t, rt.Root, id); ok {
		t.Error("range still held after delete --force")
	}
}
