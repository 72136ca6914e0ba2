package integration

// Policy modes and what the user sees besides the container: audit and
// off, config.json.orig and hardening twice, `explain`, `policy`, and
// policy files that cannot be used.

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// exampleCaps are the capabilities runc's specconv.Example() asks for.
var exampleCaps = []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}

// statusAndRootWrite makes the bundle print its /proc/self/status, then
// "---", then the probe's answer to a write to /.
func statusAndRootWrite(t *testing.T, b *testutil.Bundle) {
	t.Helper()
	probe := installProbe(t, b)
	b.Edit(t, func(s *specs.Spec) {
		s.Process.Args = []string{"sh", "-c", "cat /proc/self/status; echo ---; " + probe + " write=/rootfile"}
		s.Process.NoNewPrivileges = false
		s.Root.Readonly = false
	})
}

// checkPlainProcess checks that the container ran as the caller asked:
// the example's capabilities, NoNewPrivs off, no seccomp, a writable /.
func checkPlainProcess(t *testing.T, out string) {
	t.Helper()
	sections := splitSections(out)
	if len(sections) != 2 {
		t.Fatalf("output %q: want status, ---, probe", out)
	}
	st := procStatus(t, sections[0])
	m := capMask(t, exampleCaps...)
	for _, set := range []string{"CapBnd", "CapPrm", "CapEff"} {
		if st[set] != m {
			t.Errorf("%s = %s %s, want the caller's %s %s", set, st[set], capNames(st[set]), m, capNames(m))
		}
	}
	if st["NoNewPrivs"] != "0" || st["Seccomp"] != "0" {
		t.Errorf("NoNewPrivs %q Seccomp %q, want the caller's 0 and 0", st["NoNewPrivs"], st["Seccomp"])
	}
	if got := probeResults(t, sections[1])["write=/rootfile"]; got != "OK" {
		t.Errorf("write to / = %s, want OK (the caller's writable rootfs)", got)
	}
}

// checkConfigUntouched checks config.json holds want and that no
// config.json.orig was written.
func checkConfigUntouched(t *testing.T, b *testutil.Bundle, want []byte) {
	t.Helper()
	got, err := os.ReadFile(b.ConfigPath())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("config.json was rewritten:\n%s", got)
	}
	if _, err := os.Stat(filepath.Join(b.Dir, "config.json.orig")); !os.IsNotExist(err) {
		t.Errorf("config.json.orig written (stat: %v)", err)
	}
}

func TestHardeningAuditMode(t *testing.T) {
	rt := testutil.NewRuntime(t)
	flag, _ := testutil.WritePolicy(t, `{"mode": "audit"}`)
	b := testutil.NewBundle(t)
	statusAndRootWrite(t, b)
	// Something enforce would refuse: a device node of no real device
	// (its numbers, rule host-devices, and its path, rule device-nodes).
	b.Edit(t, func(s *specs.Spec) {
		s.Linux.Devices = append(s.Linux.Devices, specs.LinuxDevice{Path: "/dev/nothing", Type: "c", Major: 1, Minor: 99})
	})
	caller, err := os.ReadFile(b.ConfigPath())
	if err != nil {
		t.Fatal(err)
	}
	id := rt.NewID()
	out, errOut, code := rt.Run(flag, "run", "--bundle", b.Dir, id)
	if code != 0 {
		t.Fatalf("audit mode: run exit %d: %s%s", code, out, errOut)
	}
	checkPlainProcess(t, out)
	checkConfigUntouched(t, b, caller)
	lines := hardenedLogLines(t, rt, id)
	if len(lines) != 1 {
		t.Fatalf("log has %d \"hardened: \" lines for %s, want 1: %v", len(lines), id, rawLogLines(t, rt))
	}
	l := lines[0]
	msg, _ := l["msg"].(string)
	if l["policy_mode"] != "audit" || l["level"] != "info" {
		t.Errorf("audit log line %v: want policy_mode audit at level info", l)
	}
	for _, w := range []string{"capabilities: process.capabilities.bounding", "no-new-privileges: process.noNewPrivileges", "seccomp: linux.seccomp", "readonly-rootfs: root.readonly",
		// Audit mode names each would-be refusal as enforce mode does.
		`(2 refused: host device /dev/nothing (c 1:99) (rule host-devices, allow with "allowDevices": ["c 1:99"]); `} {
		if !strings.Contains(msg, w) {
			t.Errorf("audit log line %q lacks %q", msg, w)
		}
	}
}

func TestHardeningOffMode(t *testing.T) {
	rt := testutil.NewRuntime(t)
	flag, _ := testutil.WritePolicy(t, `{"mode": "off"}`)
	b := testutil.NewBundle(t)
	statusAndRootWrite(t, b)
	caller, err := os.ReadFile(b.ConfigPath())
	if err != nil {
		t.Fatal(err)
	}
	id := rt.NewID()
	out := rt.RunIn(t, b, flag)
	checkPlainProcess(t, out)
	checkConfigUntouched(t, b, caller)
	if lines := hardenedLogLines(t, rt, id); len(lines) != 0 {
		t.Errorf("off mode logged %v", lines)
	}
}

// The caller's bytes stay in config.json.orig; config.json holds the
// hardened config; a second create of the same bundle (new ID, after the
// first is gone) changes nothing more.
func TestHardeningConfigOrigAndIdempotence(t *testing.T) {
	rt := testutil.NewRuntime(t)
	b := testutil.NewBundle(t, "true")
	b.Edit(t, func(s *specs.Spec) {
		s.Process.NoNewPrivileges = false
		s.Root.Readonly = false
		s.Linux.MaskedPaths = nil
	})
	caller, err := os.ReadFile(b.ConfigPath())
	if err != nil {
		t.Fatal(err)
	}
	origPath := filepath.Join(b.Dir, "config.json.orig")

	id1 := rt.NewID()
	rt.MustRun("create", "--bundle", b.Dir, id1)
	rt.MustRun("delete", "--force", id1)
	orig, err := os.ReadFile(origPath)
	if err != nil {
		t.Fatalf("config.json.orig: %v", err)
	}
	if !bytes.Equal(orig, caller) {
		t.Errorf("config.json.orig differs from the caller's config.json:\n%s", orig)
	}
	hardened, err := os.ReadFile(b.ConfigPath())
	if err != nil {
		t.Fatal(err)
	}
	s := readSpec(t, b.ConfigPath())
	switch {
	case !slices.Equal(s.Process.Capabilities.Bounding, intersect(exampleCaps, baselineCaps())):
		t.Errorf("hardened bounding %v", s.Process.Capabilities.Bounding)
	case !s.Process.NoNewPrivileges || !s.Root.Readonly:
		t.Errorf("hardened noNewPrivileges %v root.readonly %v, want true true", s.Process.NoNewPrivileges, s.Root.Readonly)
	case s.Linux.Seccomp == nil || s.Linux.Seccomp.DefaultAction != specs.ActErrno:
		t.Errorf("hardened seccomp %+v, want a profile with defaultAction errno", s.Linux.Seccomp)
	case s.Linux.Resources.Pids == nil || s.Linux.Resources.Pids.Limit == nil || *s.Linux.Resources.Pids.Limit != 4096:
		t.Errorf("hardened pids %+v, want limit 4096", s.Linux.Resources.Pids)
	case !slices.Contains(s.Linux.MaskedPaths, "/proc/keys"):
		t.Errorf("hardened maskedPaths %v", s.Linux.MaskedPaths)
	}
	if l := hardenedLogLines(t, rt, id1); len(l) != 1 || l[0]["msg"] == "hardened: no changes" {
		t.Errorf("first create: log lines %v, want one listing the changes", l)
	}

	id2 := rt.NewID()
	rt.MustRun("create", "--bundle", b.Dir, id2)
	rt.MustRun("delete", "--force", id2)
	if again, _ := os.ReadFile(b.ConfigPath()); !bytes.Equal(again, hardened) {
		t.Errorf("hardening a hardened config.json changed it again:\nfirst  %s\nsecond %s", hardened, again)
	}
	if orig2, _ := os.ReadFile(origPath); !bytes.Equal(orig2, caller) {
		t.Errorf("after the second create config.json.orig is no longer the caller's original:\n%s", orig2)
	}
	if l := hardenedLogLines(t, rt, id2); len(l) != 1 || l[0]["msg"] != "hardened: no changes" {
		t.Errorf("second create: log lines %v, want one saying \"hardened: no changes\"", l)
	}
}

// Hardening twice changes nothing for configs beyond the example too: a
// caller's own seccomp profile, caller mounts at and below state paths,
// Docker's capabilities, an exception's annotation.
func TestHardeningTwiceChangesNothing(t *testing.T) {
	rt := testutil.NewRuntime(t)
	flag, _ := testutil.WritePolicy(t, `{"exceptions": [{"match": {"io.kubernetes.pod.namespace": "kube-system"}, "allow": {"allowCapabilities": ["NET_RAW"]}}]}`)
	for _, tc := range []struct {
		name  string
		tweak func(t *testing.T, s *specs.Spec)
	}{
		{"caller-seccomp-profile", func(t *testing.T, s *specs.Spec) {
			s.Linux.Seccomp = callerProfileAllowingKeyctl(t, s.Process.Capabilities)
		}},
		{"caller-mounts", func(t *testing.T, s *specs.Spec) {
			s.Mounts = append(s.Mounts,
				specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev"}},
				specs.Mount{Destination: "/var/lib/data", Type: "bind", Source: t.TempDir(), Options: []string{"rbind", "rw"}})
		}},
		{"docker-caps-with-exception", func(_ *testing.T, s *specs.Spec) {
			setAllCapSets(s.Process, dockerDefaultCaps())
			s.Annotations = map[string]string{"io.kubernetes.pod.namespace": "kube-system"}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := testutil.NewBundle(t, "true")
			if err := os.MkdirAll(filepath.Join(b.Rootfs, "var/lib/data"), 0o755); err != nil {
				t.Fatal(err)
			}
			b.Edit(t, func(s *specs.Spec) { tc.tweak(t, s) })
			caller, _ := os.ReadFile(b.ConfigPath())
			id1 := rt.NewID()
			rt.MustRun(flag, "create", "--bundle", b.Dir, id1)
			rt.MustRun("delete", "--force", id1)
			first, _ := os.ReadFile(b.ConfigPath())
			id2 := rt.NewID()
			rt.MustRun(flag, "create", "--bundle", b.Dir, id2)
			rt.MustRun("delete", "--force", id2)
			second, _ := os.ReadFile(b.ConfigPath())
			if !bytes.Equal(first, second) {
				t.Errorf("the second create rewrote the hardened config.json")
			}
			if orig, _ := os.ReadFile(filepath.Join(b.Dir, "config.json.orig")); !bytes.Equal(orig, caller) {
				t.Errorf("config.json.orig is not the caller's original after two creates")
			}
			if l := hardenedLogLines(t, rt, id2); len(l) != 1 || l[0]["msg"] != "hardened: no changes" {
				t.Errorf("second create: log lines %v, want one saying \"hardened: no changes\"", l)
			}
		})
	}
}

// explainReport is the JSON of `explain --format json`.
type explainReport struct {
	Mode    string `json:"mode"`
	Level   string `json:"level"`
	Changes []struct {
		Rule string `json:"rule"`
		Path string `json:"path"`
	} `json:"changes"`
	Refusals []struct {
		Rule   string `json:"rule"`
		Reason string `json:"reason"`
		Allow  string `json:"allow"`
	} `json:"refusals"`
}

func explainJSON(t *testing.T, rt *testutil.Runtime, wantExit int, args ...string) explainReport {
	t.Helper()
	out, errOut, code := rt.Run(args...)
	if code != wantExit {
		t.Errorf("%v: exit %d, want %d\nstdout %s\nstderr %s", args, code, wantExit, out, errOut)
	}
	var r explainReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v: output is not JSON: %v\n%s", args, err, out)
	}
	return r
}

func TestHardeningExplain(t *testing.T) {
	rt := testutil.NewRuntime(t)

	t.Run("runs", func(t *testing.T) {
		b := testutil.NewBundle(t, "true")
		caller, _ := os.ReadFile(b.ConfigPath())
		out, errOut, code := rt.Run("explain", b.Dir)
		if code != 0 || !strings.Contains(out, "refused: nothing") || !strings.Contains(out, "capabilities: process.capabilities.bounding") {
			t.Errorf("explain (text): exit %d, want 0 with \"refused: nothing\" and the capability change\n%s%s", code, out, errOut)
		}
		r := explainJSON(t, rt, 0, "explain", "--format", "json", b.Dir)
		if r.Mode != "enforce" || r.Level != "baseline" || len(r.Refusals) != 0 {
			t.Errorf("explain json: mode %q level %q refusals %v, want enforce, baseline, none", r.Mode, r.Level, r.Refusals)
		}
		var rules []string
		for _, c := range r.Changes {
			rules = append(rules, c.Rule)
		}
		for _, want := range []string{"capabilities", "seccomp", "writable-paths", "pids-limit"} {
			if !slices.Contains(rules, want) {
				t.Errorf("explain json: changes by rules %v lack %s", rules, want)
			}
		}
		checkConfigUntouched(t, b, caller)
	})

	t.Run("refused", func(t *testing.T) {
		b := testutil.NewBundle(t, "true")
		b.Edit(t, func(s *specs.Spec) {
			withoutNamespace(s, specs.NetworkNamespace)
			blk, major, minor, ok := hostBlockDevice()
			if !ok {
				t.Skip("no block device under /dev")
			}
			s.Linux.Devices = append(s.Linux.Devices, specs.LinuxDevice{Path: blk, Type: "b", Major: major, Minor: minor})
		})
		caller, _ := os.ReadFile(b.ConfigPath())
		out, _, code := rt.Run("explain", b.Dir)
		if code != 1 || !strings.Contains(out, "host-namespaces: host network namespace") {
			t.Errorf("explain (text) of a refused bundle: exit %d, want 1 naming the refusal\n%s", code, out)
		}
		r := explainJSON(t, rt, 1, "explain", "--format", "json", b.Dir)
		var rules []string
		for _, f := range r.Refusals {
			rules = append(rules, f.Rule)
		}
		if !slices.Equal(rules, []string{"host-namespaces", "host-devices"}) {
			t.Errorf("explain json refusals by rule %v, want [host-namespaces host-devices]: %+v", rules, r.Refusals)
		}
		if len(r.Changes) == 0 {
			t.Errorf("explain json of a refused bundle lists no changes; it should also show what would change")
		}
		// Under an audit policy the same bundle would run.
		flag, _ := testutil.WritePolicy(t, `{"mode": "audit"}`)
		if r := explainJSON(t, rt, 0, flag, "explain", "--format", "json", b.Dir); r.Mode != "audit" || len(r.Refusals) != 2 {
			t.Errorf("explain under audit: mode %q, %d refusals; want audit and 2", r.Mode, len(r.Refusals))
		}
		checkConfigUntouched(t, b, caller)
	})
}

func TestHardeningPolicyCommand(t *testing.T) {
	rt := testutil.NewRuntime(t)
	var def map[string]any
	out := rt.MustRun("policy")
	if err := json.Unmarshal([]byte(out), &def); err != nil {
		t.Fatalf("policy: not JSON: %v\n%s", err, out)
	}
	if def["mode"] != "enforce" || def["level"] != "baseline" || def["pidsLimit"] != float64(4096) || def["readonlyRootfs"] != true {
		t.Errorf("default policy %v: want mode enforce, level baseline, pidsLimit 4096, readonlyRootfs true", def)
	}
	if deny, _ := def["denySyscalls"].([]any); !slices.Contains(deny, any("keyctl")) {
		t.Errorf("default denySyscalls %v lack keyctl", def["denySyscalls"])
	}

	// A file with one key: the rest keep their defaults.
	flag, _ := testutil.WritePolicy(t, `{"mode": "off"}`)
	var off map[string]any
	if err := json.Unmarshal([]byte(rt.MustRun(flag, "policy")), &off); err != nil {
		t.Fatal(err)
	}
	if off["mode"] != "off" || off["level"] != "baseline" || off["pidsLimit"] != float64(4096) {
		t.Errorf("policy {\"mode\": \"off\"}: %v, want mode off and the other keys at their defaults", off)
	}
}

// A policy that cannot be used stops everything: a clear error naming the
// file and the key, a non-zero exit, no container.
func TestHardeningBadPolicy(t *testing.T) {
	rt := testutil.NewRuntime(t)
	for _, tc := range []struct {
		name   string
		policy string // "" for a missing file
		want   []string
	}{
		{"unknown-key", `{"mode": "enforce", "allowCapabilites": ["NET_RAW"]}`, []string{`unknown key "allowCapabilites"`}},
		{"bad-level", `{"level": "strict"}`, []string{`key "level"`, `"strict"`}},
		{"bad-capability", `{"allowCapabilities": ["CAP_NOPE"]}`, []string{`key "allowCapabilities"`, `CAP_NOPE`}},
		{"trailing-data", `{"mode": "audit"} {"mode": "off"}`, []string{"trailing data"}},
		{"missing-file", "", []string{"no such file"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var flag, path string
			if tc.policy == "" {
				path = filepath.Join(t.TempDir(), "missing.json")
				flag = "--policy=" + path
			} else {
				flag, path = testutil.WritePolicy(t, tc.policy)
			}
			want := append([]string{"policy " + path, "invalid policy"}, tc.want...)
			out, errOut, code := rt.Run(flag, "policy")
			if code == 0 {
				t.Errorf("policy: exit 0 with a bad policy file\n%s", out)
			}
			for _, w := range want {
				if !strings.Contains(errOut, w) {
					t.Errorf("policy: stderr lacks %q: %s", w, errOut)
				}
			}
			b := testutil.NewBundle(t, "true")
			rt.ExpectRefused(t, b, []string{flag}, want...)
			// The same through HARDENED_POLICY.
			t.Setenv("HARDENED_POLICY", path)
			rt.ExpectRefused(t, b, nil, want...)
		})
	}
}
