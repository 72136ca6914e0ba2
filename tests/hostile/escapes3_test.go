package hostile

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// escapesPodUID returns a fresh pod UID.
func escapesPodUID(t *testing.T) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// escapesPodBind binds src read-only at /mnt/token, the spec annotated
// with ann (a pod's annotations as a CRI implementation writes them).
func escapesPodBind(src string, ann map[string]string) func(*testing.T, *testutil.Bundle, *specs.Spec) {
	return func(_ *testing.T, _ *testutil.Bundle, s *specs.Spec) {
		s.Annotations = ann
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt/token", Type: "bind", Source: src, Options: []string{"rbind", "ro"}})
	}
}

// TestEscapesKubeletOtherPod: the kubelet's per-pod directories
// (/var/lib/kubelet/pods/<uid>/volumes, volume-subpaths, etc-hosts,
// containers) were allowed bind sources for any container, so a
// config.json naming ANOTHER pod's
// /var/lib/kubelet/pods/<uid>/volumes/kubernetes.io~secret/... read its
// secrets and service-account token (files of mode 0644). Now a pod's
// directory is bound only into the containers of that pod: <uid> must be
// the pod UID the CRI implementation annotates (containerd's
// io.kubernetes.cri.sandbox-uid, CRI-O's io.kubernetes.pod.uid, which a
// pod's own annotations cannot replace: a second one that disagrees
// refuses).
func TestEscapesKubeletOtherPod(t *testing.T) {
	victim, attacker := escapesPodUID(t), escapesPodUID(t)
	token := testutil.KubeletPodSecret(t, victim, "victim-token\n")
	allow := `(rule host-mounts, allow with "allowHostMounts": ["` + token + `"])`
	expectAllRefused(t, []attack{
		{name: "containerd pod", tweak: escapesPodBind(token, map[string]string{"io.kubernetes.cri.sandbox-uid": attacker}),
			want: []string{"bind mount of host path " + token + " at /mnt/token exposes /var/lib/kubelet (pod " + victim + " is not the container's own pod " + attacker + ")", allow}},
		{name: "CRI-O pod", tweak: escapesPodBind(token, map[string]string{"io.kubernetes.pod.uid": attacker}),
			want: []string{"(pod " + victim + " is not the container's own pod " + attacker + ")", allow}},
		{name: "no pod", tweak: escapesPodBind(token, nil),
			want: []string{"exposes /var/lib/kubelet (a pod's directory is bound only into that pod's containers; the container has no pod UID", allow}},
		{name: "pod annotation forging the UID", tweak: escapesPodBind(token, map[string]string{"io.kubernetes.cri.sandbox-uid": victim, "io.kubernetes.pod.uid": attacker}),
			want: []string{"the container has no pod UID", allow}},
	})
}

// TestEscapesKubeletOwnPod: a pod's own container still reads its secret
// volume, under either CRI implementation's annotation.
func TestEscapesKubeletOwnPod(t *testing.T) {
	uid := escapesPodUID(t)
	token := testutil.KubeletPodSecret(t, uid, "own-token\n")
	for _, key := range []string{"io.kubernetes.cri.sandbox-uid", "io.kubernetes.pod.uid"} {
		t.Run(key, func(t *testing.T) {
			rt := testutil.NewRuntime(t)
			b := testutil.NewBundle(t)
			b.Edit(t, func(s *specs.Spec) { escapesPodBind(token, map[string]string{key: uid})(t, b, s) })
			out, exit := runInside(t, rt, b, "cat /mnt/token")
			if exit != 0 || out != "own-token\n" {
				t.Errorf("own pod's secret: exit %d, stdout %q", exit, out)
			}
		})
	}
}

// escapesDockerData stands for a Docker data root: the overlay2 layer
// mountID holds the containers' rootfs, mounted at merged as dockerd
// mounts a container's rootfs before it calls the runtime.
type escapesDockerData struct {
	root, mountID, merged string
}

// escapesNewDockerData makes a Docker data root with one overlay2 layer
// (a busybox tree) mounted at <root>/overlay2/<mountID>/merged.
func escapesNewDockerData(t *testing.T) *escapesDockerData {
	t.Helper()
	d := &escapesDockerData{root: filepath.Join(t.TempDir(), "docker"), mountID: "3f2a9c0e7b41d6a85e1f"}
	layer := filepath.Join(d.root, "overlay2", d.mountID)
	lower, upper, work := filepath.Join(layer, "lower"), filepath.Join(layer, "diff"), filepath.Join(layer, "work")
	d.merged = filepath.Join(layer, "merged")
	testutil.BusyboxRootfs(t, lower)
	for _, dir := range []string{upper, work, d.merged} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Mount("overlay", d.merged, "overlay", 0, "lowerdir="+lower+",upperdir="+upper+",workdir="+work); err != nil {
		t.Skipf("overlay: %v", err)
	}
	t.Cleanup(func() {
		for unix.Unmount(d.merged, unix.MNT_DETACH) == nil {
		}
	})
	return d
}

// claim records in the layer store that container id's rootfs is the
// layer (<root>/image/overlay2/layerdb/mounts/<id>/mount-id, root's).
func (d *escapesDockerData) claim(t *testing.T, id string) {
	t.Helper()
	dir := filepath.Join(d.root, "image", "overlay2", "layerdb", "mounts", id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "mount-id"), []byte(d.mountID), 0o644); err != nil {
		t.Fatal(err)
	}
}

// hosts makes container id's /etc/hosts in the data root,
// <root>/containers/<id>/hosts (root's, mode 0644), and returns its path.
func (d *escapesDockerData) hosts(t *testing.T, id, content string) string {
	t.Helper()
	dir := filepath.Join(d.root, "containers", id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "hosts")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// escapesBindHosts binds hosts read-write at /etc/hosts, as Docker does.
func escapesBindHosts(s *specs.Spec, hosts string) {
	s.Mounts = append(review2WithoutDest(s.Mounts, "/etc/hosts"), specs.Mount{Destination: "/etc/hosts", Type: "bind", Source: hosts, Options: []string{"rbind", "rw"}})
}

// escapesHostsScript prints the owner of /etc/hosts as the container sees
// it, then appends a spoofed entry to it.
const escapesHostsScript = `stat -c %u /etc/hosts; echo "6.6.6.6 db" >> /etc/hosts 2>/dev/null && echo wrote; true`

// TestEscapesDockerFilesOfAnotherContainer: Docker's per-container files
// (<data-root>/containers/<id>/hosts, hostname, resolv.conf) were chowned
// to the range of any container of the same ID that bound them. A caller
// that is not that Docker (ctr or containerd with another --root, a second
// dockerd) chose the ID of an existing Docker container, bound its hosts
// file at /etc/hosts, got it chowned to its own range and rewrote it: DNS
// spoofing of the other container. Now the files are chowned only when
// the container's rootfs is the overlay Docker mounted for that container
// ID (<data-root>/overlay2/<mount-id>/merged, mount-id from Docker's layer
// store; or <data-root>/rootfs/<snapshotter>/<id>); otherwise the bind
// keeps the owner, which the container's root cannot write.
func TestEscapesDockerFilesOfAnotherContainer(t *testing.T) {
	const content = "10.0.0.5 db\n"
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, d *escapesDockerData, id string, s *specs.Spec)
	}{
		// The victim is running (or has run): the caller uses a rootfs of
		// its own.
		{name: "own rootfs", setup: func(t *testing.T, d *escapesDockerData, id string, s *specs.Spec) { d.claim(t, id) }},
		// The victim is stopped: Docker unmounted its rootfs, which is a
		// plain directory now (here with a busybox tree to run in).
		{name: "the stopped container's unmounted rootfs", setup: func(t *testing.T, d *escapesDockerData, id string, s *specs.Spec) {
			d.claim(t, id)
			plain := filepath.Join(d.root, "overlay2", "9d8e7f6a5b4c3d2e1f00", "merged")
			testutil.BusyboxRootfs(t, plain)
			if err := os.WriteFile(filepath.Join(d.root, "image", "overlay2", "layerdb", "mounts", id, "mount-id"), []byte("9d8e7f6a5b4c3d2e1f00"), 0o644); err != nil {
				t.Fatal(err)
			}
			s.Root.Path = plain
		}},
		// Docker's overlay of another container.
		{name: "another container's layer", setup: func(t *testing.T, d *escapesDockerData, id string, s *specs.Spec) {
			s.Root.Path = d.merged
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := testutil.NewRuntime(t)
			b := testutil.NewBundle(t)
			d := escapesNewDockerData(t)
			id := rt.NewID() // the victim's ID, chosen by the caller
			hosts := d.hosts(t, id, content)
			b.Edit(t, func(s *specs.Spec) {
				escapesBindHosts(s, hosts)
				tc.setup(t, d, id, s)
			})
			b.SetArgs(t, "sh", "-c", escapesHostsScript)
			escapesExpectHostsKept(t, rt, b.Dir, id, hosts, content)
		})
	}
}

// TestEscapesDockerFilesOwnContainer: Docker's own container (its rootfs
// the overlay Docker mounted for it) still gets its /etc/hosts: its root
// owns it and writes it, with either image store.
func TestEscapesDockerFilesOwnContainer(t *testing.T) {
	for _, store := range []string{"overlay2", "containerd"} {
		t.Run(store, func(t *testing.T) {
			rt := testutil.NewRuntime(t)
			b := testutil.NewBundle(t)
			d := escapesNewDockerData(t)
			id := rt.NewID()
			rootfs := d.merged
			if store == "containerd" {
				// <data-root>/rootfs/overlayfs/<id>, named by the ID.
				rootfs = filepath.Join(d.root, "rootfs", "overlayfs", id)
				if err := os.MkdirAll(rootfs, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := unix.Mount(d.merged, rootfs, "", unix.MS_BIND, ""); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() {
					for unix.Unmount(rootfs, unix.MNT_DETACH) == nil {
					}
				})
			} else {
				d.claim(t, id)
			}
			hosts := d.hosts(t, id, "10.0.0.5 db\n")
			b.Edit(t, func(s *specs.Spec) {
				escapesBindHosts(s, hosts)
				s.Root.Path = rootfs
			})
			b.SetArgs(t, "sh", "-c", escapesHostsScript)
			out, errOut, exit := rt.Run("run", "--bundle", b.Dir, id)
			if exit != 0 || out != "0\nwrote\n" {
				t.Errorf("Docker's own container: exit %d, stdout %q (want /etc/hosts owned by its root and written), stderr %q", exit, out, errOut)
			}
		})
	}
}

// escapesPodmanUserdata makes container id's userdata directory in a
// stand-in for Podman's storage root, <root>/overlay-containers/<id>/
// userdata, with the shm directory and the hosts file (root's, mode
// 0644) Podman binds, and returns the directory.
func escapesPodmanUserdata(t *testing.T, id, content string) string {
	t.Helper()
	userdata := filepath.Join(t.TempDir(), "storage", "overlay-containers", id, "userdata")
	if err := os.MkdirAll(filepath.Join(userdata, "shm"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(userdata, "hosts"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return userdata
}

// escapesBindPodmanFiles binds userdata's shm at /dev/shm and its hosts
// file at /etc/hosts, as Podman does.
func escapesBindPodmanFiles(s *specs.Spec, userdata string) {
	s.Mounts = append(review2WithoutDest(s.Mounts, "/dev/shm"), specs.Mount{Destination: "/dev/shm", Type: "bind", Source: filepath.Join(userdata, "shm"), Options: []string{"rbind", "rw"}})
	escapesBindHosts(s, filepath.Join(userdata, "hosts"))
}

// TestEscapesPodmanFilesOfAnotherContainer is
// TestEscapesDockerFilesOfAnotherContainer for Podman's per-container
// files (<storage>/overlay-containers/<id>/userdata/hosts, hostname,
// resolv.conf, .containerenv), which were chowned for any container of
// the same ID that bound them with its /dev/shm from that userdata
// directory: now only when the bundle is that userdata directory, where
// Podman alone writes config.json, and the rootfs an overlay mount.
func TestEscapesPodmanFilesOfAnotherContainer(t *testing.T) {
	const content = "10.0.0.5 db\n"
	rt := testutil.NewRuntime(t)
	b := testutil.NewBundle(t)
	d := escapesNewDockerData(t) // an overlay rootfs, as Podman's
	id := rt.NewID()             // the victim's ID, chosen by the caller
	userdata := escapesPodmanUserdata(t, id, content)
	b.Edit(t, func(s *specs.Spec) {
		escapesBindPodmanFiles(s, userdata)
		s.Root.Path = d.merged
	})
	b.SetArgs(t, "sh", "-c", escapesHostsScript)
	escapesExpectHostsKept(t, rt, b.Dir, id, filepath.Join(userdata, "hosts"), content)
}

// TestEscapesPodmanFilesOwnContainer: Podman's own container (bundle its
// userdata directory, rootfs an overlay mount) still gets its /etc/hosts.
func TestEscapesPodmanFilesOwnContainer(t *testing.T) {
	rt := testutil.NewRuntime(t)
	b := testutil.NewBundle(t)
	d := escapesNewDockerData(t)
	id := rt.NewID()
	b.Dir = escapesPodmanUserdata(t, id, "10.0.0.5 db\n")
	b.Edit(t, func(s *specs.Spec) {
		escapesBindPodmanFiles(s, b.Dir)
		s.Root.Path = d.merged
	})
	b.SetArgs(t, "sh", "-c", escapesHostsScript)
	out, errOut, exit := rt.Run("run", "--bundle", b.Dir, id)
	if exit != 0 || out != "0\nwrote\n" {
		t.Errorf("Podman's own container: exit %d, stdout %q (want /etc/hosts owned by its root and written), stderr %q", exit, out, errOut)
	}
}

// escapesExpectHostsKept runs container id of the bundle, which binds
// another container's hosts file (content, root's) and tries to rewrite
// it (escapesHostsScript), and checks that it neither wrote nor got the
// file chowned.
func escapesExpectHostsKept(t *testing.T, rt *testutil.Runtime, bundle, id, hosts, content string) {
	t.Helper()
	out, errOut, exit := rt.Run("run", "--bundle", bundle, id)
	t.Logf("exit %d, stdout %q, stderr %q", exit, out, errOut)
	if strings.Contains(out, "wrote") {
		t.Errorf("the container rewrote the other container's /etc/hosts (stdout %q)", out)
	}
	var st unix.Stat_t
	if err := unix.Stat(hosts, &st); err != nil {
		t.Fatal(err)
	}
	if st.Uid != 0 || st.Gid != 0 {
		t.Errorf("the other container's hosts file was chowned to %d:%d", st.Uid, st.Gid)
	}
	if got, _ := os.ReadFile(hosts); string(got) != content {
		t.Errorf("the other container's hosts file now holds %q", got)
	}
}
