package hostile

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// recordsEntry is the part of an audit record these tests read.
type recordsEntry struct {
	Event         string `json:"event"`
	ID            string `json:"id"`
	Engine        string `json:"engine"`
	Namespace     string `json:"namespace"`
	Pod           string `json:"pod"`
	Name          string `json:"name"`
	Image         string `json:"image"`
	Mode          string `json:"mode"`
	Level         string `json:"level"`
	Exceptions    []int  `json:"exceptions"`
	UserNamespace string `json:"userNamespace"`
	Error         string `json:"error"`
	Changes       []struct {
		Rule, Path string
	} `json:"changes"`
	Refusals []struct {
		Rule, Reason, Allow string
	} `json:"refusals"`
	Warnings []struct {
		Rule, Message string
	} `json:"warnings"`
	Notes []struct {
		Rule, Message string
	} `json:"notes"`
}

// recordsRead returns the records of path (none if it does not exist).
func recordsRead(t *testing.T, path string) []recordsEntry {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []recordsEntry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 4<<20), 4<<20)
	for sc.Scan() {
		var e recordsEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("%s: torn or invalid line %q: %v", path, sc.Text(), err)
		}
		out = append(out, e)
	}
	return out
}

// recordsFor returns the one record of id with event, failing otherwise.
func recordsFor(t *testing.T, path, id, event string) recordsEntry {
	t.Helper()
	var found []recordsEntry
	for _, e := range recordsRead(t, path) {
		if e.ID == id && e.Event == event {
			found = append(found, e)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d %q records of %s in %s, want 1: %+v", len(found), event, id, path, recordsRead(t, path))
	}
	return found[0]
}

// recordsAllCaps is every capability the running kernel knows, as
// engines list them for a privileged container.
func recordsAllCaps() []string {
	all := []string{
		"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
		"CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN",
		"CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
		"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
		"CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
		"CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
		"CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
	}
	var out []string
	own := recordsOwnBounding()
	for i, c := range all {
		if own&(1<<i) != 0 {
			out = append(out, c)
		}
	}
	return out
}

// recordsOwnBounding is the test's own bounding set (a privileged
// container cannot get more).
func recordsOwnBounding() uint64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if hex, ok := strings.CutPrefix(l, "CapBnd:\t"); ok {
			v, _ := strconv.ParseUint(hex, 16, 64)
			return v
		}
	}
	return 0
}

// recordsPrivileged makes s what `docker run --privileged` writes; with
// hostDevices, also 95 host device nodes as Docker lists them.
func recordsPrivileged(s *specs.Spec, hostDevices bool) {
	caps := recordsAllCaps()
	s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps}
	s.Linux.MaskedPaths, s.Linux.ReadonlyPaths, s.Linux.Seccomp = nil, nil, nil
	for i, m := range s.Mounts {
		if m.Type == "sysfs" {
			s.Mounts[i].Options = slices.DeleteFunc(slices.Clone(m.Options), func(o string) bool { return o == "ro" })
		}
	}
	s.Linux.Resources = &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}}
	if hostDevices {
		for i := int64(0); i < 95; i++ {
			s.Linux.Devices = append(s.Linux.Devices, specs.LinuxDevice{Path: "/dev/hostdisk" + string(rune('a'+i%26)) + string(rune('a'+i/26)), Type: "b", Major: 8, Minor: i})
		}
	}
}

// recordsCRI are the annotations containerd's CRI plugin sets for
// container app of pod shop/web-0.
func recordsCRI() map[string]string {
	return map[string]string{
		"io.kubernetes.cri.container-type":    "container",
		"io.kubernetes.cri.sandbox-name":      "web-0",
		"io.kubernetes.cri.sandbox-namespace": "shop",
		"io.kubernetes.cri.container-name":    "app",
		"io.kubernetes.cri.image-name":        "docker.io/library/busybox:1.36",
	}
}

// TestRecordsPrivilegedOneLine: `docker run --privileged` (95 host device
// lines) and containerd's WithPrivileged are refused in one short line
// naming privileged and the key, not one line per device; a pod is named.
func TestRecordsPrivilegedOneLine(t *testing.T) {
	want := []string{"privileged container (rule privileged, allow with \"allowPrivileged\": true"}
	expectAllRefused(t, []attack{
		{"docker --privileged", func(_ *testing.T, _ *testutil.Bundle, s *specs.Spec) { recordsPrivileged(s, true) }, want},
		{"containerd WithPrivileged", func(_ *testing.T, _ *testutil.Bundle, s *specs.Spec) { recordsPrivileged(s, false) }, want},
		{"privileged with a sysfs mount only", func(_ *testing.T, _ *testutil.Bundle, s *specs.Spec) {
			recordsPrivileged(s, false)
			s.Linux.Resources = nil
		}, want},
		{"CRI privileged pod", func(_ *testing.T, _ *testutil.Bundle, s *specs.Spec) {
			recordsPrivileged(s, true)
			s.Annotations = recordsCRI()
		}, append(want, "(pod shop/web-0, container app, image docker.io/library/busybox:1.36)")},
	})
	rt := testutil.NewRuntime(t)
	b := testutil.NewBundle(t, "true")
	b.Edit(t, func(s *specs.Spec) { recordsPrivileged(s, true) })
	msg := rt.ExpectRefused(t, b, nil, want...)
	if len(msg) > 400 || strings.Contains(msg, "host device") {
		t.Errorf("refusal of %d characters, want one short line:\n%s", len(msg), msg)
	}
}

// TestRecordsPrivilegedAllowed: an exception granting allowPrivileged to
// one pod lets it run as configured (every capability), recorded so.
func TestRecordsPrivilegedAllowed(t *testing.T) {
	rt := testutil.NewRuntime(t)
	flag, _ := testutil.WritePolicy(t, `{"exceptions": [{"match": {"io.kubernetes.cri.sandbox-name": "web-0"}, "allow": {"allowPrivileged": true}}]}`)
	b := testutil.NewBundle(t)
	b.Edit(t, func(s *specs.Spec) {
		recordsPrivileged(s, false)
		s.Annotations = recordsCRI()
	})
	out, exit := runInside(t, rt, b, "grep CapEff /proc/self/status", flag)
	full := strconv.FormatUint(recordsOwnBounding(), 16)
	if exit != 0 || !strings.Contains(out, full) {
		t.Errorf("allowed privileged container: exit %d, %q, want every capability", exit, out)
	}
	recs := recordsRead(t, rt.Audit)
	if len(recs) != 1 || recs[0].Mode != "off" || len(recs[0].Exceptions) != 1 || len(recs[0].Notes) != 1 || recs[0].Notes[0].Rule != "privileged" {
		t.Errorf("records %+v: want one, mode off, exception 0, a privileged note", recs)
	}
	// Without the pod's annotations the same bundle is refused.
	b.Edit(t, func(s *specs.Spec) { s.Annotations = nil })
	rt.ExpectRefused(t, b, []string{flag}, "rule privileged")
}

// TestRecordsRefusal: a refused create leaves a record naming each
// refusal by rule and key, with the pod from the annotations.
func TestRecordsRefusal(t *testing.T) {
	rt := testutil.NewRuntime(t)
	b := testutil.NewBundle(t, "true")
	b.Edit(t, func(s *specs.Spec) {
		s.Annotations = recordsCRI()
		s.Linux.Sysctl = map[string]string{"kernel.core_pattern": "|/tmp/x"}
		s.Linux.Namespaces = slices.DeleteFunc(s.Linux.Namespaces, func(ns specs.LinuxNamespace) bool { return ns.Type == specs.NetworkNamespace })
	})
	rt.ExpectRefused(t, b, nil, "host network namespace")
	recs := recordsRead(t, rt.Audit)
	if len(recs) != 1 {
		t.Fatalf("%d records, want 1: %+v", len(recs), recs)
	}
	r := recs[0]
	if r.Event != "refused" || r.Engine != "containerd-cri" || r.Pod != "web-0" || r.Namespace != "shop" || r.Name != "app" || r.Mode != "enforce" || !strings.Contains(r.Error, "host network namespace") {
		t.Errorf("record %+v", r)
	}
	rules := map[string]string{}
	for _, f := range r.Refusals {
		rules[f.Rule] = f.Allow
	}
	if rules["host-namespaces"] != `"allowHostNamespaces": ["network"]` || rules["sysctls"] != `"allowSysctls": ["kernel.core_pattern"]` {
		t.Errorf("refusals %+v: want host-namespaces and sysctls with their keys", r.Refusals)
	}
}

// TestRecordsCreateAndExec: a container's create and every exec leave a
// record: changes by rule, the ID range, the exec.
func TestRecordsCreateAndExec(t *testing.T) {
	rt := testutil.NewRuntime(t)
	b := testutil.NewBundle(t, "sleep", "1000")
	id := rt.NewID()
	rt.MustRun("create", "--bundle", b.Dir, id)
	defer rt.Run("delete", "--force", id)
	if _, errOut, exit := rt.Run("exec", id, "true"); exit != 0 {
		t.Fatalf("exec: %d %s", exit, errOut)
	}
	r := recordsFor(t, rt.Audit, id, "create")
	if r.Engine != "hardened" || r.Mode != "enforce" || r.Level != "baseline" || r.UserNamespace == "" || len(r.Refusals) != 0 {
		t.Errorf("create record %+v", r)
	}
	paths := map[string]bool{}
	for _, c := range r.Changes {
		paths[c.Rule+" "+c.Path] = true
	}
	for _, want := range []string{"capabilities process.capabilities.bounding", "seccomp linux.seccomp"} {
		if !paths[want] {
			t.Errorf("create record lacks change %q: %v", want, paths)
		}
	}
	e := recordsFor(t, rt.Audit, id, "exec")
	if e.Mode != "enforce" || len(e.Notes) == 0 || !strings.Contains(e.Notes[len(e.Notes)-1].Message, `"true"`) {
		t.Errorf("exec record %+v", e)
	}
}

// TestRecordsAuditMode: audit mode records each would-be refusal with the
// text enforce mode refuses with.
func TestRecordsAuditMode(t *testing.T) {
	rt := testutil.NewRuntime(t)
	b := testutil.NewBundle(t, "true")
	b.Edit(t, func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt/shadow", Type: "bind", Source: "/etc/shadow", Options: []string{"rbind", "ro"}})
	})
	msg := rt.ExpectRefused(t, b, nil, "(rule host-mounts")
	flag, _ := testutil.WritePolicy(t, `{"mode": "audit"}`)
	rt.RunIn(t, b, flag)
	var audit recordsEntry
	for _, r := range recordsRead(t, rt.Audit) {
		if r.Event == "create" {
			audit = r
		}
	}
	if audit.Mode != "audit" || len(audit.Refusals) != 1 {
		t.Fatalf("audit record %+v: want mode audit, one refusal", audit)
	}
	f := audit.Refusals[0]
	if text := f.Reason + " (rule " + f.Rule + ", allow with " + f.Allow + ")"; !strings.Contains(msg, text) {
		t.Errorf("audit refusal %q is not enforce's text %q", text, msg)
	}
	// The runtime's own log line names it too.
	var named bool
	for _, l := range rt.LogEntries() {
		named = named || (strings.Contains(l.Msg, "(1 refused: ") && strings.Contains(l.Msg, "/etc/shadow") && strings.Contains(l.Msg, "(rule host-mounts, allow with"))
	}
	if !named {
		t.Error("audit mode's log line does not name the would-be refusal")
	}
}

// TestRecordsOverrideWarnings: a capability added beyond the engines'
// defaults and seccomp unconfined are overridden with a warning on stderr
// and in the record; inside, the capability is gone and a filter is on.
func TestRecordsOverrideWarnings(t *testing.T) {
	rt := testutil.NewRuntime(t)
	b := testutil.NewBundle(t)
	b.Edit(t, func(s *specs.Spec) {
		c := s.Process.Capabilities
		c.Bounding = append(c.Bounding, "CAP_SYS_ADMIN", "CAP_NET_ADMIN")
		c.Effective = append(c.Effective, "CAP_SYS_ADMIN", "CAP_NET_ADMIN")
		c.Permitted = append(c.Permitted, "CAP_SYS_ADMIN", "CAP_NET_ADMIN")
		s.Linux.Seccomp = nil
	})
	b.SetArgs(t, "sh", "-c", "grep -E '^(CapBnd|Seccomp):' /proc/self/status")
	id := rt.NewID()
	out, errOut, exit := rt.Run("run", "--bundle", b.Dir, id)
	if exit != 0 {
		t.Fatalf("run: exit %d: %s", exit, errOut)
	}
	for _, w := range []string{"warning: container " + id + ": requested CAP_SYS_ADMIN, CAP_NET_ADMIN dropped", `"allowCapabilities": ["CAP_SYS_ADMIN", "CAP_NET_ADMIN"]`, "seccomp unconfined requested"} {
		if !strings.Contains(errOut, w) {
			t.Errorf("stderr lacks %q:\n%s", w, errOut)
		}
	}
	if !strings.Contains(out, "Seccomp:\t2") {
		t.Errorf("no seccomp filter inside: %q", out)
	}
	// CAP_SYS_ADMIN is bit 21, CAP_NET_ADMIN bit 12.
	for _, l := range strings.Split(out, "\n") {
		if hex, ok := strings.CutPrefix(l, "CapBnd:\t"); ok {
			var v uint64
			for _, c := range hex {
				v = v<<4 | uint64(strings.IndexRune("0123456789abcdef", c))
			}
			if v&(1<<21|1<<12) != 0 {
				t.Errorf("CapBnd %s keeps SYS_ADMIN or NET_ADMIN", hex)
			}
		}
	}
	r := recordsFor(t, rt.Audit, id, "create")
	if len(r.Warnings) != 2 || r.Warnings[0].Rule != "capabilities" || r.Warnings[1].Rule != "seccomp" {
		t.Errorf("record warnings %+v, want capabilities and seccomp", r.Warnings)
	}
}

// TestRecordsCallerSeccompKept: a caller's profile that allows by default
// and denies mkdir (stricter than Docker's about mkdir) keeps that denial
// inside the container; Docker's default still applies to the rest.
func TestRecordsCallerSeccompKept(t *testing.T) {
	rt := testutil.NewRuntime(t)
	b := testutil.NewBundle(t)
	b.Edit(t, func(s *specs.Spec) {
		s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno},
		}}
	})
	out, _ := runInside(t, rt, b, "mkdir /tmp/d 2>/dev/null && echo MKDIR; unshare -U true 2>/dev/null && echo UNSHARE; echo done")
	if strings.TrimSpace(out) != "done" {
		t.Errorf("inside: %q, want mkdir denied (caller's profile) and unshare denied (policy)", out)
	}
	control := testutil.NewBundle(t)
	if out, _ := runInside(t, rt, control, "mkdir /tmp/d && echo MKDIR"); !strings.Contains(out, "MKDIR") {
		t.Errorf("control without the caller's profile: %q, want mkdir to work", out)
	}
}

// TestRecordsAuditLogKey: the "auditLog" key moves the record; with
// "path": "" no file is written. HARDENED_AUDIT_LOG (which the harness
// sets) is removed from the environment so that the key is what counts.
func TestRecordsAuditLogKey(t *testing.T) {
	rt := testutil.NewRuntime(t)
	dir := t.TempDir()
	moved := dir + "/moved/audit.log"
	env := slices.DeleteFunc(os.Environ(), func(e string) bool { return strings.HasPrefix(e, "HARDENED_AUDIT_LOG=") })
	for _, tc := range []struct {
		policy string
		want   int
	}{
		{`{"auditLog": {"path": "` + moved + `", "journal": false}}`, 1},
		{`{"auditLog": {"path": "", "journal": false}}`, 0},
	} {
		flag, _ := testutil.WritePolicy(t, tc.policy)
		b := testutil.NewBundle(t, "true")
		id := rt.NewID()
		cmd := rt.Command(context.Background(), flag, "run", "--bundle", b.Dir, id)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v: %s", tc.policy, err, out)
		}
		n := 0
		for _, r := range recordsRead(t, moved) {
			if r.ID == id {
				n++
			}
		}
		if n != tc.want {
			t.Errorf("%s: %d records of %s in %s, want %d", tc.policy, n, id, moved, tc.want)
		}
	}
	if recs := recordsRead(t, rt.Audit); len(recs) != 0 {
		t.Errorf("HARDENED_AUDIT_LOG's file got %d records without the variable", len(recs))
	}
}

// TestRecordsListKeysAdd: a policy's list adds to the default list: with
// "writablePaths": ["/srv"], /tmp stays writable and /srv becomes so;
// "denySyscalls": ["mkdir", "mkdirat"] denies mkdir on top of the default
// list, which the effective policy still holds. "replace" makes the
// file's list the whole list.
func TestRecordsListKeysAdd(t *testing.T) {
	rt := testutil.NewRuntime(t)
	b := testutil.NewBundle(t)
	if err := os.MkdirAll(b.Rootfs+"/srv", 0o755); err != nil {
		t.Fatal(err)
	}
	probe := "touch /tmp/a 2>/dev/null && echo TMP; touch /srv/a 2>/dev/null && echo SRV; mkdir /tmp/d 2>/dev/null && echo MKDIR; echo end"
	for _, tc := range []struct {
		policy, want string
		deny         []string // in the effective denySyscalls
	}{
		{`{}`, "TMP MKDIR end", []string{"keyctl"}},
		{`{"writablePaths": ["/srv"], "denySyscalls": ["mkdir", "mkdirat"]}`, "TMP SRV end", []string{"keyctl", "io_uring_setup", "mkdir"}},
		{`{"replace": ["writablePaths"], "writablePaths": ["/srv"]}`, "SRV end", []string{"keyctl"}},
	} {
		flag, _ := testutil.WritePolicy(t, tc.policy)
		out, exit := runInside(t, rt, b, probe, flag)
		if got := strings.Join(strings.Fields(out), " "); exit != 0 || got != tc.want {
			t.Errorf("policy %s: exit %d, inside %q, want %q", tc.policy, exit, got, tc.want)
		}
		var eff struct {
			DenySyscalls []string `json:"denySyscalls"`
		}
		if err := json.Unmarshal([]byte(rt.MustRun(flag, "policy")), &eff); err != nil {
			t.Fatal(err)
		}
		for _, d := range tc.deny {
			if !slices.Contains(eff.DenySyscalls, d) {
				t.Errorf("policy %s: effective denySyscalls %v lack %s", tc.policy, eff.DenySyscalls, d)
			}
		}
	}
}

// TestRecordsInjection: annotations crafted to forge audit lines (a
// newline and a fake record in a name) stay inside one JSON string; a
// symlink planted at the audit log's path is not followed.
func TestRecordsInjection(t *testing.T) {
	rt := testutil.NewRuntime(t)
	b := testutil.NewBundle(t, "true")
	forged := "web\n{\"event\":\"create\",\"id\":\"forged\",\"mode\":\"off\"}\n"
	b.Edit(t, func(s *specs.Spec) { s.Annotations = map[string]string{"nerdctl/name": forged} })
	id := rt.NewID()
	if _, errOut, exit := rt.Run("run", "--bundle", b.Dir, id); exit != 0 {
		t.Fatalf("run: %d %s", exit, errOut)
	}
	recs := recordsRead(t, rt.Audit) // fails on a line that is no record
	if len(recs) != 1 || recs[0].ID != id || recs[0].Name != forged {
		t.Errorf("records %+v: want one, of %s, with the name as given", recs, id)
	}

	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("keep\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rt2 := testutil.NewRuntime(t)
	if err := os.Symlink(victim, rt2.Audit); err != nil {
		t.Fatal(err)
	}
	b2 := testutil.NewBundle(t, "true")
	rt2.RunIn(t, b2)
	if data, _ := os.ReadFile(victim); string(data) != "keep\n" {
		t.Errorf("the audit record was written through a symlink: %q", data)
	}
	found := false
	for _, e := range rt2.LogEntries() {
		found = found || (e.Level == "warning" && strings.Contains(e.Msg, "audit log"))
	}
	if !found {
		t.Error("no warning that the audit log could not be written")
	}
}
