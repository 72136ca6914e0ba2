package hardening

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/idmap"
)

func rootfsAt(p string) HostFacts { return HostFacts{Bundle: "/bundles/x", Rootfs: p} }

// plainRootfsAt is rootfsAt of a rootfs found to be a plain directory,
// not an overlay mount.
func plainRootfsAt(p string) HostFacts {
	f := rootfsAt(p)
	f.RootfsNotOverlayMount = true
	return f
}

// outsideBundle is f with its rootfs found outside the bundle.
func outsideBundle(f HostFacts) HostFacts {
	f.RootfsOutsideBundle = true
	return f
}

func TestRefuseHostRootfs(t *testing.T) {
	t.Parallel()
	docker := func(t testing.TB) *specs.Spec { return dockerSpec(t) }
	allow := func(paths ...string) func(*Policy) { return func(p *Policy) { p.AllowRootfs = paths } }
	runRefusalCases(t, RuleHostRootfs, RefuseHostRootfs, []refusalCase{
		{name: "bundle rootfs passes", facts: rootfsAt("/bundles/x/rootfs")},
		{name: "docker overlay passes", base: docker, facts: dockerFacts()},
		{name: "containerd bundle rootfs passes", facts: rootfsAt("/run/containerd/io.containerd.runtime.v2.task/k8s.io/abc/rootfs")},
		{name: "a directory in /tmp passes", facts: rootfsAt("/tmp/build/rootfs")},
		{name: "host root", facts: rootfsAt("/"), want: []string{`rootfs / is the host's root directory / no key: "/" is never a rootfs`}},
		{name: "host root is never allowed", facts: rootfsAt("/"), pol: allow("/", "/etc"), want: []string{"never a rootfs"}},
		{name: "root.path / without facts", tweak: func(s *specs.Spec) { s.Root.Path = "/" }, want: []string{"rootfs / is the host's root"}},
		{name: "relative root.path climbing to /", facts: HostFacts{Bundle: "/bundles/x"},
			tweak: func(s *specs.Spec) { s.Root.Path = "../../../.." }, want: []string{"rootfs / is the host's root"}},
		{name: "etc", facts: rootfsAt("/etc"), want: []string{`rootfs /etc is a host system directory / "allowRootfs": ["/etc"]`}},
		{name: "usr", facts: rootfsAt("/usr"), want: []string{`"allowRootfs": ["/usr"]`}},
		{name: "var/lib", facts: rootfsAt("/var/lib"), want: []string{"rootfs /var/lib is a host system directory"}},
		{name: "home", facts: rootfsAt("/home"), want: []string{"/home is a host system directory"}},
		{name: "lib64", facts: rootfsAt("/lib64"), want: []string{"/lib64"}},
		{name: "docker layer store", facts: rootfsAt("/var/lib/docker/overlay2"), want: []string{"/var/lib/docker/overlay2 is a host system directory"}},
		{name: "run/hardened-idmap holds every staged rootfs", facts: rootfsAt("/run/hardened-idmap"), want: []string{"/run/hardened-idmap"}},
		{name: "docker data root holds the engine's state", facts: rootfsAt("/var/lib/docker"), want: []string{"contains the sensitive host path /var/lib/docker"}},
		{name: "a custom tree holding the docker socket dir", facts: rootfsAt("/run/docker"), want: []string{"contains the sensitive host path /run/docker"}},
		{name: "inside /proc (another process's root)", facts: rootfsAt("/proc/1/root/srv"), want: []string{"lies in the host's /proc"}},
		{name: "inside /etc", facts: rootfsAt("/etc/images/alpine"), want: []string{"lies in the host's /etc"}},
		{name: "inside /dev", facts: rootfsAt("/dev/shm/rootfs"), want: []string{"lies in the host's /dev"}},
		{name: "inside /root", facts: rootfsAt("/root/rootfs"), want: []string{"lies in the host's /root"}},
		{name: "/var/run is /run", facts: rootfsAt("/var/run"), want: []string{"/var/run is a host system directory"}},
		{name: "docker merged overlay mount passes", facts: rootfsAt("/var/lib/docker/overlay2/5b1c/merged")},
		{name: "another layer of docker's store as a directory", facts: plainRootfsAt("/var/lib/docker/overlay2/5b1c/diff"),
			want: []string{`rootfs /var/lib/docker/overlay2/5b1c/diff lies in the engine store /var/lib/docker/overlay2 and is not an overlay mount (the engine's merged directory): another container's or an image's files / "allowRootfs": ["/var/lib/docker/overlay2/5b1c/diff"]`}},
		{name: "a docker merged directory not mounted", facts: plainRootfsAt("/var/lib/docker/overlay2/5b1c/merged"), want: []string{"engine store /var/lib/docker/overlay2"}},
		{name: "a remapped docker's layer", facts: plainRootfsAt("/var/lib/docker/1000.1000/overlay2/5b1c/diff"), want: []string{"engine store /var/lib/docker/1000.1000/overlay2"}},
		{name: "a docker named volume", facts: plainRootfsAt("/var/lib/docker/volumes/pgdata/_data"), want: []string{"engine store /var/lib/docker/volumes"}},
		{name: "a containerd snapshot", facts: plainRootfsAt("/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/12/fs"), want: []string{"engine store /var/lib/containerd"}},
		{name: "a podman layer", facts: plainRootfsAt("/var/lib/containers/storage/overlay/ab/diff"), want: []string{"engine store /var/lib/containers/storage"}},
		{name: "a pod's volumes", facts: plainRootfsAt("/var/lib/kubelet/pods/uid/volumes"), want: []string{"engine store /var/lib/kubelet"}},
		{name: "a plain directory elsewhere passes when inside the bundle", facts: plainRootfsAt("/srv/images/alpine")},
		{name: "a user's home as the rootfs", facts: outsideBundle(plainRootfsAt("/home/alice")),
			want: []string{`rootfs /home/alice is a plain directory outside the bundle (neither the bundle's own rootfs nor an engine's overlay mount): someone else's files, which the container's users would get as their owners (container uid N is disk uid N in the rootfs) / "allowRootfs": ["/home/alice"]`}},
		{name: "a service's state directory", facts: outsideBundle(plainRootfsAt("/var/lib/postgresql")), want: []string{"/var/lib/postgresql is a plain directory outside the bundle"}},
		{name: "an overlay mount outside the bundle passes", facts: outsideBundle(rootfsAt("/var/lib/docker/overlay2/5b1c/merged"))},
		{name: "allowRootfs relaxes a shared plain rootfs", facts: outsideBundle(plainRootfsAt("/srv/images/alpine")), pol: allow("/srv/images/alpine")},
		{name: "an overlay that is a running process's root", facts: HostFacts{Bundle: "/bundles/x", Rootfs: "/var/lib/docker/overlay2/5b1c/merged", RootfsRootOf: []int{4242}},
			pol:  allow("/var/lib/docker/overlay2/5b1c/merged"),
			want: []string{"rootfs /var/lib/docker/overlay2/5b1c/merged is an overlay mount in use as the root directory of running process 4242 (another container's rootfs) / no key: a running container's rootfs is never another's"}},
		{name: "a containerd bundle rootfs directory passes", facts: plainRootfsAt("/run/containerd/io.containerd.runtime.v2.task/k8s.io/abc/rootfs")},
		{name: "allowRootfs relaxes an engine store's directory", facts: plainRootfsAt("/var/lib/docker/overlay2/5b1c/diff"), pol: allow("/var/lib/docker/overlay2/5b1c/diff")},
		{name: "allowRootfs relaxes a system directory", facts: rootfsAt("/opt"), pol: allow("/opt")},
		{name: "allowRootfs matches exactly", facts: rootfsAt("/usr"), pol: allow("/usr/local"), want: []string{`"allowRootfs": ["/usr"]`}},
	})
}

// TestInsideRootfsExemption: a bind source inside the rootfs is the
// container's own file only in a rootfs that is no host directory.
func TestInsideRootfsExemption(t *testing.T) {
	t.Parallel()
	runRefusalCases(t, RuleHostMounts, RefuseHostMounts, []refusalCase{
		{name: "own subdirectory of a bundle rootfs", facts: rootfsAt("/bundles/x/rootfs"), tweak: addBind("/bundles/x/rootfs/tmp", "/tmp")},
		{name: "rootfs / does not exempt /etc/shadow", facts: rootfsAt("/"), tweak: addBind("/etc/shadow", "/s", "ro"),
			want: []string{"/etc/shadow"}},
		{name: "rootfs / does not exempt the docker socket", facts: rootfsAt("/"), tweak: addBind("/run/docker.sock", "/s"),
			want: []string{"docker.sock"}},
		{name: "an allowed rootfs /var does not exempt /var/lib/docker", facts: rootfsAt("/var"),
			pol: func(p *Policy) { p.AllowRootfs = []string{"/var"} }, tweak: addBind("/var/lib/docker", "/d"), want: []string{`"allowHostMounts": ["/var/lib/docker"]`}},
		{name: "a plain rootfs outside the bundle does not exempt its files", facts: outsideBundle(plainRootfsAt("/var/lib/docker/vfs/dir/x")),
			tweak: addBind("/var/lib/docker/vfs/dir/x/etc", "/e"), want: []string{"exposes /var/lib/docker"}},
		{name: "a plain rootfs inside the bundle exempts its files", facts: plainRootfsAt("/bundles/x/rootfs"), tweak: addBind("/bundles/x/rootfs/tmp", "/tmp")},
	})
}

// TestRelativeBindSourceResolved: a relative bind source is resolved
// against the bundle like an absolute one, so a symlink to /etc in the
// bundle is seen (and refused) as /etc.
func TestRelativeBindSourceResolved(t *testing.T) {
	t.Parallel()
	bundle := t.TempDir()
	if err := os.Mkdir(filepath.Join(bundle, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc", filepath.Join(bundle, "etclink")); err != nil {
		t.Fatal(err)
	}
	s := exampleSpec()
	s.Root.Path = "rootfs"
	addBind("etclink", "/hostetc")(s)
	addBind("etclink/shadow", "/shadow", "ro")(s)
	f, err := GatherHostFacts(bundle, s, DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}
	if got := f.MountSources["etclink"]; got != "/etc" {
		t.Errorf("MountSources[etclink] = %q, want /etc", got)
	}
	rep := &Report{}
	RefuseHostMounts(s, DefaultPolicy(), f, rep)
	if len(rep.Refusals) != 2 {
		t.Fatalf("refusals %+v, want the two binds through etclink", rep.Refusals)
	}
	for _, r := range rep.Refusals {
		if !strings.Contains(r.Reason, "(resolves to /etc") {
			t.Errorf("refusal %q does not name where the source resolves", r.Reason)
		}
	}
}

// TestCheckPlansOnceWithTheEffectivePolicy: the user-namespace plan is
// made by Check with the exception-applied policy, and the rule follows
// that plan; with the raw policy the same spec would be refused.
func TestCheckPlansOnceWithTheEffectivePolicy(t *testing.T) {
	t.Parallel()
	const netns = "/proc/4242/ns/net"
	s := exampleSpec()
	s.Annotations = map[string]string{"io.kubernetes.pod.name": "debug"}
	for i, ns := range s.Linux.Namespaces {
		if ns.Type == specs.NetworkNamespace {
			s.Linux.Namespaces[i].Path = netns
		}
	}
	f := allDirs(s.Root.Path)
	// The network namespace belongs to a user namespace mapping host root.
	f.Usernses = map[string]idmap.UsernsInfo{netns: rootUserns}
	pol := DefaultPolicy()
	if _, err := PlanUserNamespace(s, pol, f); err == nil {
		t.Fatal("the raw policy plans this spec without error; the test needs one it refuses")
	}
	pol.Exceptions = []Exception{{Match: map[string]string{"io.kubernetes.pod.name": "debug"}, Allow: Allowances{AllowHostNamespaces: []string{"user"}, AllowUnrelatedJoins: []string{"network"}}}}
	c, err := Check(s, pol, f)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if !c.Userns.New || c.Userns.Join != "" {
		t.Fatalf("plan %+v, want a new user namespace (the exception skips the root-mapping owner)", c.Userns)
	}
	if len(c.Policy.AllowHostNamespaces) != 1 {
		t.Errorf("effective policy %v lacks the exception's allowance", c.Policy.AllowHostNamespaces)
	}
	rep, err := c.Apply(s, f)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if !containsPath(changedPaths(rep), "linux.uidMappings") {
		t.Errorf("changes %v lack the new user namespace's mappings", changedPaths(rep))
	}
}

// TestApplyFollowsCheckedPlan: the rule does not plan again; the plan
// handed over by Check is what it carries out.
func TestApplyFollowsCheckedPlan(t *testing.T) {
	t.Parallel()
	s := exampleSpec()
	f := allDirs(s.Root.Path)
	c, err := Check(s, DefaultPolicy(), f)
	if err != nil {
		t.Fatal(err)
	}
	c.Userns = UsernsPlan{Join: "/proc/777/ns/user", Size: 65536, Why: "test"}
	if _, err := c.Apply(s, f); err != nil {
		t.Fatal(err)
	}
	var got string
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == specs.UserNamespace {
			got = ns.Path
		}
	}
	if got != "/proc/777/ns/user" {
		t.Errorf("user namespace path %q, want the checked plan's", got)
	}
}

// TestCheckRefusedLeavesSpecAlone: a refused Check returns every refusal
// (a bad plan among them) and Apply refuses to run after it.
func TestCheckRefusedLeavesSpecAlone(t *testing.T) {
	t.Parallel()
	s := exampleSpec()
	s.Root.Path = "/"
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace, Path: "/proc/1/ns/user"})
	before, _ := copySpec(s)
	f := HostFacts{Bundle: "/bundles/x", Rootfs: "/"}
	c, err := Check(s, DefaultPolicy(), f)
	if !errors.Is(err, ErrRefused) {
		t.Fatalf("Check: %v, want a refusal", err)
	}
	if got := refusedRules(c.Report); !containsPath(got, RuleHostRootfs) || !containsPath(got, RuleUsernsJoin) {
		t.Errorf("refused by %v, want host-rootfs and user-namespace-join", got)
	}
	if string(jsonValue(before)) != string(jsonValue(s)) {
		t.Error("Check modified the spec")
	}
	if _, err := c.Apply(s, f); !errors.Is(err, ErrRefused) {
		t.Errorf("Apply after a refused Check: %v, want the refusal", err)
	}
	if string(jsonValue(before)) != string(jsonValue(s)) {
		t.Error("Apply after a refused Check modified the spec")
	}
}

func containsPath(list []string, p string) bool {
	for _, x := range list {
		if x == p {
			return true
		}
	}
	return false
}
