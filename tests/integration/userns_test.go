package integration

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/idmap"
	"github.com/hardened-runtime/hardened/tests/testutil"
)

// usernsPolicy writes a policy turning user namespaces on (extra: more
// keys of "userNamespace", e.g. `"idmapBindMounts": true`) and returns the
// global flag selecting it.
func usernsPolicy(t *testing.T, extra string) string {
	t.Helper()
	un := `"enabled": true`
	if extra != "" {
		un += ", " + extra
	}
	path := filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(path, []byte(`{"userNamespace": {`+un+`}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return "--policy=" + path
}

// usernsStaging is the runtime's staging directory for the root's
// containers (userns.stagingDir without the container ID).
func usernsStaging(rt *testutil.Runtime) string {
	root, _ := filepath.Abs(rt.Root)
	sum := sha256.Sum256([]byte(root))
	return filepath.Join("/run/hardened-idmap", hex.EncodeToString(sum[:6]))
}

// checkUsernsClean fails unless the root holds no ID range and no staging
// directory or mount is left. It runs at the end of each test (after
// the runtime's own cleanup has deleted every container).
func checkUsernsClean(t *testing.T, rt *testutil.Runtime) {
	t.Helper()
	t.Cleanup(func() {
		a := idmap.NewHostAllocator(nil, 0)
		if e, err := a.Entries(); err != nil {
			t.Errorf("idmap state: %v", err)
		} else {
			for k, r := range e {
				if filepath.Dir(k) == rt.Root {
					t.Errorf("ID range left after every container was deleted: %s %v", k, r)
				}
			}
		}
		staging := usernsStaging(rt)
		if ents, _ := os.ReadDir(staging); len(ents) > 0 {
			t.Errorf("staging directories left in %s: %d", staging, len(ents))
		}
		mi, _ := os.ReadFile("/proc/self/mountinfo")
		if strings.Contains(string(mi), staging) {
			t.Errorf("staging mounts left under %s", staging)
		}
		os.Remove(staging)
	})
}

// rootRanges counts the entries of the host-wide registry held by
// containers of rt's root.
func rootRanges(rt *testutil.Runtime) int {
	e, _ := idmap.NewHostAllocator(nil, 0).Entries()
	n := 0
	for k := range e {
		if filepath.Dir(k) == rt.Root {
			n++
		}
	}
	return n
}

// uidMapOf reads a process's uid_map as one mapping.
func uidMapOf(t *testing.T, pid int) idmap.Mapping {
	t.Helper()
	ms, err := idmap.ReadIDMap("/proc/" + strconv.Itoa(pid) + "/uid_map")
	if err != nil || len(ms) != 1 {
		t.Fatalf("uid_map of %d: %v %v", pid, ms, err)
	}
	return ms[0]
}

func TestUsernsMapsRootToPool(t *testing.T) {
	rt := testutil.NewRuntime(t)
	checkUsernsClean(t, rt)
	pol := usernsPolicy(t, "")
	b := testutil.NewBundle(t, "sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; echo ---; ls -ln /; echo ---; id -u; touch /tmp/by-root && ls -ln /tmp/by-root")
	out := rt.RunIn(t, b, pol)
	parts := strings.Split(out, "---\n")
	if len(parts) != 3 {
		t.Fatalf("output: %q", out)
	}
	pool := idmap.BuiltinPool()
	for _, line := range strings.Split(strings.TrimSpace(parts[0]), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 || f[0] != "0" || f[2] != "65536" {
			t.Fatalf("map line %q: want container 0, size 65536", line)
		}
		host, _ := strconv.ParseUint(f[1], 10, 32)
		if host == 0 || !idmap.WithinAny(idmap.Range{Start: uint32(host), Size: 65536}, pool) {
			t.Errorf("container root maps to host %d, want a range of the pool %v", host, pool)
		}
	}
	// The image's files look as the image says: owned by 0, not 65534.
	for _, line := range strings.Split(strings.TrimSpace(parts[1]), "\n") {
		f := strings.Fields(line)
		if len(f) < 9 || !strings.HasPrefix(f[0], "d") {
			continue
		}
		if name := f[8]; name != "proc" && name != "sys" && (f[2] != "0" || f[3] != "0") {
			t.Errorf("/%s owned by %s:%s inside, want 0:0 (the image's owner)", name, f[2], f[3])
		}
	}
	if !strings.HasPrefix(parts[2], "0\n") || !strings.Contains(parts[2], " 0        0 ") {
		t.Errorf("container root and its new file: %q", parts[2])
	}
	// The caller's config.json keeps its rootfs; the mapping is recorded.
	var s specs.Spec
	data, _ := os.ReadFile(b.ConfigPath())
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	if s.Root.Path != "rootfs" || len(s.Linux.UIDMappings) != 1 {
		t.Errorf("rewritten config.json: root %q, uid mappings %v", s.Root.Path, s.Linux.UIDMappings)
	}
	// The bundle runs again from its rewritten config.json.
	rt.RunIn(t, b, pol)
}

func TestUsernsParallelDisjoint(t *testing.T) {
	rt := testutil.NewRuntime(t)
	checkUsernsClean(t, rt)
	pol := usernsPolicy(t, "")
	const n = 50
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		b := testutil.NewBundle(t, "sleep", "1000")
		ids[i] = rt.NewID()
		wg.Go(func() {
			if out, errOut, exit := rt.Run(pol, "create", "--bundle", b.Dir, ids[i]); exit != 0 {
				t.Errorf("create %s: exit %d: %s %s", ids[i], exit, out, errOut)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	maps := map[string]idmap.Range{}
	for _, id := range ids {
		m := uidMapOf(t, rt.MustState(id).Pid)
		if m.ContainerID != 0 || m.Host.Size != 65536 || m.Host.Start == 0 {
			t.Errorf("%s: uid_map %+v", id, m)
		}
		maps[id] = m.Host
	}
	for i, a := range ids {
		for _, b := range ids[i+1:] {
			if maps[a].Overlaps(maps[b]) {
				t.Errorf("%s %s overlaps %s %s", a, maps[a], b, maps[b])
			}
		}
	}
	for _, id := range ids {
		wg.Go(func() {
			if _, errOut, exit := rt.Run("delete", "--force", id); exit != 0 {
				t.Errorf("delete %s: %s", id, errOut)
			}
		})
	}
	wg.Wait()
	if n := rootRanges(rt); n != 0 {
		t.Errorf("%d ranges held after every container was deleted", n)
	}
}

func TestUsernsRangeBackAfterKill(t *testing.T) {
	rt := testutil.NewRuntime(t)
	checkUsernsClean(t, rt)
	pol := usernsPolicy(t, "")
	b := testutil.NewBundle(t, "sleep", "1000")
	id := rt.NewID()
	rt.MustRun(pol, "run", "--detach", "--bundle", b.Dir, id)
	st := rt.MustState(id)
	first := uidMapOf(t, st.Pid).Host
	if err := syscall.Kill(st.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	rt.WaitStatus(id, "stopped", 5*time.Second)
	// Killed but not deleted: the container still holds its range.
	if r, ok, _ := idmap.NewHostAllocator(nil, 0).Lookup(idmap.Key(rt.Root, id)); !ok || r != first {
		t.Errorf("range of a killed, undeleted container: %v %v, want %v", r, ok, first)
	}
	rt.MustRun("delete", "--force", id)
	if _, ok, _ := idmap.NewHostAllocator(nil, 0).Lookup(idmap.Key(rt.Root, id)); ok {
		t.Errorf("range still held after delete --force")
	}
	// The range comes back: the next container gets the lowest free one,
	// so not a higher one than first unless a container of another test or
	// engine on this host (the registry is host-wide) has taken first in
	// between (a lower one freed in between is the lowest free one).
	b2 := testutil.NewBundle(t, "cat", "/proc/self/uid_map")
	out := rt.RunIn(t, b2, pol)
	f := strings.Fields(out)
	if len(f) != 3 {
		t.Fatalf("uid_map %q", out)
	}
	if got, err := strconv.ParseUint(f[1], 10, 32); err != nil || got > uint64(first.Start) {
		entries, err := idmap.NewHostAllocator(nil, 0).Entries()
		if err != nil {
			t.Fatal(err)
		}
		taken := false
		for key, e := range entries {
			if !strings.HasPrefix(key, rt.Root+"/") && slices.Contains(e.Holds(), first) {
				taken = true
			}
		}
		if !taken {
			t.Errorf("after delete, uid_map %q, want host %d again (no other container holds it)", out, first.Start)
		}
	}
}

// TestUsernsRuntimeKilledMidCreate kills the runtime with SIGKILL while
// its create waits in a createRuntime hook: the range and the idmapped
// rootfs it made are given back by delete --force, and without one, by
// the next allocation (the creator is gone and the container never was).
func TestUsernsRuntimeKilledMidCreate(t *testing.T) {
	rt := testutil.NewRuntime(t)
	checkUsernsClean(t, rt)
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep binary")
	}
	sleep, _ = filepath.EvalSymlinks(sleep)
	polPath := filepath.Join(t.TempDir(), "policy.json")
	os.WriteFile(polPath, []byte(fmt.Sprintf(`{"userNamespace": {"enabled": true}, "allowedHooks": [{"path": %q, "args": ["sleep", "30"]}]}`, sleep)), 0o644)
	pol := "--policy=" + polPath
	b := testutil.NewBundle(t, "sleep", "1000")
	b.Spec.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: sleep, Args: []string{"sleep", "30"}}}}
	b.Write(t)
	id := rt.NewID()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := rt.Command(ctx, pol, "create", "--bundle", b.Dir, id)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	staged := filepath.Join(usernsStaging(rt), id, "rootfs")
	deadline := time.Now().Add(20 * time.Second)
	for {
		mi, _ := os.ReadFile("/proc/self/mountinfo")
		if strings.Contains(string(mi), staged) {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("the create never mounted %s", staged)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // into the hook
	left := descendants(cmd.Process.Pid)
	cmd.Process.Kill()
	cmd.Wait()
	// Kill what the dead create left running (the hook, the init), by PID.
	for _, pid := range left {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	a := idmap.NewHostAllocator(nil, 0)
	if _, ok, _ := a.Lookup(idmap.Key(rt.Root, id)); !ok {
		t.Fatal("no range recorded for the killed create")
	}
	if _, errOut, exit := rt.Run("delete", "--force", id); exit != 0 && !strings.Contains(errOut, "does not exist") {
		t.Errorf("delete --force after a killed create: exit %d: %s", exit, errOut)
	}
	if _, ok, _ := a.Lookup(idmap.Key(rt.Root, id)); ok {
		t.Error("range still held after delete --force")
	}
	if mi, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mi), staged) {
		t.Errorf("%s still mounted after delete --force", staged)
	}
	// Not this test's subject: a create killed before it saved its state
	// leaves the container's (empty) cgroups, which delete cannot find.
	time.Sleep(100 * time.Millisecond)
	for _, d := range testutil.CgroupsNamed(id) {
		if err := os.Remove(d); err == nil {
			t.Logf("known: cgroup %s of the killed create left by delete --force (removed by the test)", d)
		}
	}
}

// descendants returns the PIDs of pid's children, grandchildren...
func descendants(pid int) []int {
	parent := map[int]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(data)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 1 {
			parent[p], _ = strconv.Atoi(f[1])
		}
	}
	var out []int
	frontier := []int{pid}
	for len(frontier) > 0 {
		cur := frontier[0]
		frontier = frontier[1:]
		for p, pp := range parent {
			if pp == cur {
				out = append(out, p)
				frontier = append(frontier, p)
			}
		}
	}
	return out
}

// TestUsernsVolumeOwnership shows what a bind-mounted host directory looks
// like: by default (not idmapped) a file container root creates is owned
// on the host by its mapped ID and host root's files show as nobody;
// with "idmapBindMounts" host owners show as they are, container root
// writes as host root, and the mount is nosuid,nodev.
func TestUsernsVolumeOwnership(t *testing.T) {
	for _, idmapped := range []bool{false, true} {
		t.Run(fmt.Sprintf("idmapBindMounts=%v", idmapped), func(t *testing.T) {
			rt := testutil.NewRuntime(t)
			checkUsernsClean(t, rt)
			pol := usernsPolicy(t, fmt.Sprintf(`"idmapBindMounts": %v`, idmapped))
			b := testutil.NewBundle(t, "sh", "-c", "ls -ln /vol/host-file; touch /vol/new; grep ' /vol ' /proc/self/mountinfo")
			vol := filepath.Join(b.Dir, "vol")
			os.Mkdir(vol, 0o777)
			os.Chmod(vol, 0o777)
			os.WriteFile(filepath.Join(vol, "host-file"), nil, 0o644)
			os.Chown(filepath.Join(vol, "host-file"), 1000, 1000)
			b.Spec.Mounts = append(b.Spec.Mounts, specs.Mount{Destination: "/vol", Type: "bind", Source: vol, Options: []string{"rbind", "rw"}})
			b.Write(t)
			id := rt.NewID()
			out := rt.MustRun(pol, "run", "--bundle", b.Dir, id)
			var st syscall.Stat_t
			if err := syscall.Stat(filepath.Join(vol, "new"), &st); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			owner := strings.Fields(lines[0])
			if idmapped {
				if st.Uid != 0 {
					t.Errorf("file created through an idmapped bind: host uid %d, want 0", st.Uid)
				}
				if len(owner) < 4 || owner[2] != "1000" {
					t.Errorf("host file owned by 1000 shows as %q", lines[0])
				}
				if !strings.Contains(out, "nosuid") || !strings.Contains(out, "nodev") {
					t.Errorf("idmapped bind without nosuid,nodev: %s", out)
				}
			} else {
				if st.Uid < 1<<20 {
					t.Errorf("file created by container root on the volume: host uid %d, want its mapped host ID", st.Uid)
				}
				if len(owner) < 4 || owner[2] != "65534" {
					t.Errorf("host file owned by 1000 shows as %q, want 65534 (unmapped)", lines[0])
				}
			}
		})
	}
}
