package hardening

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/idmap"
)

// inSandbox gives the spec containerd's CRI annotations of a container of
// pod sandbox id.
func inSandbox(id string, tweak func(*specs.Spec)) func(*specs.Spec) {
	return func(s *specs.Spec) {
		tweak(s)
		if s.Annotations == nil {
			s.Annotations = map[string]string{}
		}
		s.Annotations[AnnotationSandboxID] = id
		s.Annotations[AnnotationContainerType] = "container"
	}
}

func joinFacts(path string, t JoinTarget) HostFacts {
	return HostFacts{Root: "/run/containerd/runc/k8s.io", Joins: map[string]JoinTarget{path: t}}
}

func TestRefuseUnrelatedJoins(t *testing.T) {
	t.Parallel()
	rule := RefuseUnrelatedJoins
	const net, pid, user = "/proc/4711/ns/net", "/proc/4711/ns/pid", "/proc/4711/ns/user"
	const cni = "/var/run/netns/cni-1234"
	const pinnedUser = "/run/containerd/io.containerd.grpc.v1.cri/sandboxes/sb1/pinned-namespaces/user"
	docker := JoinTarget{Container: "web"}
	pod := JoinTarget{Container: "sb1", Sandbox: "sb1"}
	runRefusalCases(t, RuleNamespaceJoins, rule, []refusalCase{
		{name: "no joins"},
		{name: "docker container:X on the same root", tweak: joinNS(specs.NetworkNamespace, net), facts: joinFacts(net, docker)},
		{name: "pod container joins its sandbox's pid namespace", tweak: inSandbox("sb1", joinNS(specs.PIDNamespace, pid)), facts: joinFacts(pid, pod)},
		{name: "pod container joins its sandbox's user namespace", tweak: inSandbox("sb1", joinNS(specs.UserNamespace, user)), facts: joinFacts(user, pod)},
		{name: "pod container joins another pod's sandbox", tweak: inSandbox("sb2", joinNS(specs.NetworkNamespace, net)), facts: joinFacts(net, pod),
			want: []string{`joins the network namespace at /proc/4711/ns/net, of container sb1 of another pod (sandbox sb1, this container's: sb2) / "allowUnrelatedJoins": ["network"]`}},
		{name: "container of no pod joins a pod's sandbox", tweak: joinNS(specs.IPCNamespace, "/proc/4711/ns/ipc"), facts: joinFacts("/proc/4711/ns/ipc", pod),
			want: []string{"of container sb1 of pod sandbox sb1, and this container belongs to no pod"}},
		{name: "pod container joins a docker container", tweak: inSandbox("sb1", joinNS(specs.UTSNamespace, "/proc/4711/ns/uts")), facts: joinFacts("/proc/4711/ns/uts", docker),
			want: []string{"of container web, which belongs to no pod, and this container belongs to pod sandbox sb1"}},
		{name: "host process (another root's container, or a daemon)", tweak: joinNS(specs.NetworkNamespace, net), facts: joinFacts(net, JoinTarget{Occupant: 4711}),
			want: []string{`which holds process 4711, not a container of this runtime root (/run/containerd/runc/k8s.io) / "allowUnrelatedJoins": ["network"]`}},
		{name: "host process allowed by policy", tweak: joinNS(specs.NetworkNamespace, net), facts: joinFacts(net, JoinTarget{Occupant: 4711}),
			pol: func(p *Policy) { p.AllowUnrelatedJoins = []string{"network"} }},
		{name: "allowing pid does not allow network", tweak: joinNS(specs.NetworkNamespace, net), facts: joinFacts(net, JoinTarget{Occupant: 4711}),
			pol: func(p *Policy) { p.AllowUnrelatedJoins = []string{"pid"} }, want: []string{"which holds process 4711"}},
		{name: "a path the facts do not know", tweak: joinNS(specs.MountNamespace, "/tmp/not-a-namespace"), facts: HostFacts{Root: "/r"},
			want: []string{`joins the mount namespace at /tmp/not-a-namespace, which cannot be inspected as a namespace file / "allowUnrelatedJoins": ["mount"]`}},
		{name: "no facts at all", tweak: joinNS(specs.PIDNamespace, pid), want: []string{"cannot be inspected"}},
		{name: "the runtime root unknown", tweak: joinNS(specs.PIDNamespace, pid), facts: HostFacts{Joins: map[string]JoinTarget{pid: {Occupant: -1}}},
			want: []string{"the runtime root's containers are unknown"}},
		{name: "CNI netns not in use yet", tweak: inSandbox("sb1", joinNS(specs.NetworkNamespace, cni)), facts: joinFacts(cni, JoinTarget{Pinned: true})},
		{name: "ip netns file with a process in it", tweak: joinNS(specs.NetworkNamespace, cni), facts: joinFacts(cni, JoinTarget{Pinned: true, Occupant: 99}),
			want: []string{"which holds process 99"}},
		{name: "netns file a container of the root is in, related", tweak: joinNS(specs.NetworkNamespace, cni), facts: joinFacts(cni, JoinTarget{Pinned: true, Container: "web"})},
		{name: "containerd pinned user namespace of the pod", tweak: inSandbox("sb1", joinNS(specs.UserNamespace, pinnedUser)),
			facts: joinFacts(pinnedUser, JoinTarget{Pinned: true, PinnedSandbox: "sb1"})},
		{name: "containerd pinned user namespace of another pod", tweak: inSandbox("sb2", joinNS(specs.UserNamespace, pinnedUser)),
			facts: joinFacts(pinnedUser, JoinTarget{Pinned: true, PinnedSandbox: "sb1"}),
			want:  []string{`containerd's pinned namespace of another pod sandbox (sb1) / "allowUnrelatedJoins": ["user"]`}},
		{name: "any other bind-mounted user namespace", tweak: joinNS(specs.UserNamespace, "/run/userns/x"),
			facts: joinFacts("/run/userns/x", JoinTarget{Pinned: true}),
			want:  []string{"a bind-mounted user namespace that is not containerd's pinned namespace"}},
		{name: "host namespaces are the host-namespaces rule's", tweak: joinNS(specs.NetworkNamespace, "/proc/1/ns/net")},
		{name: "a host namespace by another path too", tweak: joinNS(specs.NetworkNamespace, net),
			facts: HostFacts{HostNamespaces: map[string]bool{net: true}}},
	})
}

// GatherJoinFacts on real namespaces: this process's (a host process: no
// container of the root), a root whose state.json names this process
// as a container's init (found, with its sandbox), and the same with a
// wrong start time (a reused PID: not found).
func TestGatherJoinFacts(t *testing.T) {
	t.Parallel()
	self := strconv.Itoa(os.Getpid())
	path := "/proc/" + self + "/ns/ipc"
	s := exampleSpec()
	joinNS(specs.IPCNamespace, path)(s)
	joinNS(specs.UTSNamespace, "/nonexistent/uts")(s)

	start := procStartForTest(t)
	root := t.TempDir()
	writeState := func(id string, start uint64) {
		dir := filepath.Join(root, id)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		data := `{"init_process_pid": ` + self + `, "init_process_start": ` + strconv.FormatUint(start, 10) +
			`, "config": {"labels": ["io.kubernetes.cri.sandbox-id=sb9", "bundle=/b"]}}`
		if err := os.WriteFile(filepath.Join(dir, "state.json"), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name  string
		setup func()
		want  JoinTarget
	}{
		{"host process", func() {}, JoinTarget{Occupant: os.Getpid()}},
		{"reused pid", func() { writeState("stale", start+1) }, JoinTarget{Occupant: os.Getpid()}},
		{"container of the root", func() { writeState("sb9", start) }, JoinTarget{Container: "sb9", Sandbox: "sb9"}},
	} {
		tc.setup()
		var f HostFacts
		GatherJoinFacts(root, s, &f)
		if got := f.Joins[path]; got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
		if _, ok := f.Joins["/nonexistent/uts"]; ok {
			t.Errorf("%s: a missing path is known", tc.name)
		}
	}
}

func procStartForTest(t *testing.T) uint64 {
	t.Helper()
	start, err := idmap.ProcessStartTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	return start
}

// An exception matched on orchestrator annotations widens both keys for
// its containers only.
func TestJoinAllowancesInExceptions(t *testing.T) {
	t.Parallel()
	pol, err := ParsePolicy("test", []byte(`{"exceptions": [{"match": {"io.kubernetes.pod.namespace": "kube-system"},
		"allow": {"allowUnrelatedJoins": ["network"], "allowSharedCgroups": true}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	s := exampleSpec()
	joinNS(specs.NetworkNamespace, "/proc/4711/ns/net")(s)
	s.Linux.CgroupsPath = "/system/sshd"
	facts := joinFacts("/proc/4711/ns/net", JoinTarget{Occupant: 4711})
	facts.CgroupProcs = map[string][]int{"/sys/fs/cgroup/pids/system/sshd": {812}}
	for _, tc := range []struct {
		ns   string
		want int
	}{{"kube-system", 0}, {"default", 2}} {
		s.Annotations = map[string]string{"io.kubernetes.pod.namespace": tc.ns}
		eff, _ := pol.ForAnnotations(s.Annotations)
		var r Report
		RefuseUnrelatedJoins(s, eff, facts, &r)
		RefuseSharedCgroup(s, eff, facts, &r)
		if len(r.Refusals) != tc.want {
			t.Errorf("pod namespace %s: refusals %+v, want %d", tc.ns, r.Refusals, tc.want)
		}
	}
}
