package integration

// The runtime on the host most users have: systemd as PID 1 managing the
// container's cgroup (--systemd-cgroup, cgroupsPath "slice:prefix:name"),
// and AppArmor. These tests skip on hosts without them; make test-vm runs
// them in a Debian 12 guest that has both (tests/vm).

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// TestSystemdCgroupDriver runs a container with the runtime's own systemd
// driver: its init lands in a transient scope unit under the slice asked
// for, with the limits of config.json; update and pause go through
// systemd too, and delete stops the unit and removes the cgroup.
func TestSystemdCgroupDriver(t *testing.T) {
	testutil.RequireSystemd(t)
	rt := testutil.NewRuntime(t)
	rt.MoreGlobal = []string{"--systemd-cgroup"}
	b := testutil.NewBundle(t, sleeper...)
	id := rt.NewID()
	unit := "hardened-test-" + id + ".scope"
	b.Edit(t, func(s *specs.Spec) {
		s.Linux.CgroupsPath = "system.slice:hardened-test:" + id
		limit, pids := int64(64<<20), int64(60)
		s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &limit}
		s.Linux.Resources.Pids = &specs.LinuxPids{Limit: &pids}
	})
	rt.MustRun("run", "--detach", "--bundle", b.Dir, id)
	st := rt.WaitStatus(id, "running", 10*time.Second)

	cg, err := testutil.ProcessCgroup(st.Pid)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := cg.Dir("pids")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(dir, "/system.slice/"+unit) {
		t.Errorf("init's cgroup %s, want system.slice/%s", dir, unit)
	}
	if out, err := exec.Command("systemctl", "is-active", unit).CombinedOutput(); strings.TrimSpace(string(out)) != "active" {
		t.Errorf("systemctl is-active %s: %q (%v), want active", unit, out, err)
	}
	if v := testutil.CgroupValue(t, st.Pid, (*testutil.Cgroup).MemoryLimit); v != "67108864" {
		t.Errorf("memory limit %s, want 67108864", v)
	}
	if v := testutil.CgroupValue(t, st.Pid, (*testutil.Cgroup).PidsLimit); v != "60" {
		t.Errorf("pids limit %s, want 60", v)
	}

	rt.MustRun("update", "--pids-limit", "80", "--memory", "96m", id)
	if v := testutil.CgroupValue(t, st.Pid, (*testutil.Cgroup).PidsLimit); v != "80" {
		t.Errorf("after update: pids limit %s, want 80", v)
	}
	if v := testutil.CgroupValue(t, st.Pid, (*testutil.Cgroup).MemoryLimit); v != "100663296" {
		t.Errorf("after update: memory limit %s, want 100663296", v)
	}
	// systemd keeps its own record of the limit, set over D-Bus.
	if out, err := exec.Command("systemctl", "show", "-p", "TasksMax", "--value", unit).Output(); err != nil || strings.TrimSpace(string(out)) != "80" {
		t.Errorf("systemctl show -p TasksMax %s: %q (%v), want 80", unit, out, err)
	}

	rt.MustRun("pause", id)
	if !frozen(t, st.Pid) {
		t.Errorf("after pause: the scope's cgroup is not frozen")
	}
	rt.MustRun("resume", id)
	if frozen(t, st.Pid) {
		t.Errorf("after resume: the scope's cgroup is still frozen")
	}

	rt.MustRun("delete", "--force", id)
	deadline := time.Now().Add(5 * time.Second)
	for len(testutil.CgroupsNamed(id)) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if left := testutil.CgroupsNamed(id); len(left) > 0 {
		t.Errorf("after delete: cgroups left %v", left)
	}
	if out, _ := exec.Command("systemctl", "is-active", unit).CombinedOutput(); strings.TrimSpace(string(out)) == "active" {
		t.Errorf("after delete: %s still active", unit)
	}
}

// TestAppArmorProfileMissing: a profile that is not loaded fails the start
// (the kernel refuses the exec transition); the container must not run
// unconfined instead.
func TestAppArmorProfileMissing(t *testing.T) {
	testutil.RequireAppArmor(t)
	rt := testutil.NewRuntime(t)
	b := testutil.NewBundle(t, sleeper...)
	b.Edit(t, func(s *specs.Spec) { s.Process.ApparmorProfile = "hardened-test-no-such-profile" })
	id := rt.NewID()
	_, errOut, exit := rt.Run("run", "--detach", "--bundle", b.Dir, id)
	if exit == 0 {
		st := rt.MustState(id)
		label, _ := testutil.AppArmorLabel(st.Pid)
		t.Fatalf("run with a missing AppArmor profile succeeded; the init runs as %q", label)
	}
	if !strings.Contains(errOut, "apparmor") && !strings.Contains(errOut, "AppArmor") {
		t.Errorf("the error does not name AppArmor: %s", errOut)
	}
	rt.Run("delete", "--force", id)
}

// TestAppArmorProfileApplied: the profile config.json names confines the
// init and every exec'd process (exec --apparmor overrides it, as runc's).
func TestAppArmorProfileApplied(t *testing.T) {
	testutil.RequireAppArmor(t)
	const profile = "hardened-test-profile"
	// A profile that allows what the tests do, loaded for this test.
	policy := "profile " + profile + " flags=(attach_disconnected,mediate_deleted) {\n" +
		"  file,\n  capability,\n  network,\n  signal,\n  ptrace,\n  mount,\n  umount,\n  pivot_root,\n  unix,\n  dbus,\n}\n"
	load := exec.Command("apparmor_parser", "--replace")
	load.Stdin = strings.NewReader(policy)
	if out, err := load.CombinedOutput(); err != nil {
		t.Fatalf("apparmor_parser --replace: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		unload := exec.Command("apparmor_parser", "--remove")
		unload.Stdin = strings.NewReader(policy)
		if out, err := unload.CombinedOutput(); err != nil {
			t.Errorf("apparmor_parser --remove: %v\n%s", err, out)
		}
	})
	rt := testutil.NewRuntime(t)
	b := testutil.NewBundle(t, sleeper...)
	b.Edit(t, func(s *specs.Spec) { s.Process.ApparmorProfile = profile })
	id := rt.NewID()
	rt.MustRun("run", "--detach", "--bundle", b.Dir, id)
	st := rt.WaitStatus(id, "running", 10*time.Second)
	if label, err := testutil.AppArmorLabel(st.Pid); err != nil || label != profile+" (enforce)" {
		t.Errorf("init's label %q (%v), want %q", label, err, profile+" (enforce)")
	}
	if out := rt.MustRun("exec", id, "cat", "/proc/self/attr/current"); strings.TrimRight(out, "\x00\n") != profile+" (enforce)" {
		t.Errorf("exec'd process's label %q, want %q", out, profile+" (enforce)")
	}
	if out := rt.MustRun("exec", "--apparmor", "unconfined", id, "cat", "/proc/self/attr/current"); strings.TrimRight(out, "\x00\n") != "unconfined" {
		t.Errorf("exec --apparmor unconfined: label %q, want unconfined", out)
	}
	rt.MustRun("delete", "--force", id)
}
