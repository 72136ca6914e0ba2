package hostile

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// Mount idmapping is the runtime's alone: a caller's idmap/ridmap option
// or mount-level mapping passes only with the container's own mapping,
// onto a source below "idmapMountSources", and then nosuid,nodev.

// idmapBind appends a bind mount of src at dst.
func idmapBind(s *specs.Spec, src, dst string, opts []string, uid, gid []specs.LinuxIDMapping) {
	s.Mounts = append(s.Mounts, specs.Mount{Destination: dst, Type: "bind", Source: src,
		Options: append([]string{"rbind", "rw"}, opts...), UIDMappings: uid, GIDMappings: gid})
}

func idmapRange(host uint32) []specs.LinuxIDMapping {
	return []specs.LinuxIDMapping{{ContainerID: 0, HostID: host, Size: 65536}}
}

func TestHostileIDMappedMounts(t *testing.T) {
	const why = "(rule idmapped-mounts, "
	expectAllRefused(t, []attack{
		{name: "idmap option on /usr/local/bin", tweak: func(_ *testing.T, _ *testutil.Bundle, s *specs.Spec) {
			idmapBind(s, "/usr/local/bin", "/mnt", []string{"idmap"}, nil, nil)
		}, want: []string{`idmapped mount of /usr/local/bin at /mnt: /usr/local/bin is not below a directory where engines idmap volumes (rule idmapped-mounts, allow with "idmapMountSources": ["/usr/local/bin"])`}},
		{name: "ridmap on /etc/cron.d", tweak: func(_ *testing.T, _ *testutil.Bundle, s *specs.Spec) {
			idmapBind(s, "/etc/cron.d", "/mnt", []string{"ridmap"}, nil, nil)
		}, want: []string{"idmapped mount of /etc/cron.d at /mnt: /etc/cron.d is not below", why}},
		{name: "ridmap on /var/spool", tweak: func(_ *testing.T, _ *testutil.Bundle, s *specs.Spec) {
			idmapBind(s, "/var/spool", "/mnt", []string{"ridmap", "suid"}, nil, nil)
		}, want: []string{"idmapped mount of /var/spool at /mnt", why}},
		{name: "uidMappings on a mount of /home", tweak: func(_ *testing.T, _ *testutil.Bundle, s *specs.Spec) {
			idmapBind(s, "/home", "/home", nil, idmapRange(1000), idmapRange(1000))
		}, want: []string{"idmapped mount of /home at /home: mapping (uid 0:1000:65536, gid 0:1000:65536) is not the container's own", "(rule idmapped-mounts, no policy key allows it)"}},
		{name: "mapping of host 0", tweak: func(_ *testing.T, _ *testutil.Bundle, s *specs.Spec) {
			idmapBind(s, "/usr/local/bin", "/mnt", nil, idmapRange(0), idmapRange(0))
		}, want: []string{"idmapped mount of /usr/local/bin at /mnt: its mapping includes host ID 0", "(rule idmapped-mounts, no policy key allows it)"}},
		{name: "host 0 hidden in a second range", tweak: func(_ *testing.T, _ *testutil.Bundle, s *specs.Spec) {
			m := append(idmapRange(0x70000000), specs.LinuxIDMapping{ContainerID: 65536, HostID: 0, Size: 1})
			idmapBind(s, "/usr/local/bin", "/mnt", nil, m, m)
		}, want: []string{"its mapping includes host ID 0", why}},
		{name: "uid mapping only", tweak: func(_ *testing.T, _ *testutil.Bundle, s *specs.Spec) {
			idmapBind(s, "/usr/local/bin", "/mnt", nil, idmapRange(0x70000000), nil)
		}, want: []string{"is not the container's own", why}},
		{name: "a tmpfs with mappings", tweak: func(_ *testing.T, _ *testutil.Bundle, s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/t", Type: "tmpfs", Source: "tmpfs", Options: []string{"idmap"}})
		}, want: []string{"idmapped mount of tmpfs at /t: tmpfs is not an absolute host path", "(rule idmapped-mounts, no policy key allows it)"}},
		{name: "a symlink in the bundle to /usr/local/bin", tweak: func(t *testing.T, b *testutil.Bundle, s *specs.Spec) {
			link := filepath.Join(b.Dir, "vol")
			if err := os.Symlink("/usr/local/bin", link); err != nil {
				t.Fatal(err)
			}
			idmapBind(s, link, "/mnt", []string{"idmap"}, nil, nil)
		}, want: []string{"/vol at /mnt: ", "is not below", why}},
		{name: "relative source", tweak: func(_ *testing.T, _ *testutil.Bundle, s *specs.Spec) {
			idmapBind(s, "rootfs/../..", "/mnt", []string{"idmap"}, nil, nil)
		}, want: []string{"idmapped mount of rootfs/../.. at /mnt: rootfs/../.. is not an absolute host path", why}},
	})
}

// TestHostileIDMappedMountsListedSourceEscape: a source below a listed
// directory by name that resolves, through a symlink planted there,
// outside it is refused by where it resolves.
func TestHostileIDMappedMountsListedSourceEscape(t *testing.T) {
	listed := t.TempDir()
	if err := os.Symlink("/usr/local/bin", filepath.Join(listed, "vol")); err != nil {
		t.Fatal(err)
	}
	flag, _ := testutil.WritePolicy(t, fmt.Sprintf(`{"idmapMountSources": [%q]}`, listed))
	rt := testutil.NewRuntime(t)
	b := testutil.NewBundle(t, "true")
	b.Edit(t, func(s *specs.Spec) { idmapBind(s, filepath.Join(listed, "vol"), "/mnt", []string{"idmap"}, nil, nil) })
	rt.ExpectRefused(t, b, []string{flag}, "/usr/local/bin is not below a directory where engines idmap volumes (rule idmapped-mounts", `"idmapMountSources": ["/usr/local/bin"]`)
}

// TestHostileIDMappedMountsNoUserns: without a user namespace there is no
// "own" mapping to match.
func TestHostileIDMappedMountsNoUserns(t *testing.T) {
	flag, _ := testutil.WritePolicy(t, `{"userNamespace": {"enabled": false}, "idmapMountSources": ["/usr/local"]}`)
	rt := testutil.NewRuntime(t)
	b := testutil.NewBundle(t, "true")
	b.Edit(t, func(s *specs.Spec) { idmapBind(s, "/usr/local/bin", "/mnt", []string{"idmap"}, nil, nil) })
	rt.ExpectRefused(t, b, []string{flag}, "idmapped mount of /usr/local/bin at /mnt: the container has no user namespace (rule idmapped-mounts")
}

// TestHostileIDMappedMountsExplain: explain reports the refusal.
func TestHostileIDMappedMountsExplain(t *testing.T) {
	rt := testutil.NewRuntime(t)
	b := testutil.NewBundle(t, "true")
	b.Edit(t, func(s *specs.Spec) { idmapBind(s, "/usr/local/bin", "/mnt", []string{"idmap"}, nil, nil) })
	out, errOut, code := rt.Run("explain", b.Dir)
	if code == 0 || !strings.Contains(out+errOut, "idmapped-mounts: idmapped mount of /usr/local/bin at /mnt") {
		t.Errorf("explain: exit %d, want the refusal:\n%s%s", code, out, errOut)
	}
}

// idmapVolume makes a host directory, traversable, below listed (a
// directory the policy lists), holding a root-owned file.
func idmapVolume(t *testing.T) (listed, vol string) {
	t.Helper()
	listed = t.TempDir()
	vol = filepath.Join(listed, "pods", "uid", "volumes", "cache")
	if err := os.MkdirAll(vol, 0o755); err != nil {
		t.Fatal(err)
	}
	for d := vol; d != "/"; d = filepath.Dir(d) {
		if st, err := os.Stat(d); err == nil && st.Mode().Perm()&0o005 != 0o005 {
			os.Chmod(d, st.Mode().Perm()|0o005)
		}
	}
	if err := os.WriteFile(filepath.Join(vol, "host-file"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	return listed, vol
}

// idmapMountFlags returns the per-mount flags (mountinfo field 6) of the
// mount at dst as the container's `grep` printed them.
func idmapMountFlags(out, dst string) string {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) > 5 && f[4] == dst {
			return f[5]
		}
	}
	return ""
}

// TestHostileIDMappedMountsEngineStyle: an engine's idmapped volume (the
// container's own mapping, on a listed source) runs, nosuid,nodev forced
// even though the caller asked for suid and dev; through it the host's
// file shows with its owner and container root's file lands as host root,
// which is why the flags are forced.
func TestHostileIDMappedMountsEngineStyle(t *testing.T) {
	for _, tc := range []struct {
		name   string
		policy func(listed string) string
		edit   func(s *specs.Spec, vol string)
	}{
		{
			name:   "idmap option, runtime's own user namespace",
			policy: func(listed string) string { return fmt.Sprintf(`{"idmapMountSources": [%q]}`, listed) },
			edit: func(s *specs.Spec, vol string) {
				idmapBind(s, vol, "/cache", []string{"idmap", "suid", "dev"}, nil, nil)
			},
		},
		{
			name: "mappings equal to the caller's own namespace (user namespaces off)",
			policy: func(listed string) string {
				return fmt.Sprintf(`{"userNamespace": {"enabled": false}, "idmapMountSources": [%q]}`, listed)
			},
			edit: func(s *specs.Spec, vol string) {
				m := idmapRange(0x7ff00000)
				s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
				s.Linux.UIDMappings, s.Linux.GIDMappings = m, m
				idmapBind(s, vol, "/cache", []string{"suid"}, m, m)
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			listed, vol := idmapVolume(t)
			flag, _ := testutil.WritePolicy(t, tc.policy(listed))
			rt := testutil.NewRuntime(t)
			b := testutil.NewBundle(t)
			if err := os.MkdirAll(filepath.Join(b.Rootfs, "cache"), 0o755); err != nil {
				t.Fatal(err)
			}
			b.Edit(t, func(s *specs.Spec) { tc.edit(s, vol) })
			out, code := runInside(t, rt, b, "grep ' /cache ' /proc/self/mountinfo; stat -c 'owner %u' /cache/host-file; touch /cache/made-inside", flag)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, out)
			}
			flags := idmapMountFlags(out, "/cache")
			for _, want := range []string{"nosuid", "nodev"} {
				if !strings.Contains(","+flags+",", ","+want+",") {
					t.Errorf("/cache mounted %q, lacks %s:\n%s", flags, want, out)
				}
			}
			if !strings.Contains(out, "owner 0") {
				t.Errorf("the host's root-owned file does not show as root's through the idmapped mount:\n%s", out)
			}
			st, err := os.Stat(filepath.Join(vol, "made-inside"))
			if err != nil {
				t.Fatal(err)
			}
			if uid := st.Sys().(*syscall.Stat_t).Uid; uid != 0 {
				t.Errorf("container root's file is host uid %d, want 0 (an idmapped mount)", uid)
			}
		})
	}
}
