package e2e

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hardened-runtime/hardened/idmap"
	"github.com/hardened-runtime/hardened/tests/testutil"
)

// The runtime behind a dockerd with --userns-remap (#15): with the remap
// user named in "remapSubidUsers" the engine's mapping is kept for every
// container (they share the engine's one range), the rootfs is Docker's
// own (no rebuilt overlay), and docker diff, cp and export of a running
// container are exact, as under runc. These tests start a dockerd of
// their own and give it a remap user that exists only while they run.

// remapTestUser is the remap user the tests create, with remapTestRange
// as its only subordinate uids and gids (away from the built-in pool and
// from useradd's 100000+ ranges).
const (
	remapTestUser  = "hardened-remap-test"
	remapTestStart = 420_000_000
	remapTestSize  = 65536
)

// remapUser creates remapTestUser with its subordinate IDs until the
// test ends.
func remapUser(t *testing.T) {
	t.Helper()
	testutil.AddSubIDUser(t, remapTestUser, remapTestStart, remapTestSize)
}

// remapDockerd starts a dockerd with --userns-remap=remapTestUser whose
// "hardened" runtime runs with the given policy, stopped at the test's
// end.
func remapDockerd(t *testing.T, policy string) *testutil.Dockerd {
	t.Helper()
	bin := testutil.Binary(t)
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.json")
	if err := os.WriteFile(pol, []byte(policy), 0o644); err != nil {
		t.Fatal(err)
	}
	wrapper := filepath.Join(dir, "hardened-remap")
	if err := os.WriteFile(wrapper, []byte("#!/bin/sh\nexec "+bin+" --policy="+pol+" \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	// dockerd's directory and the test's are 0700: the remapped root of
	// runc's containers (the reference) must traverse them.
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	return testutil.StartDockerdArgs(t, wrapper, "--userns-remap="+remapTestUser)
}

// remapRun starts a detached container of runtime on dd, removed at the
// test's end, and returns its name. A first flag of cmd and its value
// ("--network", "container:X") go to docker run.
func remapRun(t *testing.T, dd *testutil.Dockerd, runtime string, cmd ...string) string {
	t.Helper()
	name := uniqueName("remap")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), dockerTimeout)
		defer cancel()
		dd.Run(ctx, "rm", "-f", name)
	})
	args := []string{"run", "-d", "--runtime=" + runtime, "--name", name}
	if len(cmd) > 1 && strings.HasPrefix(cmd[0], "--") {
		args, cmd = append(args, cmd[:2]...), cmd[2:]
	}
	mustDockerOn(t, dd, append(append(args, testutil.BusyboxImage), cmd...)...)
	return name
}

// remapPolicy names the test's remap user as an engine's.
const remapPolicy = `{"userNamespace": {"remapSubidUsers": ["` + remapTestUser + `"]}}`

// TestDockerRemap: behind dockerd --userns-remap, with the remap user in
// "remapSubidUsers", containers keep the engine's mapping (two at once),
// the rest of the policy still holds, and docker diff, cp and export of a
// running container are exact.
func TestDockerRemap(t *testing.T) {
	remapUser(t)
	dd := remapDockerd(t, remapPolicy)
	testutil.DockerImportBusybox(t, dd)
	wantMap := fmt.Sprintf("0 %d %d", remapTestStart, remapTestSize)

	t.Run("two containers share the engine's range", func(t *testing.T) {
		a := remapRun(t, dd, "hardened", "sleep", "1000")
		b := remapRun(t, dd, "hardened", "sleep", "1000")
		for _, name := range []string{a, b} {
			got := strings.Join(strings.Fields(mustDockerOn(t, dd, "exec", name, "cat", "/proc/self/uid_map", "/proc/self/gid_map")), " ")
			if want := wantMap + " " + wantMap; got != want {
				t.Errorf("%s: uid_map and gid_map %q, want %q", name, got, want)
			}
			pid := strings.TrimSpace(mustDockerOn(t, dd, "inspect", "-f", "{{.State.Pid}}", name))
			status, err := os.ReadFile("/proc/" + pid + "/status")
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(status), fmt.Sprintf("\nUid:\t%d\t", remapTestStart)) {
				t.Errorf("%s: the container's root is not host ID %d on the host:\n%s", name, remapTestStart, status)
			}
			// The rest of the policy holds: no new privileges, seccomp,
			// read-only rootfs, and the cgroup mount (which dockerd
			// --userns-remap makes read-write) read-only.
			out := mustDockerOn(t, dd, "exec", name, "sh", "-c", "grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status; touch /x 2>/dev/null && echo rootfs-writable || echo rootfs-read-only; awk '/ - cgroup2? / { n++; if ($6 !~ /^ro/) w++ } END { print (n > 0 && w == 0) ? \"cgroup-read-only\" : \"cgroup-writable\" }' /proc/self/mountinfo")
			if got := strings.Join(strings.Fields(out), " "); got != "NoNewPrivs: 1 Seccomp: 2 rootfs-read-only cgroup-read-only" {
				t.Errorf("%s: %q, want no new privileges, seccomp filtering, a read-only rootfs and cgroup mount", name, got)
			}
			// The container's rootfs is Docker's overlay (the same
			// file system), not one the runtime rebuilt.
			merged := strings.TrimSpace(mustDockerOn(t, dd, "inspect", "-f", "{{.GraphDriver.Data.MergedDir}}", name))
			var st syscall.Stat_t
			if err := syscall.Stat(merged, &st); err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimSpace(mustDockerOn(t, dd, "exec", name, "stat", "-c", "%d", "/")); got != strconv.FormatUint(st.Dev, 10) {
				t.Errorf("%s: the rootfs is device %s, Docker's overlay %s is %d: not Docker's own", name, got, merged, st.Dev)
			}
		}
		// Both hold the engine's range in the host registry, as sharers.
		remapRegistryShared(t, dd, a, b)
	})

	t.Run("shares the network namespace of another, restarts", func(t *testing.T) {
		// docker run --network container:X joins X's user namespace:
		// the engine's range too, with the engine's rootfs.
		a := remapRun(t, dd, "hardened", "sh", "-c", "mkdir -p /tmp/www && echo hello > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www")
		b := remapRun(t, dd, "hardened", "--network", "container:"+a, "sleep", "1000")
		got := strings.Join(strings.Fields(mustDockerOn(t, dd, "exec", b, "sh", "-c", "cat /proc/self/uid_map; stat -c %u:%g /bin/busybox")), " ")
		if want := wantMap + " 0:0"; got != want {
			t.Errorf("uid_map and owner of /bin/busybox in the joining container: %q, want %q", got, want)
		}
		page := func(when string) {
			t.Helper()
			var out string
			for try := 0; try < 50; try++ {
				ctx, cancel := context.WithTimeout(context.Background(), dockerTimeout)
				var exit int
				out, _, exit = dd.Run(ctx, "exec", b, "wget", "-qO-", "http://127.0.0.1:8080/")
				cancel()
				if exit == 0 {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if out != "hello\n" {
				t.Errorf("%s: the page is %q, want hello", when, out)
			}
		}
		remapRegistryShared(t, dd, a, b)
		page("first start")
		mustDockerOn(t, dd, "restart", "-t", "1", a)
		mustDockerOn(t, dd, "restart", "-t", "1", b)
		page("after restart")
	})

	t.Run("diff of a running container equals runc's", func(t *testing.T) {
		script := `echo a > /tmp/new; mkdir /tmp/d; echo b > /tmp/d/f; sleep 1000`
		h := remapRun(t, dd, "hardened", "sh", "-c", script)
		ref := remapRun(t, dd, "runc", "sh", "-c", script)
		time.Sleep(time.Second)
		lines := func(name string) []string { return dockerDiff(t, dd, name) }
		want := lines(ref)
		if got := lines(h); !slices.Equal(got, want) {
			t.Errorf("docker diff: %d lines %.300q, runc's %d lines %q", len(got), got, len(want), want)
		}
		// Paused (no view at rest is staged for it), the same.
		mustDockerOn(t, dd, "pause", h)
		got := lines(h)
		mustDockerOn(t, dd, "unpause", h)
		if !slices.Equal(got, want) {
			t.Errorf("docker diff while paused: %d lines %.300q, runc's %d lines %q", len(got), got, len(want), want)
		}
		if out := mustDockerOn(t, dd, "exec", h, "sh", "-c", "echo c >> /tmp/new && cat /tmp/new && stat -c %u:%g /tmp/new"); out != "a\nc\n0:0\n" {
			t.Errorf("after the unpause: %q", out)
		}
	})

	t.Run("cp into a running container, before any exec", func(t *testing.T) {
		// The container's own process checks, before any docker exec.
		c := remapRun(t, dd, "hardened", "sh", "-c", `while [ ! -e /tmp/f ]; do sleep 0.1; done; sleep 0.5; (echo y >> /tmp/f && chown 5:5 /tmp/f && stat -c ok:%u:%g /tmp/f || echo denied) > /tmp/result 2>&1; sleep 1000`)
		src := filepath.Join(t.TempDir(), "f")
		if err := os.WriteFile(src, []byte("x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		mustDockerOn(t, dd, "cp", src, c+":/tmp/f")
		var got string
		for try := 0; try < 50 && got == ""; try++ {
			time.Sleep(100 * time.Millisecond)
			got = strings.TrimSpace(remapExportFile(t, dd, c, "tmp/result"))
		}
		if got != "ok:5:5" {
			t.Errorf("container root appends to and chowns the copied file before any exec: %q, want ok:5:5", got)
		}
	})

	t.Run("export of a running container records container IDs", func(t *testing.T) {
		c := remapRun(t, dd, "hardened", "sh", "-c", `echo a > /tmp/new; chown 5:6 /tmp/new; sleep 1000`)
		time.Sleep(time.Second)
		owners := remapExportOwners(t, dd, c)
		want := map[string]string{"bin/busybox": "0:0", "tmp/new": "5:6", "tmp": "0:0"}
		for name, w := range want {
			if owners[name] != w {
				t.Errorf("docker export: %s owned by %q, want %s", name, owners[name], w)
			}
		}
	})
}

// remapExport returns the tar stream of docker export of container c.
func remapExport(t *testing.T, dd *testutil.Dockerd, c string) *tar.Reader {
	t.Helper()
	return tar.NewReader(strings.NewReader(mustDockerOn(t, dd, "export", c)))
}

// remapExportOwners returns "uid:gid" by path (without the leading / and
// trailing /) of every entry of docker export of c.
func remapExportOwners(t *testing.T, dd *testutil.Dockerd, c string) map[string]string {
	t.Helper()
	out := map[string]string{}
	tr := remapExport(t, dd, c)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out[strings.Trim(h.Name, "/")] = strconv.Itoa(h.Uid) + ":" + strconv.Itoa(h.Gid)
	}
}

// remapExportFile returns the content of one file of c, read through
// docker export (no docker exec runs).
func remapExportFile(t *testing.T, dd *testutil.Dockerd, c, name string) string {
	t.Helper()
	tr := remapExport(t, dd, c)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return ""
		}
		if err != nil {
			t.Fatal(err)
		}
		if strings.Trim(h.Name, "/") == name {
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return string(data)
		}
	}
}

// remapRegistryShared checks that the named containers of dd hold the
// engine's range in the host registry, marked shared.
func remapRegistryShared(t *testing.T, dd *testutil.Dockerd, names ...string) {
	t.Helper()
	entries, err := idmap.NewHostAllocator(nil, 0).Entries()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		id := strings.TrimSpace(mustDockerOn(t, dd, "inspect", "-f", "{{.ID}}", name))
		found := false
		for key, e := range entries {
			if filepath.Base(key) != id {
				continue
			}
			found = true
			if e.Shares != idmap.EngineRangeKey(remapTestUser) || e.Range != (idmap.Range{Start: remapTestStart, Size: remapTestSize}) {
				t.Errorf("%s: registry entry %+v, want the engine's range shared as %q", name, e, idmap.EngineRangeKey(remapTestUser))
			}
		}
		if !found {
			t.Errorf("%s: no entry in the host registry", name)
		}
	}
}
