package cri

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hardened-runtime/hardened/idmap"
	"github.com/hardened-runtime/hardened/tests/testutil"
)

// handlerVariant is one runtime set-up the scenarios run under: a
// RuntimeClass handler and, for the runtime under test, the policy in
// containerd's environment.
type handlerVariant struct {
	// name is the subtest name.
	name string
	// handler is the RuntimeClass handler name.
	handler string
	// policy is the runtime's policy file content ("" for runc).
	policy string
	// userns is true when the policy gives pods user namespaces.
	userns bool
}

// hardened reports whether the variant runs the runtime under test
// (rather than the reference runc).
func (v handlerVariant) hardened() bool { return v.policy != "" }

// handlerVariants: the default policy (what the issue wants to pass),
// user namespaces off (what passes today), and runc as the reference.
// The test daemons keep their CRI files below a temporary directory, not
// /var/lib/containerd: the policies list it where containerd 2 idmaps a
// hostUsers: false pod's /etc/hosts, hostname and resolv.conf, and the
// volumes directory that stands for the kubelet's /var/lib/kubelet/pods.
func handlerVariants() []handlerVariant {
	sources := fmt.Sprintf(`"idmapMountSources": [%q, %q, %q]`,
		filepath.Join(os.TempDir(), "hardened-cri-*", "root", "io.containerd.grpc.v1.cri"),
		filepath.Join(os.TempDir(), "hardened-cri-*", "state", "io.containerd.grpc.v1.cri"),
		filepath.Join(os.TempDir(), "hardened-cri-*", "volumes"))
	return []handlerVariant{
		{name: "hardened", handler: "hardened", policy: `{` + sources + `}`, userns: true},
		{name: "hardened-nouserns", handler: "hardened", policy: `{"userNamespace": {"enabled": false}, ` + sources + `}`},
		{name: "runc", handler: "runc"},
	}
}

// criEnv is what a scenario gets: the daemon and the variant it runs.
type criEnv struct {
	c          *testutil.CRI
	containerd testutil.CRIContainerd
	variant    handlerVariant
}

// scenario is one pod scenario.
type scenario struct {
	name string
	run  func(t *testing.T, e criEnv)
}

func scenarios() []scenario {
	return []scenario{
		{"plain", testPlainPod},
		{"port", testPortOnPodIP},
		{"shared-namespaces", testSharedNamespaces},
		{"host-users-false", testHostUsersFalse},
		{"host-users-false-volumes", testHostUsersFalseVolumes},
		{"restricted", testRestricted},
		{"kubelet-range-overlap", testKubeletOverlap},
		{"privileged", testPrivileged},
		{"host-network", testHostNetwork},
		{"kubelet-pod-volumes", testKubeletPodVolumes},
	}
}

// TestCRI runs every scenario through each containerd and each handler
// variant, each variant on a containerd of its own (the policy is in the
// daemon's environment). Names: TestCRI/<containerd>/<variant>/<scenario>.
func TestCRI(t *testing.T) {
	testutil.RequireRoot(t)
	bin := testutil.Binary(t)
	tools := os.Getenv(testutil.EnvCRITools)
	pause := os.Getenv(testutil.EnvCRIPause)
	if tools == "" || pause == "" {
		t.Fatalf("%s or %s unset: TestMain's setup did not run", testutil.EnvCRITools, testutil.EnvCRIPause)
	}
	for _, cc := range testutil.CRIContainerds(tools) {
		t.Run(cc.Name, func(t *testing.T) {
			for _, v := range handlerVariants() {
				t.Run(v.name, func(t *testing.T) {
					opts := testutil.CRIOptions{
						Containerd: cc,
						Crictl:     filepath.Join(tools, "crictl"),
						Pause:      pause,
						Handlers:   map[string]string{v.handler: filepath.Join(tools, "runc")},
					}
					if v.hardened() {
						opts.Handlers[v.handler] = bin
						_, opts.Policy = testutil.WritePolicy(t, v.policy)
					}
					c := testutil.StartCRI(t, opts)
					for _, s := range scenarios() {
						t.Run(s.name, func(t *testing.T) {
							s.run(t, criEnv{c: c, containerd: cc, variant: v})
						})
					}
				})
			}
		})
	}
}

// checked returns v, or fails the test now on err.
func checked[T any](t *testing.T) func(v T, err error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// exec runs cmd in the container (ExecSync) and returns its output; it
// fails the test now on an error.
func (e criEnv) exec(t *testing.T, id string, cmd ...string) string {
	t.Helper()
	return checked[string](t)(e.c.Exec(id, cmd...))
}

// start creates and starts a container in the pod and returns its ID;
// it fails the test now on an error.
func (e criEnv) start(t *testing.T, podID string, ctr testutil.CRIContainer, pod testutil.CRIPod) string {
	t.Helper()
	return checked[string](t)(e.c.RunContainer(podID, ctr, pod))
}

// runPod runs the pod and removes it (checking that nothing is left) at
// the end of the test.
func runPod(t *testing.T, e criEnv, pod testutil.CRIPod) string {
	t.Helper()
	id, err := e.c.RunPod(e.variant.handler, pod)
	if err != nil {
		t.Fatalf("RunPodSandbox: %v", err)
	}
	t.Cleanup(func() { e.c.RemovePod(t, id) })
	return id
}

// sleeper is a container that stays up for execs.
func sleeper(name string) testutil.CRIContainer {
	return testutil.NewContainer(name, "sleep", "3600")
}

// waitFor polls f until it returns nil or timeout passes, and returns
// the last error.
func waitFor(timeout time.Duration, f func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// testPlainPod: a pod with one container; its output reaches crictl
// logs; exec works through ExecSync and the streaming server; the pod
// sees its own network interfaces, not the host's.
func testPlainPod(t *testing.T, e criEnv) {
	pod := e.c.NewPod("plain")
	podID := runPod(t, e, pod)
	ctr := testutil.NewContainer("app", "sh", "-c", "echo hello-from-plain; exec sleep 3600")
	id := e.start(t, podID, ctr, pod)
	err := waitFor(10*time.Second, func() error {
		logs, err := e.c.Logs(id)
		if err == nil && !strings.Contains(logs, "hello-from-plain") {
			err = fmt.Errorf("crictl logs: %q, want hello-from-plain", logs)
		}
		return err
	})
	if err != nil {
		t.Error(err)
	}
	if out, err := e.c.Exec(id, "echo", "exec-sync-ok"); err != nil || out != "exec-sync-ok" {
		t.Errorf("exec --sync: %q, %v", out, err)
	}
	if out, err := e.c.ExecStream(id, "echo", "exec-stream-ok"); err != nil || out != "exec-stream-ok" {
		t.Errorf("exec (streaming): %q, %v", out, err)
	}
	links := e.exec(t, id, "ls", "/sys/class/net")
	if !strings.Contains(links, "eth0") || strings.Contains(links, e.c.Bridge.Name) {
		t.Errorf("pod's /sys/class/net: %q, want the pod's eth0 and not the host's %s", links, e.c.Bridge.Name)
	}
	if e.variant.userns {
		checkPodUserns(t, e, podID, id)
	}
}

// fields joins the whitespace-separated fields of s with single spaces.
func fields(s string) string { return strings.Join(strings.Fields(s), " ") }

// checkPodUserns: the pod (pause) runs in a user namespace of its own,
// not the host's, and the app container id in that same one; the pod's
// network namespace is CNI's (owned by the host's user namespace), yet
// /sys is there, read-only, and lists exactly the pod's interfaces
// (eth0, lo); the net sysctls containerd 2 sets on every sandbox hold
// inside.
func checkPodUserns(t *testing.T, e criEnv, podID, id string) {
	t.Helper()
	if m := fields(e.exec(t, id, "cat", "/proc/self/uid_map")); strings.HasPrefix(m, "0 0 ") {
		t.Errorf("uid_map inside %q: container root is host root", m)
	}
	podPid := checked[int](t)(e.c.PodPid(podID))
	ctrPid := checked[int](t)(e.c.ContainerPid(id))
	podNS, err1 := os.Readlink(fmt.Sprintf("/proc/%d/ns/user", podPid))
	ctrNS, err2 := os.Readlink(fmt.Sprintf("/proc/%d/ns/user", ctrPid))
	hostNS, err3 := os.Readlink("/proc/self/ns/user")
	switch {
	case err1 != nil || err2 != nil || err3 != nil:
		t.Errorf("user namespaces: %v %v %v", err1, err2, err3)
	case podNS == hostNS:
		t.Errorf("the pod's sandbox is in the host's user namespace %s", hostNS)
	case ctrNS != podNS:
		t.Errorf("the app container's user namespace %s is not the sandbox's %s", ctrNS, podNS)
	}
	if links := fields(e.exec(t, id, "ls", "/sys/class/net")); links != "eth0 lo" {
		t.Errorf("/sys/class/net inside: %q, want exactly the pod's \"eth0 lo\"", links)
	}
	if opts := e.exec(t, id, "awk", `$2 == "/sys" {print $4}`, "/proc/mounts"); !strings.HasPrefix(opts, "ro,") {
		t.Errorf("/sys mounted with %q, want read-only", opts)
	}
	if e.containerd.PodUserNamespaces() {
		if v := e.exec(t, id, "cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start"); v != "0" {
			t.Errorf("net.ipv4.ip_unprivileged_port_start inside: %q, want containerd's 0", v)
		}
	}
	if e.containerd.PodUserNamespaces() {
		// containerd 2 asks for "0 2147483647"; the runtime clamps it to
		// the pod's groups and writes them as host IDs, which read back
		// inside as the pod's own.
		if v := fields(e.exec(t, id, "cat", "/proc/sys/net/ipv4/ping_group_range")); v != "0 65535" {
			t.Errorf("net.ipv4.ping_group_range inside: %q, want \"0 65535\" (the pod's groups)", v)
		}
	}
}

// testPortOnPodIP: a server in the pod answers on the pod IP from the
// host.
func testPortOnPodIP(t *testing.T, e criEnv) {
	pod := e.c.NewPod("port")
	podID := runPod(t, e, pod)
	ctr := testutil.NewContainer("web", "sh", "-c",
		"mkdir -p /tmp/www && echo hello-pod-ip > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www")
	e.start(t, podID, ctr, pod)
	ip := checked[string](t)(e.c.PodIP(podID))
	client := &http.Client{Timeout: 2 * time.Second}
	err := waitFor(15*time.Second, func() error {
		resp, err := client.Get("http://" + ip + ":8080/")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if !strings.Contains(string(body), "hello-pod-ip") {
			return fmt.Errorf("GET http://%s:8080/: %s %q", ip, resp.Status, body)
		}
		return nil
	})
	if err != nil {
		t.Errorf("port 8080 on the pod IP from the host: %v", err)
	}
}

// sharedPodNamespaces is namespace_options with the pod's network, IPC
// and PID namespaces shared (shareProcessNamespace: true).
func sharedPodNamespaces() *testutil.CRINamespaceOptions {
	return &testutil.CRINamespaceOptions{Network: testutil.CRINamespacePod, PID: testutil.CRINamespacePod, IPC: testutil.CRINamespacePod}
}

// nsLinks returns the container's namespace links, one per line.
func nsLinks(t *testing.T, e criEnv, id string) string {
	t.Helper()
	return e.exec(t, id, "sh", "-c", "for n in net ipc pid user; do readlink /proc/self/ns/$n; done")
}

// testSharedNamespaces: two containers of one pod with
// shareProcessNamespace share the network (localhost), IPC, PID (each
// sees the other's processes, the pause process is PID 1) and user
// namespaces.
func testSharedNamespaces(t *testing.T, e criEnv) {
	pod := e.c.NewPod("shared")
	pod.Linux.SecurityContext = &testutil.CRIPodSecurity{NamespaceOptions: sharedPodNamespaces()}
	podID := runPod(t, e, pod)
	web := testutil.NewContainer("web", "sh", "-c",
		"mkdir -p /tmp/www && echo from-web > /tmp/www/index.html && exec httpd -f -p 127.0.0.1:8081 -h /tmp/www")
	web.Linux.SecurityContext = &testutil.CRIContainerSecurity{NamespaceOptions: sharedPodNamespaces()}
	client := sleeper("client")
	client.Linux.SecurityContext = &testutil.CRIContainerSecurity{NamespaceOptions: sharedPodNamespaces()}
	webID := e.start(t, podID, web, pod)
	clientID := e.start(t, podID, client, pod)

	err := waitFor(10*time.Second, func() error {
		out, err := e.c.Exec(clientID, "wget", "-qO-", "http://127.0.0.1:8081/")
		if err == nil && out != "from-web" {
			err = fmt.Errorf("got %q", out)
		}
		return err
	})
	if err != nil {
		t.Errorf("localhost between the pod's containers: %v", err)
	}
	if ps := e.exec(t, clientID, "ps", "-o", "pid,args"); !strings.Contains(ps, "httpd") {
		t.Errorf("shared PID namespace: the other container's httpd not in ps:\n%s", ps)
	}
	if init := e.exec(t, clientID, "cat", "/proc/1/cmdline"); !strings.Contains(init, "pause") {
		t.Errorf("shared PID namespace: PID 1 is %q, want the pause process", init)
	}
	if a, b := nsLinks(t, e, webID), nsLinks(t, e, clientID); a != b {
		t.Errorf("namespaces differ between the pod's containers:\nweb:\n%s\nclient:\n%s", a, b)
	}
}

// testHostUsersFalse: a `hostUsers: false` pod (kubelet's user
// namespaces): containerd 2.x only. Both containers run in the pod's
// user namespace with the kubelet's mapping; image files are owned by
// root inside.
func testHostUsersFalse(t *testing.T, e criEnv) {
	if !e.containerd.PodUserNamespaces() {
		t.Skipf("containerd %s does not run hostUsers: false pods", e.containerd.Name)
	}
	// A 65536-ID block as the kubelet picks, away from the runtime's
	// built-in pool (0x70000000...) and from other tests' blocks.
	host := uint32(65536 * (2048 + rand.IntN(2048)))
	maps := []testutil.CRIIDMapping{{HostID: host, ContainerID: 0, Length: 65536}}
	ns := func() *testutil.CRINamespaceOptions {
		o := sharedPodNamespaces()
		o.UsernsOptions = &testutil.CRIUserNamespace{Mode: testutil.CRINamespacePod, UIDs: maps, GIDs: maps}
		return o
	}
	pod := e.c.NewPod("userns")
	pod.Linux.SecurityContext = &testutil.CRIPodSecurity{NamespaceOptions: ns()}
	podID := runPod(t, e, pod)
	var ids []string
	for _, name := range []string{"first", "second"} {
		ctr := sleeper(name)
		ctr.Linux.SecurityContext = &testutil.CRIContainerSecurity{NamespaceOptions: ns()}
		ids = append(ids, e.start(t, podID, ctr, pod))
	}
	want := fmt.Sprintf("0 %d 65536", host)
	for _, f := range []string{"uid_map", "gid_map"} {
		out := e.exec(t, ids[0], "cat", "/proc/self/"+f)
		if strings.Join(strings.Fields(out), " ") != want {
			t.Errorf("%s inside: %q, want %q", f, out, want)
		}
	}
	if owners := e.exec(t, ids[0], "stat", "-c", "%u:%g", "/bin/busybox", "/etc"); strings.Join(strings.Fields(owners), " ") != "0:0 0:0" {
		t.Errorf("image files' owners inside: %q, want 0:0 (root of the pod's mapping)", owners)
	}
	pid := checked[int](t)(e.c.ContainerPid(ids[0]))
	if hostMap, err := os.ReadFile(fmt.Sprintf("/proc/%d/uid_map", pid)); err != nil || strings.Join(strings.Fields(string(hostMap)), " ") != want {
		t.Errorf("uid_map of the container's process from the host: %q %v, want %q", hostMap, err, want)
	}
	if a, b := nsLinks(t, e, ids[0]), nsLinks(t, e, ids[1]); a != b {
		t.Errorf("the pod's containers are not in the same namespaces:\nfirst:\n%s\nsecond:\n%s", a, b)
	}
	if e.variant.userns && !hostRegistryHolds(t, host) {
		t.Errorf("the kubelet's range %d-%d is not recorded in the runtime's host-wide registry", host, host+65535)
	}
}

// hostRegistryHolds reports whether the runtime's host-wide ID registry
// holds a range starting at start.
func hostRegistryHolds(t *testing.T, start uint32) bool {
	t.Helper()
	entries, err := idmap.NewHostAllocator(nil, 0).Entries()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		for _, r := range append([]idmap.Range{e.Range}, e.Also...) {
			if r.Start == start {
				return true
			}
		}
	}
	return false
}

// hostUsersFalsePod returns a hostUsers: false pod with the kubelet's
// mapping maps, and namespace options for its containers.
func hostUsersFalsePod(e criEnv, name string, maps []testutil.CRIIDMapping) (testutil.CRIPod, func() *testutil.CRINamespaceOptions) {
	ns := func() *testutil.CRINamespaceOptions {
		o := sharedPodNamespaces()
		o.UsernsOptions = &testutil.CRIUserNamespace{Mode: testutil.CRINamespacePod, UIDs: maps, GIDs: maps}
		return o
	}
	pod := e.c.NewPod(name)
	pod.Linux.SecurityContext = &testutil.CRIPodSecurity{NamespaceOptions: ns()}
	return pod, ns
}

// testHostUsersFalseVolumes: the volumes of a hostUsers: false pod, as
// the kubelet passes them (the pod's mapping on each mount, a directory
// below /var/lib/kubelet/pods; here the policy's stand-in), are
// idmapped by containerd with the pod's mapping: root's files on the
// volume are root's inside, and what the pod's root writes is root's on
// the host, as under runc. A volume elsewhere, or with a mapping other
// than the pod's, is refused by the idmapped-mounts rule.
func testHostUsersFalseVolumes(t *testing.T, e criEnv) {
	if !e.containerd.PodUserNamespaces() {
		t.Skipf("containerd %s does not run hostUsers: false pods", e.containerd.Name)
	}
	host := uint32(65536 * (2048 + rand.IntN(2048)))
	maps := []testutil.CRIIDMapping{{HostID: host, ContainerID: 0, Length: 65536}}
	pod, ns := hostUsersFalsePod(e, "userns-volumes", maps)
	vol := filepath.Join(e.c.Dir, "volumes", pod.Metadata.UID, "data")
	if err := os.MkdirAll(vol, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(vol, "from-host"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	podID := runPod(t, e, pod)
	ctr := sleeper("app")
	ctr.Linux.SecurityContext = &testutil.CRIContainerSecurity{NamespaceOptions: ns()}
	ctr.Mounts = []testutil.CRIMount{{ContainerPath: "/data", HostPath: vol, UIDMappings: maps, GIDMappings: maps}}
	id := e.start(t, podID, ctr, pod)
	if owner := fields(e.exec(t, id, "stat", "-c", "%u:%g", "/data/from-host")); owner != "0:0" {
		t.Errorf("the host's root-owned file on the volume inside: %s, want 0:0", owner)
	}
	e.exec(t, id, "sh", "-c", "echo y > /data/from-pod")
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(vol, "from-pod"), &st); err != nil || st.Uid != 0 {
		t.Errorf("the pod root's file on the host: uid %d (%v), want 0 as under runc", st.Uid, err)
	}
	if !e.variant.hardened() {
		return
	}
	outside := t.TempDir()
	other := []testutil.CRIIDMapping{{HostID: host + 65536, ContainerID: 0, Length: 65536}}
	for _, bad := range []struct {
		name  string
		mount testutil.CRIMount
		want  string
	}{
		{"outside", testutil.CRIMount{ContainerPath: "/data", HostPath: outside, UIDMappings: maps, GIDMappings: maps}, "rule idmapped-mounts"},
		{"other-mapping", testutil.CRIMount{ContainerPath: "/data", HostPath: vol, UIDMappings: other, GIDMappings: other}, "rule idmapped-mounts"},
	} {
		c := sleeper("bad-" + bad.name)
		c.Linux.SecurityContext = &testutil.CRIContainerSecurity{NamespaceOptions: ns()}
		c.Mounts = []testutil.CRIMount{bad.mount}
		_, err := e.c.RunContainer(podID, c, pod)
		if err == nil {
			t.Errorf("volume %s (%s) with mapping %v ran, want it refused", bad.name, bad.mount.HostPath, bad.mount.UIDMappings)
			continue
		}
		t.Logf("volume %s refused as the kubelet sees it: %v", bad.name, err)
		if !strings.Contains(err.Error(), bad.want) {
			t.Errorf("volume %s: error lacks %q", bad.name, bad.want)
		}
	}
}

// testKubeletOverlap: a hostUsers: false pod whose kubelet mapping
// overlaps the range the runtime gave a live pod is refused with a
// message that names the overlap and the way out (separate subordinate
// ID ranges).
func testKubeletOverlap(t *testing.T, e criEnv) {
	if !e.containerd.PodUserNamespaces() || !e.variant.userns {
		t.Skip("the runtime gives pods no user namespaces here, or containerd runs no hostUsers: false pods")
	}
	pod := e.c.NewPod("runtime-range")
	podID := runPod(t, e, pod)
	id := e.start(t, podID, sleeper("app"), pod)
	pid := checked[int](t)(e.c.ContainerPid(id))
	uids, err := idmap.ReadIDMap(fmt.Sprintf("/proc/%d/uid_map", pid))
	if err != nil || len(uids) != 1 {
		t.Fatalf("uid_map of the runtime's pod: %v %v", uids, err)
	}
	maps := []testutil.CRIIDMapping{{HostID: uids[0].Host.Start + uids[0].Host.Size/2, ContainerID: 0, Length: 65536}}
	ns := &testutil.CRINamespaceOptions{Network: testutil.CRINamespacePod, PID: testutil.CRINamespaceContainer, IPC: testutil.CRINamespacePod,
		UsernsOptions: &testutil.CRIUserNamespace{Mode: testutil.CRINamespacePod, UIDs: maps, GIDs: maps}}
	kubelet := e.c.NewPod("kubelet-range")
	kubelet.Linux.SecurityContext = &testutil.CRIPodSecurity{NamespaceOptions: ns}
	ctr := sleeper("app")
	ctr.Linux.SecurityContext = &testutil.CRIContainerSecurity{NamespaceOptions: ns}
	expectRefused(t, e, kubelet, ctr, "maps host IDs that the runtime gave a live container", "/etc/subuid", "kubelet")
}

// testRestricted: a container as the Pod Security "restricted" profile
// makes it (runAsNonRoot with a UID, readOnlyRootFilesystem, drop ALL,
// allowPrivilegeEscalation false, seccomp RuntimeDefault) runs, with
// exactly that confinement seen from inside.
func testRestricted(t *testing.T, e criEnv) {
	pod := e.c.NewPod("restricted")
	pod.Linux.SecurityContext = &testutil.CRIPodSecurity{RunAsUser: &testutil.CRIInt64{Value: 1000}, RunAsGroup: &testutil.CRIInt64{Value: 1000}}
	podID := runPod(t, e, pod)
	ctr := sleeper("app")
	ctr.Linux.SecurityContext = &testutil.CRIContainerSecurity{
		Capabilities:   &testutil.CRICapabilities{DropCapabilities: []string{"ALL"}},
		RunAsUser:      &testutil.CRIInt64{Value: 1000},
		RunAsGroup:     &testutil.CRIInt64{Value: 1000},
		ReadonlyRootfs: true,
		NoNewPrivs:     true,
		Seccomp:        &testutil.CRISecurityProfile{ProfileType: 0},
	}
	id := e.start(t, podID, ctr, pod)
	if out := e.exec(t, id, "id", "-u"); out != "1000" {
		t.Errorf("id -u: %q, want 1000", out)
	}
	status := e.exec(t, id, "cat", "/proc/self/status")
	for _, want := range []string{"CapEff:\t0000000000000000", "CapBnd:\t0000000000000000", "NoNewPrivs:\t1", "Seccomp:\t2"} {
		if !strings.Contains(status, want) {
			t.Errorf("/proc/self/status lacks %q", want)
		}
	}
	if out := e.exec(t, id, "sh", "-c", "touch /written 2>/dev/null && echo WROTE || echo DENIED"); out != "DENIED" {
		t.Errorf("write to the read-only root: %q, want DENIED", out)
	}
}

// expectRefused checks that the runtime refuses the pod: its sandbox
// (RunPodSandbox) or, if the sandbox runs, the container ctr in it
// (CreateContainer/StartContainer; containerd 1.6 does not make a
// privileged pod's sandbox privileged). The error crictl shows, which the
// kubelet reports as an event, holds each of want.
func expectRefused(t *testing.T, e criEnv, pod testutil.CRIPod, ctr testutil.CRIContainer, want ...string) string {
	t.Helper()
	step := "RunPodSandbox"
	podID, err := e.c.RunPod(e.variant.handler, pod)
	if err == nil {
		step = "CreateContainer+StartContainer"
		_, err = e.c.RunContainer(podID, ctr, pod)
		e.c.RemovePod(t, podID)
		if err == nil {
			t.Fatalf("pod %s and its container ran, want them refused", pod.Metadata.Name)
		}
	}
	t.Logf("%s refused as the kubelet sees it: %v", step, err)
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%s error lacks %q", step, w)
		}
	}
	e.c.CheckGone(t)
	return err.Error()
}

// testPrivileged: a privileged pod is refused by the runtime with a
// message that says so; runc runs it with every capability.
func testPrivileged(t *testing.T, e criEnv) {
	pod := e.c.NewPod("privileged")
	pod.Linux.SecurityContext = &testutil.CRIPodSecurity{Privileged: true}
	ctr := sleeper("app")
	ctr.Linux.SecurityContext = &testutil.CRIContainerSecurity{Privileged: true}
	if e.variant.hardened() {
		// The pod is named "privileged": the rule, not the name, must show.
		expectRefused(t, e, pod, ctr, "refused", "(rule privileged, allow with ", "allowPrivileged")
		return
	}
	podID := runPod(t, e, pod)
	id := e.start(t, podID, ctr, pod)
	if status := e.exec(t, id, "cat", "/proc/self/status"); strings.Contains(status, "CapEff:\t0000000000000000") {
		t.Errorf("privileged container without capabilities")
	}
}

// testHostNetwork: a hostNetwork pod is refused by the runtime naming
// the host network namespace; under runc it sees the host's interfaces.
func testHostNetwork(t *testing.T, e criEnv) {
	hostNet := func() *testutil.CRINamespaceOptions {
		return &testutil.CRINamespaceOptions{Network: testutil.CRINamespaceNode, PID: testutil.CRINamespaceContainer, IPC: testutil.CRINamespacePod}
	}
	pod := e.c.NewPod("hostnet")
	pod.Hostname = "" // the kubelet sets none: the pod has the host's UTS namespace
	pod.Linux.SecurityContext = &testutil.CRIPodSecurity{NamespaceOptions: hostNet()}
	ctr := sleeper("app")
	ctr.Linux.SecurityContext = &testutil.CRIContainerSecurity{NamespaceOptions: hostNet()}
	if e.variant.hardened() {
		expectRefused(t, e, pod, ctr, "refused", "host network namespace")
		return
	}
	podID := runPod(t, e, pod)
	id := e.start(t, podID, ctr, pod)
	if links := e.exec(t, id, "ls", "/sys/class/net"); !strings.Contains(links, e.c.Bridge.Name) {
		t.Errorf("hostNetwork pod's /sys/class/net: %q, want the host's %s", links, e.c.Bridge.Name)
	}
}
