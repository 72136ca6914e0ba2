package hostile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/idmap"
	"github.com/hardened-runtime/hardened/tests/testutil"
)

// rootfsAt makes root.path p.
func rootfsAt(p string) func(*testing.T, *testutil.Bundle, *specs.Spec) {
	return func(_ *testing.T, _ *testutil.Bundle, s *specs.Spec) { s.Root.Path = p }
}

// rootfsSymlinkInBundle creates bundle/name as a symlink to target.
func rootfsSymlinkInBundle(t *testing.T, b *testutil.Bundle, name, target string) {
	t.Helper()
	if err := os.Symlink(target, filepath.Join(b.Dir, name)); err != nil {
		t.Fatal(err)
	}
}

// rootfsRelativeBind adds a bind of the relative source src at dst.
func rootfsRelativeBind(s *specs.Spec, src, dst string, opts ...string) {
	s.Mounts = append(s.Mounts, specs.Mount{Destination: dst, Type: "bind", Source: src, Options: append([]string{"rbind"}, opts...)})
}

// TestHostileRootfs: a rootfs that is the host's /, a host system
// directory or a directory holding a sensitive host path is refused by
// name (rule host-rootfs), however root.path spells it; a relative bind
// source is resolved against the bundle and checked like an absolute
// one.
func TestHostileRootfs(t *testing.T) {
	expectAllRefused(t, []attack{
		{name: "rootfs /", tweak: rootfsAt("/"),
			want: []string{"rootfs / is the host's root directory", "rule host-rootfs", `"/" is never a rootfs`}},
		{name: "rootfs /etc", tweak: rootfsAt("/etc"),
			want: []string{"rootfs /etc is a host system directory", "rule host-rootfs", `"allowRootfs": ["/etc"]`}},
		{name: "rootfs /usr", tweak: rootfsAt("/usr"), want: []string{"rootfs /usr", `"allowRootfs": ["/usr"]`}},
		{name: "rootfs /var/lib", tweak: rootfsAt("/var/lib"), want: []string{"rootfs /var/lib", `"allowRootfs": ["/var/lib"]`}},
		{name: "rootfs /var holds the engines' state", tweak: rootfsAt("/var"), want: []string{"rootfs /var", "rule host-rootfs"}},
		{name: "rootfs /home", tweak: rootfsAt("/home"), want: []string{"rootfs /home", "rule host-rootfs"}},
		{name: "rootfs /tmp", tweak: rootfsAt("/tmp"), want: []string{"rootfs /tmp", "rule host-rootfs"}},
		{name: "rootfs /run", tweak: rootfsAt("/run"),
			want: []string{"rootfs /run is a host system directory", `"allowRootfs": ["/run"]`}},
		{name: "rootfs /dev", tweak: rootfsAt("/dev"), want: []string{"rootfs /dev", "rule host-rootfs"}},
		{name: "rootfs through /proc/self/root", tweak: rootfsAt("/proc/self/root/etc"),
			want: []string{"rootfs /etc is a host system directory", "rule host-rootfs"}},
		{name: "relative rootfs climbing to /", tweak: rootfsAt("../../../../../../../../../.."),
			want: []string{"rootfs / is the host's root directory", "rule host-rootfs"}},
		{name: "rootfs via a symlinked parent to /", tweak: func(t *testing.T, b *testutil.Bundle, s *specs.Spec) {
			rootfsSymlinkInBundle(t, b, "host", "/")
			s.Root.Path = "host/usr"
		}, want: []string{"rootfs /usr is a host system directory", "rule host-rootfs"}},
		{name: "rootfs via a chain of symlinked parents", tweak: func(t *testing.T, b *testutil.Bundle, s *specs.Spec) {
			rootfsSymlinkInBundle(t, b, "a", "b")
			rootfsSymlinkInBundle(t, b, "b", "/var")
			s.Root.Path = "a/lib"
		}, want: []string{"rootfs /var/lib is a host system directory", "rule host-rootfs"}},
		{name: "rootfs /, user namespaces off", tweak: func(t *testing.T, _ *testutil.Bundle, s *specs.Spec) {
			s.Root.Path = "/"
		}, want: []string{"rootfs / is the host's root directory", "rule host-rootfs"}},
		{name: "relative bind source symlinked to /etc", tweak: func(t *testing.T, b *testutil.Bundle, s *specs.Spec) {
			rootfsSymlinkInBundle(t, b, "etclink", "/etc")
			rootfsRelativeBind(s, "etclink", "/mnt")
		}, want: []string{"bind mount of host path etclink at /mnt (resolves to /etc)", "rule host-mounts", `"allowHostMounts": ["/etc"]`}},
		{name: "relative bind source symlinked to /etc/shadow read-only", tweak: func(t *testing.T, b *testutil.Bundle, s *specs.Spec) {
			rootfsSymlinkInBundle(t, b, "pw", "/etc/shadow")
			rootfsRelativeBind(s, "pw", "/pw", "ro")
		}, want: []string{"(resolves to /etc/shadow)", "rule host-mounts", `"allowHostMounts": ["/etc/shadow"]`}},
		{name: "relative bind source through a symlinked directory to /root", tweak: func(t *testing.T, b *testutil.Bundle, s *specs.Spec) {
			rootfsSymlinkInBundle(t, b, "d", "/")
			rootfsRelativeBind(s, "d/root", "/r", "ro")
		}, want: []string{"(resolves to /root)", "rule host-mounts"}},
		{name: "relative bind source symlinked to /run", tweak: func(t *testing.T, b *testutil.Bundle, s *specs.Spec) {
			rootfsSymlinkInBundle(t, b, "r", "/run")
			rootfsRelativeBind(s, "r", "/hostrun")
		}, want: []string{"(resolves to /run)", `"allowHostMounts": ["/run"]`}},
		{name: "relative bind source climbing to /etc", tweak: func(t *testing.T, b *testutil.Bundle, s *specs.Spec) {
			rootfsRelativeBind(s, "../../../../../../../../etc", "/e")
		}, want: []string{"rule host-mounts", `"allowHostMounts": ["/etc"]`}},
	})
}

// TestHostileRootfsUsernsOff: the rule does not depend on user
// namespaces (without them, container root on the host's / is plain
// host root).
func TestHostileRootfsUsernsOff(t *testing.T) {
	flag, _ := testutil.WritePolicy(t, `{"userNamespace": {"enabled": false}}`)
	expectAllRefused(t, []attack{
		{name: "rootfs /", tweak: rootfsAt("/"), want: []string{"rootfs / is the host's root directory", "rule host-rootfs"}},
		{name: "rootfs /etc via a symlinked parent", tweak: func(t *testing.T, b *testutil.Bundle, s *specs.Spec) {
			rootfsSymlinkInBundle(t, b, "host", "/")
			s.Root.Path = "host/etc"
		}, want: []string{"rootfs /etc", "rule host-rootfs"}},
	}, flag)
}

// TestHostileRootfsAllowedIsNoExemption: a host directory the policy
// allows as a rootfs does not exempt the sensitive paths inside it from
// the host-mounts rule ("inside the rootfs" is only the container's own
// files for a rootfs that is no host directory).
func TestHostileRootfsAllowedIsNoExemption(t *testing.T) {
	flag, _ := testutil.WritePolicy(t, `{"allowRootfs": ["/var"]}`)
	expectAllRefused(t, []attack{
		{name: "allowed rootfs /var, bind of /var/lib/docker inside it", tweak: func(t *testing.T, _ *testutil.Bundle, s *specs.Spec) {
			s.Root.Path = "/var"
			rootfsRelativeBind(s, "/var/lib/docker", "/d", "ro")
		}, want: []string{"bind mount of host path /var/lib/docker", "rule host-mounts", `"allowHostMounts": ["/var/lib/docker"]`}},
	}, flag)
}

// TestHostileRootfsPolicyNeverAllowsRoot: "/" cannot be put in
// allowRootfs.
func TestHostileRootfsPolicyNeverAllowsRoot(t *testing.T) {
	rt := testutil.NewRuntime(t)
	flag, _ := testutil.WritePolicy(t, `{"allowRootfs": ["/"]}`)
	b := testutil.NewBundle(t, "true")
	b.Edit(t, func(s *specs.Spec) { s.Root.Path = "/" })
	rt.ExpectRefused(t, b, []string{flag}, `key "allowRootfs": "/" is the host itself`)
}

// TestHostileRootfsSymlink: a rootfs that is itself a symlink to / is
// refused when the bundle is loaded.
func TestHostileRootfsSymlink(t *testing.T) {
	rt := testutil.NewRuntime(t)
	b := testutil.NewBundle(t, "true")
	rootfsSymlinkInBundle(t, b, "hostroot", "/")
	b.Edit(t, func(s *specs.Spec) { s.Root.Path = "hostroot" })
	rt.ExpectRefused(t, b, nil, "rootfs "+filepath.Join(b.Dir, "hostroot")+" is a symlink")
}

// TestHostileRootfsSwapRace swaps the bundle's rootfs directory with a
// symlink to / (renameat2 RENAME_EXCHANGE, atomic) in a loop while
// containers are run from the bundle. Every run must either be refused
// or run on the real rootfs: never may a container see the host's files.
// The check and the use of the rootfs are one open directory, so no
// interleaving wins.
func TestHostileRootfsSwapRace(t *testing.T) {
	off, _ := testutil.WritePolicy(t, `{"userNamespace": {"enabled": false}}`)
	t.Run("userns on", func(t *testing.T) { rootfsSwapRace(t) })
	t.Run("userns off", func(t *testing.T) { rootfsSwapRace(t, off) })
}

// rootfsSwapRace is TestHostileRootfsSwapRace under the global flags.
func rootfsSwapRace(t *testing.T, global ...string) {
	rt := testutil.NewRuntime(t)
	b := testutil.NewBundle(t)
	if err := os.WriteFile(filepath.Join(b.Rootfs, "hostile-marker"), []byte("real-rootfs\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b.SetArgs(t, "/bin/sh", "-c", "cat /hostile-marker 2>/dev/null || echo no-marker; test -e /etc/shadow && echo host-shadow; test -e /var/lib/dpkg && echo host-dpkg; true")
	alt := filepath.Join(b.Dir, "rootfs.alt")
	if err := os.Symlink("/", alt); err != nil {
		t.Fatal(err)
	}
	c := swapRace{path: b.Rootfs, alt: alt, runs: 30, global: global,
		leaks: []string{"host-", "no-marker"}, leaked: "host files",
		want: []string{"real-rootfs"}, refusal: rootfsRaceRefusal,
	}.run(t, rt, b)
	if c.seen["real-rootfs"] == 0 || c.refused == 0 {
		t.Logf("the race did not hit both outcomes this time (ran %d, refused %d)", c.seen["real-rootfs"], c.refused)
	}
	rootfsNoRanges(t, rt)
}

// rootfsRaceRefusal reports whether stderr is one of the refusals a
// rootfs swapped under create may meet: the rootfs was a symlink when
// the bundle was loaded, it was / when it was opened, it moved between
// being opened and read back, or the writable-paths binds that an
// earlier run saved in config.json (<bundle>/rootfs/tmp...) resolved
// through the symlink to host directories, or such a bind source
// resolved elsewhere when it was pinned than when it was checked.
func rootfsRaceRefusal(stderr string) bool {
	for _, s := range []string{"is a symlink, which is not allowed", "rule host-rootfs", "no longer names the opened", "rule host-mounts", "as when it was checked"} {
		if strings.Contains(stderr, s) {
			return true
		}
	}
	return false
}

// rootfsNoRanges fails when the runtime root still holds an ID range
// after every container of the test is gone.
func rootfsNoRanges(t *testing.T, rt *testutil.Runtime) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(rt.Root, "idmap.json"))
	if err == nil && strings.Contains(string(data), `"start"`) {
		t.Errorf("ID ranges left in %s: %s", rt.Root, data)
	}
	entries, err := idmap.NewHostAllocator(nil, 0).Entries()
	if err != nil {
		t.Error(err)
	}
	for k, e := range entries {
		if filepath.Dir(k) == rt.Root {
			t.Errorf("ID range left in the registry: %s %s", k, e.Range)
		}
	}
}

// TestHostileBindSourceSwapRace swaps a bind source directory in the
// bundle with a symlink to /etc in a loop while containers mount it:
// each run is refused (host-mounts saw /etc, the source resolves
// elsewhere than when it was checked, or it moved while being opened) or
// mounts the real directory; none sees the host's /etc.
func TestHostileBindSourceSwapRace(t *testing.T) {
	rt := testutil.NewRuntime(t)
	b := testutil.NewBundle(t)
	src, alt := filepath.Join(b.Dir, "data"), filepath.Join(b.Dir, "data.alt")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "marker"), []byte("bundle-data\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc", alt); err != nil {
		t.Fatal(err)
	}
	b.Edit(t, func(s *specs.Spec) {
		s.Process.Args = []string{"/bin/sh", "-c", "cat /data/marker 2>/dev/null || echo no-marker; test -e /data/shadow && echo host-shadow; true"}
		rootfsRelativeBind(s, "data", "/data", "ro")
	})
	swapRace{path: src, alt: alt, runs: 30,
		leaks: []string{"host-", "no-marker"}, leaked: "host files",
		want: []string{"bundle-data"},
		refusal: func(stderr string) bool {
			return strings.Contains(stderr, "rule host-mounts") || strings.Contains(stderr, "as when it was checked") ||
				strings.Contains(stderr, "no longer names the opened file")
		},
	}.run(t, rt, b)
}
