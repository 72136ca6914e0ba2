package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
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

// usernsWrapper writes a policy with user namespaces on and a wrapper
// script that runs the runtime under test with it (dockerd and ctr pass no
// environment of ours to the runtime).
func usernsWrapper(t *testing.T) string {
	t.Helper()
	bin := testutil.Binary(t)
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.json")
	if err := os.WriteFile(pol, []byte(`{"userNamespace": {"enabled": true}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	wrapper := filepath.Join(dir, "hardened-userns")
	script := "#!/bin/sh\nexec " + bin + " --policy=" + pol + " \"$@\"\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return wrapper
}

// hostRootOf parses "0 <host> <size>" from a uid_map and checks it maps
// container root to a non-zero host ID with 65536 IDs.
func hostRootOf(t *testing.T, uidMap string) uint32 {
	t.Helper()
	f := strings.Fields(uidMap)
	if len(f) != 3 || f[0] != "0" || f[2] != "65536" || f[1] == "0" {
		t.Fatalf("uid_map %q: want 0 -> a non-zero host ID, 65536 IDs", uidMap)
	}
	h, err := strconv.ParseUint(f[1], 10, 32)
	if err != nil {
		t.Fatal(err)
	}
	return uint32(h)
}

func ownerOf(t *testing.T, path string) (uint32, uint32) {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Uid, st.Gid
}

// TestDockerUserns runs Docker containers with user namespaces on in the
// policy. Docker hands the runtime an overlay at .../merged, which the
// runtime rebuilds from idmapped lower layers (README "User namespaces"):
// container root is a non-zero host ID, the image's files are owned by 0
// inside, root's writes land in the container's layer owned by the mapped
// ID while it runs and by container IDs at rest, docker cp, diff, exec,
// stop and start work, Docker's /etc/hosts belongs to container root, and
// named volumes keep container IDs across containers of different ranges.
// Nothing stays mounted or allocated afterwards.
func TestDockerUserns(t *testing.T) {
	testutil.RequireRoot(t)
	dd := testutil.StartDockerd(t, usernsWrapper(t))
	img := testutil.DockerImportBusybox(t, dd)
	run := func(args ...string) string {
		t.Helper()
		return mustDockerOn(t, dd, args...)
	}
	name := uniqueName("userns")
	run("run", "-d", "--runtime=hardened", "--name", name, img, "sh", "-c", "echo hi > /tmp/f; echo ready; exec sleep 1000")
	defer dd.Run(context.Background(), "rm", "-f", name)
	var info []struct {
		ID          string
		GraphDriver struct{ Data map[string]string }
	}
	if err := json.Unmarshal([]byte(run("inspect", name)), &info); err != nil || len(info) != 1 {
		t.Fatalf("docker inspect: %v", err)
	}
	upper, merged := info[0].GraphDriver.Data["UpperDir"], info[0].GraphDriver.Data["MergedDir"]
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(run("logs", name), "ready"); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("container never got ready")
		}
	}
	host := hostRootOf(t, run("exec", name, "cat", "/proc/self/uid_map"))
	if out := run("exec", name, "sh", "-c", "id -u; stat -c '%u:%g' /bin/busybox /etc/hosts /; echo 10.0.0.9 extra >> /etc/hosts && tail -n1 /etc/hosts"); out != "0\n0:0\n0:0\n0:0\n10.0.0.9 extra\n" {
		t.Errorf("inside: %q; want root, the image's and Docker's files owned by 0, /etc/hosts writable", out)
	}
	if uid, gid := ownerOf(t, filepath.Join(upper, "tmp", "f")); uid != host || gid != host {
		t.Errorf("root's file in the container's layer is owned by %d:%d, want the mapped %d", uid, gid, host)
	}
	if uid, _ := ownerOf(t, filepath.Join(merged, "bin", "busybox")); uid != host {
		t.Errorf("%s/bin/busybox owned by %d on the host; want the rebuilt rootfs bound there (%d)", merged, uid, host)
	}
	dst := filepath.Join(t.TempDir(), "f")
	run("cp", name+":/tmp/f", dst)
	if b, _ := os.ReadFile(dst); string(b) != "hi\n" {
		t.Errorf("docker cp out: %q", b)
	}
	if diff := run("diff", name); !strings.Contains(diff, "/tmp/f") {
		t.Errorf("docker diff lacks /tmp/f:\n%s", diff)
	}
	run("stop", "-t", "1", name)
	// At rest the layer holds container IDs, as without a user namespace.
	if uid, gid := ownerOf(t, filepath.Join(upper, "tmp", "f")); uid != 0 || gid != 0 {
		t.Errorf("after stop, /tmp/f in the layer is owned by %d:%d, want 0:0", uid, gid)
	}
	assertNoStaging(t, dd)
	run("start", name)
	if again := hostRootOf(t, run("exec", name, "cat", "/proc/self/uid_map")); again == 0 {
		t.Errorf("after docker start: host root %d", again)
	}
	if out := run("exec", name, "sh", "-c", "cat /tmp/f; stat -c %u /tmp/f"); out != "hi\n0\n" {
		t.Errorf("after docker start: %q", out)
	}
	run("rm", "-f", name)

	// A named volume: the init container's chown holds for the next
	// container (another range), whose non-root user writes there; on disk
	// the files carry container IDs.
	vol := uniqueName("vol")
	run("volume", "create", vol)
	defer dd.Run(context.Background(), "volume", "rm", "-f", vol)
	run("run", "--rm", "--runtime=hardened", "-v", vol+":/data", img, "sh", "-c", "echo r > /data/root-file && chown 1000:1000 /data")
	if out := run("run", "--rm", "--runtime=hardened", "-u", "1000:1000", "-v", vol+":/data", img, "sh", "-c", "echo u > /data/user-file && stat -c %u /data/root-file /data/user-file"); out != "0\n1000\n" {
		t.Errorf("volume seen by the second container: %q", out)
	}
	mp := strings.TrimSpace(run("volume", "inspect", "-f", "{{.Mountpoint}}", vol))
	if uid, _ := ownerOf(t, filepath.Join(mp, "user-file")); uid != 1000 {
		t.Errorf("user-file on the volume owned by %d on disk, want 1000", uid)
	}
	assertNoStaging(t, dd)
}

// assertNoStaging checks that no runtime root of dd holds an ID range and
// no staging mount of it is left.
func assertNoStaging(t *testing.T, dd *testutil.Dockerd) {
	t.Helper()
	roots, _ := filepath.Glob(filepath.Join(dd.Dir, "exec", "runtime-*", "*"))
	entries, _ := idmap.NewHostAllocator(nil, 0).Entries()
	for k, e := range entries {
		if slices.Contains(roots, filepath.Dir(k)) {
			t.Errorf("%s holds host IDs %v in the registry", k, e.Holds())
		}
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	for _, root := range roots {
		sum := sha256.Sum256([]byte(root))
		staging := filepath.Join("/run/hardened-idmap", hex.EncodeToString(sum[:6]))
		if strings.Contains(string(mi), staging) {
			t.Errorf("staging mounts of %s left under %s", root, staging)
		}
		if _, err := os.Stat(staging); err == nil {
			t.Errorf("staging directory %s left", staging)
		}
	}
}

// TestCtrUserns runs `ctr run` with user namespaces on: containerd mounts
// the snapshot's overlay at bundle/rootfs, which the runtime rebuilds.
func TestCtrUserns(t *testing.T) {
	img := ctrImage(t)
	wrapper := usernsWrapper(t)
	id := uniqueName("ctr-userns")
	out, errOut, exit := ctr(t, "run", "--runc-binary", wrapper, "--runc-root", containerd.RuncRoot(), "--rm", img, id,
		"sh", "-c", "cat /proc/self/uid_map; stat -c %u:%g /bin/busybox; echo x > /tmp/x && stat -c %u /tmp/x")
	if exit != 0 {
		t.Fatalf("ctr run: exit %d: %s %s", exit, out, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("ctr run output %q", out)
	}
	hostRootOf(t, lines[0])
	if lines[1] != "0:0" || lines[2] != "0" {
		t.Errorf("ctr run: image file %s, new file %s; want 0:0 and 0", lines[1], lines[2])
	}
	assertCtrGone(t, id)
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mi), "/run/hardened-idmap/") && strings.Contains(string(mi), id) {
		t.Errorf("staging mounts of %s left", id)
	}
}
