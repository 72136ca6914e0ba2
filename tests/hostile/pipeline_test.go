package hostile

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hardened-runtime/hardened/idmap"
	"github.com/hardened-runtime/hardened/tests/testutil"
)

// Create runs one way: every refusal before any host side effect. A
// refused config.json must leave no trace on the host: no ID range, no
// staging directory or mount, no chown of the engine's files, the
// caller's overlay rootfs untouched.

// pipelineDockerFiles binds Docker-like per-container files
// (<data-root>/containers/<id>/hosts, hostname, resolv.conf, owned by
// root) into the spec and makes its rootfs the overlay "Docker" mounted
// for the container (escapesDockerData), which is what makes the runtime
// give them to the container's mapped root; it returns their host paths.
func pipelineDockerFiles(t *testing.T, s *specs.Spec, id string) []string {
	t.Helper()
	docker := escapesNewDockerData(t)
	docker.claim(t, id)
	s.Root.Path = docker.merged
	dir := filepath.Join(docker.root, "containers", id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var out []string
	for dst, name := range map[string]string{"/etc/hosts": "hosts", "/etc/hostname": "hostname", "/etc/resolv.conf": "resolv.conf"} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("# "+name+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		s.Mounts = append(s.Mounts, specs.Mount{Destination: dst, Type: "bind", Source: p, Options: []string{"rbind", "rprivate"}})
		out = append(out, p)
	}
	return out
}

// pipelineOwner returns a file's owner uid.
func pipelineOwner(t *testing.T, p string) uint32 {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Uid
}

// pipelineRangeFiles are where an ID range of the test's root may be
// recorded (per root, or host-wide).
func pipelineRangeFiles(rt *testutil.Runtime) []string {
	return []string{filepath.Join(rt.Root, "idmap.json"), "/run/hardened/idmap.json"}
}

// pipelineExpectNoTrace fails when anything of container id is on the
// host: an ID range, a staging directory or lock, a mount naming it.
func pipelineExpectNoTrace(t *testing.T, rt *testutil.Runtime, id string) {
	t.Helper()
	for _, f := range pipelineRangeFiles(rt) {
		if data, err := os.ReadFile(f); err == nil && bytes.Contains(data, []byte(`"`+id+`"`)) {
			t.Errorf("%s holds an ID range for %s: %s", f, id, data)
		}
	}
	if r, ok, err := idmap.NewHostAllocator(nil, 0).Lookup(idmap.Key(rt.Root, id)); ok || err != nil {
		t.Errorf("the registry holds an ID range for %s: %s %v", id, r, err)
	}
	if dirs, _ := filepath.Glob(filepath.Join("/run/hardened-idmap", "*", id)); len(dirs) > 0 {
		t.Errorf("staging directories of %s left: %v", id, dirs)
	}
	if locks, _ := filepath.Glob(filepath.Join(rt.Root, "."+id+"*")); len(locks) > 0 {
		t.Errorf("create lock of %s left: %v", id, locks)
	}
	if mi, err := os.ReadFile("/proc/self/mountinfo"); err == nil && bytes.Contains(mi, []byte(id)) {
		t.Errorf("a mount names %s:\n%s", id, mi)
	}
}

// pipelineRefusals are configurations refused by different rules, each
// on top of the Docker-like files.
func pipelineRefusals() []struct {
	name, want string
	tweak      func(t *testing.T, s *specs.Spec)
} {
	return []struct {
		name, want string
		tweak      func(t *testing.T, s *specs.Spec)
	}{
		{"host network namespace", "rule host-namespaces", func(_ *testing.T, s *specs.Spec) {
			var keep []specs.LinuxNamespace
			for _, ns := range s.Linux.Namespaces {
				if ns.Type != specs.NetworkNamespace {
					keep = append(keep, ns)
				}
			}
			s.Linux.Namespaces = keep
		}},
		{"bind of host /etc", "rule host-mounts", func(_ *testing.T, s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/hostetc", Type: "bind", Source: "/etc", Options: []string{"rbind"}})
		}},
		{"host sysctl", "rule sysctls", func(_ *testing.T, s *specs.Spec) {
			s.Linux.Sysctl = map[string]string{"kernel.core_pattern": "|/tmp/x"}
		}},
		{"user namespace of the host", "/proc/1/ns/user", func(_ *testing.T, s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace, Path: "/proc/1/ns/user"})
		}},
		{"rootfs /usr through /proc/self/root", "rule host-rootfs", func(t *testing.T, s *specs.Spec) {
			s.Root.Path = "/proc/self/root/usr"
		}},
	}
}

// TestHostilePipelineRefusedCreateLeavesNoTrace: before, the ID range
// was allocated, Docker's files chowned to the mapped root and the rootfs
// staged before the refusal rules ran; the chown stayed.
func TestHostilePipelineRefusedCreateLeavesNoTrace(t *testing.T) {
	for _, tc := range pipelineRefusals() {
		t.Run(tc.name, func(t *testing.T) {
			rt := testutil.NewRuntime(t)
			b := testutil.NewBundle(t, "true")
			id := rt.NewID()
			var files []string
			b.Edit(t, func(s *specs.Spec) {
				files = pipelineDockerFiles(t, s, id)
				tc.tweak(t, s)
			})
			before, _ := os.ReadFile(b.ConfigPath())
			_, errOut, exit := rt.Run("create", "--bundle", b.Dir, id)
			if exit == 0 || !strings.Contains(errOut, tc.want) {
				t.Fatalf("create: exit %d, stderr %q; want a refusal naming %q", exit, errOut, tc.want)
			}
			for _, f := range files {
				if uid := pipelineOwner(t, f); uid != 0 {
					t.Errorf("refused create chowned %s to %d", f, uid)
				}
			}
			if after, _ := os.ReadFile(b.ConfigPath()); !bytes.Equal(before, after) {
				t.Error("refused create rewrote config.json")
			}
			pipelineExpectNoTrace(t, rt, id)
		})
	}
}

// TestHostilePipelineAcceptedCreateChowns is the control of the test
// above: without a refusal the same bundle's Docker-like files are given
// to the mapped root (so the no-trace test would see a chown done before
// the refusals), and delete leaves nothing.
func TestHostilePipelineAcceptedCreateChowns(t *testing.T) {
	rt := testutil.NewRuntime(t)
	b := testutil.NewBundle(t, "true")
	id := rt.NewID()
	var files []string
	b.Edit(t, func(s *specs.Spec) { files = pipelineDockerFiles(t, s, id) })
	rt.MustRun("create", "--bundle", b.Dir, id)
	if uid := pipelineOwner(t, files[0]); uid == 0 {
		t.Errorf("%s still owned by root after an accepted create: the Docker-like setup does not reach the chown", files[0])
	}
	rt.MustRun("delete", "--force", id)
	pipelineExpectNoTrace(t, rt, id)
}

// pipelineOverlayRootfs mounts an overlay at the bundle's rootfs (lower:
// a busybox tree, upper: one file owned by root), as Docker and
// containerd do, and returns the upper directory.
func pipelineOverlayRootfs(t *testing.T, b *testutil.Bundle) (upper string) {
	t.Helper()
	base := t.TempDir()
	lower, upper, work := filepath.Join(base, "lower"), filepath.Join(base, "upper"), filepath.Join(base, "work")
	testutil.BusyboxRootfs(t, lower)
	for _, d := range []string{upper, work} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(upper, "layer-file"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("overlay", b.Rootfs, "overlay", 0, "lowerdir="+lower+",upperdir="+upper+",workdir="+work); err != nil {
		t.Skipf("overlay: %v", err)
	}
	t.Cleanup(func() {
		for unix.Unmount(b.Rootfs, unix.MNT_DETACH) == nil {
		}
	})
	return upper
}

// pipelineTopMount returns the mountinfo line of the top mount at p.
func pipelineTopMount(t *testing.T, p string) string {
	t.Helper()
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var top string
	for _, l := range strings.Split(string(mi), "\n") {
		if f := strings.Fields(l); len(f) > 4 && f[4] == p {
			top = l
		}
	}
	return top
}

// TestHostilePipelineRefusedOverlayUntouched: before, the caller's
// overlay was detached and rebuilt from idmapped layers and its upper
// layer shifted into the container's range before the refusal rules ran;
// a refusal then left the caller's rootfs path without its overlay.
func TestHostilePipelineRefusedOverlayUntouched(t *testing.T) {
	for _, tc := range pipelineRefusals()[:3] {
		t.Run(tc.name, func(t *testing.T) {
			rt := testutil.NewRuntime(t)
			b := testutil.NewBundle(t, "true")
			upper := pipelineOverlayRootfs(t, b)
			mountBefore := pipelineTopMount(t, b.Rootfs)
			id := rt.NewID()
			b.Edit(t, func(s *specs.Spec) { tc.tweak(t, s) })
			_, errOut, exit := rt.Run("create", "--bundle", b.Dir, id)
			if exit == 0 || !strings.Contains(errOut, tc.want) {
				t.Fatalf("create: exit %d, stderr %q; want a refusal naming %q", exit, errOut, tc.want)
			}
			if got := pipelineTopMount(t, b.Rootfs); got != mountBefore {
				t.Errorf("the caller's overlay at %s changed:\nbefore %s\nafter  %s", b.Rootfs, mountBefore, got)
			}
			for _, p := range []string{upper, filepath.Join(upper, "layer-file")} {
				if uid := pipelineOwner(t, p); uid != 0 {
					t.Errorf("%s of the upper layer owned by %d after a refused create", p, uid)
				}
			}
			if _, err := os.Stat(filepath.Join(b.Rootfs, "layer-file")); err != nil {
				t.Errorf("the caller's rootfs lost its layer: %v", err)
			}
			pipelineExpectNoTrace(t, rt, id)
		})
	}
}

// TestHostilePipelineStagedRootfs: in enforce mode, user namespaces on
// or off, libcontainer gets a staging mount of the checked rootfs, not
// the bundle's path: the container runs on the bundle's files, and
// nothing of the staging is left after the run.
func TestHostilePipelineStagedRootfs(t *testing.T) {
	off, _ := testutil.WritePolicy(t, `{"userNamespace": {"enabled": false}}`)
	for name, global := range map[string][]string{"userns on": nil, "userns off": {off}} {
		t.Run(name, func(t *testing.T) {
			rt := testutil.NewRuntime(t)
			b := testutil.NewBundle(t, "true")
			if err := os.WriteFile(filepath.Join(b.Rootfs, "pipeline-marker"), []byte("bundle-rootfs"), 0o644); err != nil {
				t.Fatal(err)
			}
			id := rt.NewID()
			args := append(append([]string{}, global...), "create", "--bundle", b.Dir, id)
			rt.MustRun(args...)
			st := rt.MustState(id)
			if !strings.HasPrefix(st.Rootfs, "/run/hardened-idmap/") {
				t.Errorf("state rootfs %q, want the staging mount", st.Rootfs)
			}
			data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(st.Pid), "root", "pipeline-marker"))
			if err != nil || string(data) != "bundle-rootfs" {
				t.Errorf("container's root lacks the bundle's marker: %q %v", data, err)
			}
			rt.MustRun("delete", "--force", id)
			pipelineExpectNoTrace(t, rt, id)
		})
	}
}

// TestHostilePipelineIDMappedMountRecheckedAfterAllocation: a mount
// mapping equal to the range the spec asks for passes the refusals (the
// range is allocated only after them), but the allocator gives another
// range (5000 is not in the pool): the idmapped-mounts rule compares
// again once the range is known and refuses, and the range goes back.
func TestHostilePipelineIDMappedMountRecheckedAfterAllocation(t *testing.T) {
	rt := testutil.NewRuntime(t)
	vol := t.TempDir()
	flag, _ := testutil.WritePolicy(t, `{"idmapMountSources": [`+strconv.Quote(vol)+`]}`)
	b := testutil.NewBundle(t, "true")
	id := rt.NewID()
	asked := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 5000, Size: 65536}}
	b.Edit(t, func(s *specs.Spec) {
		s.Linux.UIDMappings, s.Linux.GIDMappings = asked, asked
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/v", Type: "bind", Source: filepath.Join(vol, "data"),
			Options: []string{"rbind"}, UIDMappings: asked, GIDMappings: asked})
	})
	if err := os.Mkdir(filepath.Join(vol, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, errOut, exit := rt.Run(flag, "create", "--bundle", b.Dir, id)
	for _, w := range []string{"mapping (uid 0:5000:65536, gid 0:5000:65536) is not the container's own", "rule idmapped-mounts"} {
		if exit == 0 || !strings.Contains(errOut, w) {
			t.Errorf("create: exit %d, stderr %q; want a refusal with %q", exit, errOut, w)
		}
	}
	pipelineExpectNoTrace(t, rt, id)
}
