package integration

// Filesystem hardening seen from inside the container: the read-only
// rootfs, the writable state paths (the image's content, noexec, nosuid,
// nodev, writes landing in the rootfs), a caller's own mounts left alone,
// masked and read-only /proc and /sys paths, and the pids limit.

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// statePaths are the default policy's writable paths; the busybox rootfs
// has each of them as a real directory.
var statePaths = []string{"/tmp", "/var/tmp", "/run", "/var/run", "/var/cache", "/var/log", "/var/lib", "/home"}

// mountEntry is one line of /proc/self/mountinfo.
type mountEntry struct {
	point  string
	opts   []string // per-mount options (field 6)
	fstype string
}

// parseMountinfo reads mountinfo text; for a mount point mounted several
// times the last (topmost) entry wins.
func parseMountinfo(t *testing.T, text string) map[string]mountEntry {
	t.Helper()
	out := map[string]mountEntry{}
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		f := strings.Fields(line)
		sep := slices.Index(f, "-")
		if len(f) < 6 || sep < 0 || sep+1 >= len(f) {
			t.Fatalf("mountinfo line %q", line)
		}
		out[f[4]] = mountEntry{point: f[4], opts: strings.Split(f[5], ","), fstype: f[sep+1]}
	}
	return out
}

// splitSections splits output at lines "---".
func splitSections(out string) []string {
	return strings.Split(out, "---\n")
}

func TestHardeningReadonlyRootfsAndWritablePaths(t *testing.T) {
	rt := testutil.NewRuntime(t)
	b := testutil.NewBundle(t)
	probe := installProbe(t, b)
	if err := os.WriteFile(filepath.Join(b.Rootfs, "var/lib/from-image"), []byte("image data"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{probe, "write=/rootfile", "write=/usr/file", "write=/etc/file", "write=/bin/file", "read=/var/lib/from-image",
		"exec=/bin/busybox"}
	for _, p := range statePaths {
		args = append(args, "write="+p+"/written", "exec="+p+"/true")
	}
	script := "for d in " + strings.Join(statePaths, " ") + "; do cp /bin/busybox $d/true || exit 9; done; " +
		strings.Join(args, " ") + "; echo ---; cat /proc/self/mountinfo"
	b.Edit(t, func(s *specs.Spec) {
		s.Root.Readonly = false // the policy makes it read-only
		s.Process.Args = []string{"sh", "-c", script}
	})
	sections := splitSections(rt.RunIn(t, b))
	if len(sections) != 2 {
		t.Fatalf("output %q: want probe results, ---, mountinfo", sections)
	}
	res := probeResults(t, sections[0])
	for _, p := range []string{"/rootfile", "/usr/file", "/etc/file", "/bin/file"} {
		if got := res["write="+p]; got != "EROFS" {
			t.Errorf("write %s = %s, want EROFS", p, got)
		}
	}
	if got := res["read=/var/lib/from-image"]; got != "OK 10" {
		t.Errorf("read /var/lib/from-image = %q, want the image's 10 bytes (OK 10)", got)
	}
	if got := res["exec=/bin/busybox"]; got != "OK" {
		t.Errorf("exec /bin/busybox (the image's code) = %s, want OK", got)
	}
	mounts := parseMountinfo(t, sections[1])
	if root, ok := mounts["/"]; !ok || !slices.Contains(root.opts, "ro") {
		t.Errorf("/ mounted %+v, want ro", root)
	}
	for _, p := range statePaths {
		if got := res["write="+p+"/written"]; got != "OK" {
			t.Errorf("write %s/written = %s, want OK (writable state path)", p, got)
		}
		if got := res["exec="+p+"/true"]; got != "EACCES" {
			t.Errorf("exec %s/true (a copy of busybox) = %s, want EACCES (noexec)", p, got)
		}
		m, ok := mounts[p]
		if !ok {
			t.Errorf("%s: no mount in the container", p)
			continue
		}
		for _, o := range []string{"rw", "nosuid", "nodev", "noexec"} {
			if !slices.Contains(m.opts, o) {
				t.Errorf("%s mounted with %v, lacks %s", p, m.opts, o)
			}
		}
		// The write landed in the container's own rootfs directory.
		if data, err := os.ReadFile(filepath.Join(b.Rootfs, p, "written")); err != nil || string(data) != "x" {
			t.Errorf("host %s: %q, %v; want the container's write", filepath.Join(b.Rootfs, p, "written"), data, err)
		}
	}
}

// A caller's own mount at a state path is left alone (here a tmpfs at /tmp
// that allows exec), and a caller's volume below a state path stays on top
// of the writable bind.
func TestHardeningWritablePathsCallerMounts(t *testing.T) {
	rt := testutil.NewRuntime(t)
	b := testutil.NewBundle(t)
	probe := installProbe(t, b)
	volume := t.TempDir()
	// Open to the container's root, which is not host root in its user
	// namespace (on by default).
	if err := os.Chmod(volume, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(b.Rootfs, "var/lib/data"), 0o755); err != nil {
		t.Fatal(err)
	}
	script := "cp /bin/busybox /tmp/true; " + probe + " write=/tmp/written exec=/tmp/true write=/var/lib/data/written write=/var/tmp/written" +
		"; echo ---; cat /proc/self/mountinfo"
	b.Edit(t, func(s *specs.Spec) {
		s.Process.Args = []string{"sh", "-c", script}
		s.Mounts = append(s.Mounts,
			specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "mode=1777"}},
			specs.Mount{Destination: "/var/lib/data", Type: "bind", Source: volume, Options: []string{"rbind", "rw"}},
		)
	})
	sections := splitSections(rt.RunIn(t, b))
	if len(sections) != 2 {
		t.Fatalf("output %q: want probe results, ---, mountinfo", sections)
	}
	res := probeResults(t, sections[0])
	mounts := parseMountinfo(t, sections[1])
	if m := mounts["/tmp"]; m.fstype != "tmpfs" || slices.Contains(m.opts, "noexec") {
		t.Errorf("/tmp mounted %+v, want the caller's tmpfs as given (no noexec added)", m)
	}
	if res["write=/tmp/written"] != "OK" || res["exec=/tmp/true"] != "OK" {
		t.Errorf("caller's tmpfs: write %s exec %s, want OK OK", res["write=/tmp/written"], res["exec=/tmp/true"])
	}
	if _, err := os.Stat(filepath.Join(b.Rootfs, "tmp/written")); !os.IsNotExist(err) {
		t.Errorf("a write to the caller's tmpfs at /tmp landed in the rootfs (stat: %v)", err)
	}
	if res["write=/var/lib/data/written"] != "OK" {
		t.Errorf("write to the caller's volume = %s, want OK", res["write=/var/lib/data/written"])
	}
	if _, err := os.Stat(filepath.Join(volume, "written")); err != nil {
		t.Errorf("the write to /var/lib/data did not reach the caller's volume (it is hidden under /var/lib): %v", err)
	}
	if res["write=/var/tmp/written"] != "OK" {
		t.Errorf("write /var/tmp/written = %s, want OK (other state paths still writable)", res["write=/var/tmp/written"])
	}
	var tmpBinds int
	for _, m := range readSpec(t, b.ConfigPath()).Mounts {
		if m.Destination == "/tmp" {
			tmpBinds++
		}
	}
	if tmpBinds != 1 {
		t.Errorf("hardened config.json has %d mounts at /tmp, want only the caller's", tmpBinds)
	}
}

// Masked paths show nothing and read-only paths refuse writes, although
// the caller clears both lists (as Docker's --privileged does).
func TestHardeningMaskedAndReadonlyPaths(t *testing.T) {
	rt := testutil.NewRuntime(t)
	for _, p := range []string{"/proc/keys", "/proc/timer_list"} {
		if data, err := os.ReadFile(p); err != nil || len(data) == 0 {
			t.Fatalf("host %s: %d bytes, %v: the test needs it non-empty", p, len(data), err)
		}
	}
	if ents, err := os.ReadDir("/sys/firmware"); err != nil || len(ents) == 0 {
		t.Fatalf("host /sys/firmware: %d entries, %v: the test needs it non-empty", len(ents), err)
	}
	b := testutil.NewBundle(t)
	probe := installProbe(t, b)
	script := probe + " read=/proc/keys read=/proc/timer_list write=/proc/sys/kernel/hostname" +
		"; echo ---; ls -A /sys/firmware"
	b.Edit(t, func(s *specs.Spec) {
		s.Process.Args = []string{"sh", "-c", script}
		s.Linux.MaskedPaths = nil
		s.Linux.ReadonlyPaths = nil
	})
	sections := splitSections(rt.RunIn(t, b))
	if len(sections) != 2 {
		t.Fatalf("output %q: want probe results, ---, listing", sections)
	}
	res := probeResults(t, sections[0])
	for _, p := range []string{"/proc/keys", "/proc/timer_list"} {
		if got := res["read="+p]; got != "OK 0" && !strings.HasPrefix(got, "E") {
			t.Errorf("read %s = %q, want nothing readable (masked)", p, got)
		}
	}
	if got := strings.TrimSpace(sections[1]); got != "" {
		t.Errorf("ls /sys/firmware = %q, want an empty (masked) directory", got)
	}
	if got := res["write=/proc/sys/kernel/hostname"]; got != "EROFS" {
		t.Errorf("write /proc/sys/kernel/hostname = %s, want EROFS", got)
	}
	s := readSpec(t, b.ConfigPath())
	for _, p := range []string{"/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware"} {
		if !slices.Contains(s.Linux.MaskedPaths, p) {
			t.Errorf("hardened linux.maskedPaths %v lacks %s", s.Linux.MaskedPaths, p)
		}
	}
	for _, p := range []string{"/proc/sys", "/proc/sysrq-trigger"} {
		if !slices.Contains(s.Linux.ReadonlyPaths, p) {
			t.Errorf("hardened linux.readonlyPaths %v lacks %s", s.Linux.ReadonlyPaths, p)
		}
	}
}

// hostPidsMax reads pids.max of pid's cgroup as the host sees it.
func hostPidsMax(t *testing.T, pid int) string {
	t.Helper()
	return testutil.CgroupValue(t, pid, (*testutil.Cgroup).PidsLimit)
}

func TestHardeningPidsLimit(t *testing.T) {
	rt := testutil.NewRuntime(t)
	for _, tc := range []struct {
		name  string
		limit *int64
		want  string
	}{
		{"default", nil, "4096"},
		{"caller-limit-kept", func() *int64 { v := int64(77); return &v }(), "77"},
		{"caller-limit-above-default-lowered", func() *int64 { v := int64(100000); return &v }(), "4096"},
		{"caller-unlimited-becomes-default", func() *int64 { v := int64(-1); return &v }(), "4096"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := testutil.NewBundle(t, sleeper...)
			if tc.limit != nil {
				b.Edit(t, func(s *specs.Spec) { s.Linux.Resources.Pids = &specs.LinuxPids{Limit: tc.limit} })
			}
			id := rt.NewID()
			rt.MustRun("run", "--detach", "--bundle", b.Dir, id)
			st := rt.WaitStatus(id, "running", 5*time.Second)
			inside := rt.MustRun("exec", id, "sh", "-c", "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max")
			if got := strings.TrimSpace(inside); got != tc.want {
				t.Errorf("pids.max inside the container = %q, want %s", got, tc.want)
			}
			if got := hostPidsMax(t, st.Pid); got != tc.want {
				t.Errorf("pids.max of the container's cgroup on the host = %q, want %s", got, tc.want)
			}
			rt.MustRun("delete", "--force", id)
		})
	}
}
