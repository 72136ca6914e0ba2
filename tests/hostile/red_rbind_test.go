package hostile

import (
	"bufio"
	"os"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// redMountsUnderMnt is a shell script that prints "RW <mount point>" for
// every mount at or below /mnt that is not read-only (by its flags in
// mountinfo: busybox's test -w is true for root whatever the mount), then
// "mounts <count>".
const redMountsUnderMnt = `n=0
while read id parent dev root mp mopts rest; do
	case $mp in /mnt|/mnt/*) n=$((n+1)); case $mopts in ro|ro,*) ;; *) echo "RW $mp";; esac;; esac
done < /proc/self/mountinfo
echo "mounts $n"`

// redBindAt returns a tweak adding a bind mount of src at dst with opts.
func redBindAt(src, dst string, opts ...string) func(*testing.T, *testutil.Bundle, *specs.Spec) {
	return func(_ *testing.T, _ *testutil.Bundle, s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: dst, Type: "bind", Source: src, Options: opts})
	}
}

// redHostSubmounts returns the host's mount points strictly below dir.
func redHostSubmounts(t *testing.T, dir string) []string {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var below []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && strings.HasPrefix(fields[4], dir+"/") {
			below = append(below, fields[4])
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return below
}

// TestRedReadOnlyBindRecursiveAttr: the host-mounts rule lets a bind of
// /sys, or of a directory under /etc, through when it is read-only, and
// read "read-only" as the last of "ro" and "rw". runc then applies the
// recursive attributes: "rrw" clears the read-only flag of the whole
// bind (mount_setattr with AT_RECURSIVE), the top mount included, so
// ["rbind", "ro", "rrw"] was a read-write bind of the host's /sys or
// /etc/cron.d; without a user namespace (container root is host root)
// that is the host's kernel settings and a program cron runs as root.
// The last of "rro" and "rrw" now decides, over "ro" and "rw".
func TestRedReadOnlyBindRecursiveAttr(t *testing.T) {
	off, _ := testutil.WritePolicy(t, `{"userNamespace": {"enabled": false}}`)
	usernsOff := func(tweak func(*testing.T, *testutil.Bundle, *specs.Spec)) func(*testing.T, *testutil.Bundle, *specs.Spec) {
		return func(t *testing.T, b *testutil.Bundle, s *specs.Spec) {
			reviewUsernsOff(s)
			tweak(t, b, s)
		}
	}
	expectAllRefused(t, []attack{
		{name: "/sys ro then rrw", tweak: usernsOff(redBindAt("/sys", "/mnt", "rbind", "ro", "rrw")),
			want: []string{"bind mount of host path /sys at /mnt", `(rule host-mounts, allow with "allowHostMounts": ["/sys"]`}},
		{name: "/etc/default ro then rrw", tweak: usernsOff(redBindAt("/etc/default", "/mnt", "bind", "ro", "rrw")),
			want: []string{"bind mount of host path /etc/default at /mnt exposes /etc", `"allowHostMounts": ["/etc/default"]`}},
		{name: "sysfs-typed bind, ro then rrw", tweak: usernsOff(func(_ *testing.T, _ *testutil.Bundle, s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Type: "sysfs", Source: "/sys", Options: []string{"rbind", "ro", "rrw"}})
		}), want: []string{"bind mount of host path /sys at /mnt", "rule host-mounts"}},
		{name: "rro then rrw", tweak: usernsOff(redBindAt("/etc/default", "/mnt", "rbind", "rro", "rrw", "ro")),
			want: []string{"/etc/default at /mnt exposes /etc", "rule host-mounts"}},
	}, off)
	t.Run("user namespace on", func(t *testing.T) {
		expectAllRefused(t, []attack{
			{name: "/sys ro then rrw", tweak: redBindAt("/sys", "/mnt", "rbind", "ro", "rrw"),
				want: []string{"bind mount of host path /sys at /mnt", `"allowHostMounts": ["/sys"]`}},
		})
	})
	t.Run("rro and a later rw stay read-only", func(t *testing.T) {
		rt := testutil.NewRuntime(t)
		b := testutil.NewBundle(t, "true")
		b.Edit(t, func(s *specs.Spec) {
			reviewUsernsOff(s)
			redBindAt("/etc/default", "/mnt", "bind", "rro", "rw")(t, b, s)
		})
		out, exit := runInside(t, rt, b, redMountsUnderMnt+"\necho done", off)
		if exit != 0 || strings.Contains(out, "RW ") || !strings.Contains(out, "mounts 1\n") {
			t.Errorf("bind with rro: exit %d, %q", exit, out)
		}
	})
}

// TestRedReadOnlyRbindSubmounts: runc's "ro" on a bind mount makes only
// its top mount read-only; the mounts an "rbind" brings along keep their
// flags. So the read-only bind of /sys that the host-mounts rule lets
// through brought the host's cgroup hierarchies and tracefs (mounted
// below /sys) read-write: without a user namespace, container root moved
// itself to the host's root cgroups (out of its pids and memory limits)
// and could drive the host's tracing. The runtime now makes the clone of
// a read-only bind's source read-only throughout.
func TestRedReadOnlyRbindSubmounts(t *testing.T) {
	below := redHostSubmounts(t, "/sys")
	if len(below) == 0 {
		t.Skip("no mount below /sys on this host")
	}
	off, _ := testutil.WritePolicy(t, `{"userNamespace": {"enabled": false}}`)
	for _, opts := range [][]string{{"rbind", "ro"}, {"rbind", "rw", "ro"}} {
		t.Run(strings.Join(opts, ","), func(t *testing.T) {
			rt := testutil.NewRuntime(t)
			b := testutil.NewBundle(t, "true")
			b.Edit(t, func(s *specs.Spec) {
				reviewUsernsOff(s)
				redBindAt("/sys", "/mnt", opts...)(t, b, s)
			})
			// Every mount at or below /mnt must be read-only; a write
			// to a cgroup.procs file (the process moving itself to a
			// host cgroup) must fail.
			script := redMountsUnderMnt + `
for f in /mnt/fs/cgroup/*/cgroup.procs /mnt/fs/cgroup/cgroup.procs; do
	[ -e "$f" ] || continue
	if echo $$ 2>/dev/null > "$f"; then echo "MOVED $f"; fi
done
echo done`
			out, exit := runInside(t, rt, b, script, off)
			if exit != 0 || !strings.Contains(out, "done") {
				t.Fatalf("container: exit %d, %q", exit, out)
			}
			if !strings.Contains(out, "mounts ") || strings.Contains(out, "mounts 1\n") || strings.Contains(out, "mounts 0\n") {
				t.Errorf("the mounts below /sys did not come along (the test could not fail): %q", out)
			}
			if strings.Contains(out, "RW ") || strings.Contains(out, "MOVED ") {
				t.Errorf("read-only rbind of /sys left host mounts writable:\n%s", out)
			}
		})
	}
}
