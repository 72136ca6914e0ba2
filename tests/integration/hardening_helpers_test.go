package integration

// Helpers of the hardening tests (hardening_*_test.go): the syscall probe,
// policy files, reading /proc/self/status from inside a container, and the
// checks of a refused create as the user sees it.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/sys/capability"
	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// probeBinary holds the static probe (tests/probe) built once per test
// binary; each bundle gets a copy in its rootfs.
var probeBinary struct {
	once sync.Once
	data []byte
	err  error
}

// installProbe builds tests/probe statically (once) and writes it to
// <rootfs>/probe, mode 0755. It returns the path inside the container.
func installProbe(t *testing.T, b *testutil.Bundle) string {
	t.Helper()
	probeBinary.once.Do(func() {
		if path, err := testutil.Prebuilt("probe"); path != "" || err != nil {
			if err == nil {
				probeBinary.data, err = os.ReadFile(path)
			}
			probeBinary.err = err
			return
		}
		root, err := testutil.ModuleRoot()
		if err != nil {
			probeBinary.err = err
			return
		}
		dir, err := os.MkdirTemp("", "hardened-probe-")
		if err != nil {
			probeBinary.err = err
			return
		}
		defer os.RemoveAll(dir)
		out := filepath.Join(dir, "probe")
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", out, "./tests/probe")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if msg, err := cmd.CombinedOutput(); err != nil {
			probeBinary.err = fmt.Errorf("go build ./tests/probe: %w\n%s", err, msg)
			return
		}
		probeBinary.data, probeBinary.err = os.ReadFile(out)
	})
	if probeBinary.err != nil {
		t.Fatal(probeBinary.err)
	}
	if err := os.WriteFile(filepath.Join(b.Rootfs, "probe"), probeBinary.data, 0o755); err != nil {
		t.Fatal(err)
	}
	return "/probe"
}

// probeResults parses the probe's "<arg> <result>" lines.
func probeResults(t *testing.T, out string) map[string]string {
	t.Helper()
	res := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		arg, r, ok := strings.Cut(line, " ")
		if !ok {
			t.Fatalf("probe output line %q is not \"<arg> <result>\" (output %q)", line, out)
		}
		res[arg] = r
	}
	return res
}

// procStatus parses "Key:\tvalue" lines of /proc/<pid>/status.
func procStatus(t *testing.T, out string) map[string]string {
	t.Helper()
	st := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok {
			st[k] = strings.TrimSpace(v)
		}
	}
	if st["CapEff"] == "" {
		t.Fatalf("no CapEff in status output %q", out)
	}
	return st
}

// capMask returns the mask /proc/<pid>/status shows for the named
// capabilities ("CAP_KILL" or "KILL"), as 16 hex digits.
func capMask(t *testing.T, names ...string) string {
	t.Helper()
	var mask uint64
	for _, n := range names {
		c, ok := capByName(n)
		if !ok {
			t.Fatalf("unknown capability %q", n)
		}
		mask |= 1 << uint(c)
	}
	return fmt.Sprintf("%016x", mask)
}

func capByName(n string) (capability.Cap, bool) {
	n = strings.TrimPrefix(strings.ToUpper(n), "CAP_")
	for _, c := range capability.ListKnown() {
		if strings.ToUpper(c.String()) == n {
			return c, true
		}
	}
	return 0, false
}

// capNames lists the names in a /proc/<pid>/status mask, for messages.
func capNames(mask string) string {
	v, err := strconv.ParseUint(mask, 16, 64)
	if err != nil {
		return "?"
	}
	var names []string
	for _, c := range capability.ListKnown() {
		if v&(1<<uint(c)) != 0 {
			names = append(names, strings.ToUpper(c.String()))
		}
	}
	return "[" + strings.Join(names, " ") + "]"
}

// checkCapSets checks all five capability sets of a status: bounding,
// permitted and effective equal want, inheritable and ambient are empty.
func checkCapSets(t *testing.T, what string, st map[string]string, want ...string) {
	t.Helper()
	m := capMask(t, want...)
	zero := capMask(t)
	for _, set := range []struct{ key, want string }{
		{"CapBnd", m}, {"CapPrm", m}, {"CapEff", m}, {"CapInh", zero}, {"CapAmb", zero},
	} {
		if got := st[set.key]; got != set.want {
			t.Errorf("%s: %s = %s %s, want %s %s", what, set.key, got, capNames(got), set.want, capNames(set.want))
		}
	}
}

// allCaps returns every capability the kernel headers know, as CAP_ names.
func allCaps() []string {
	var out []string
	for _, c := range capability.ListKnown() {
		out = append(out, "CAP_"+strings.ToUpper(c.String()))
	}
	return out
}

// dockerDefaultCaps are the 14 capabilities Docker 20.10 grants by default.
func dockerDefaultCaps() []string {
	return []string{
		"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
		"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
		"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
	}
}

// setAllCapSets puts caps in all five sets of the process.
func setAllCapSets(p *specs.Process, caps []string) {
	p.Capabilities = &specs.LinuxCapabilities{
		Bounding:    append([]string(nil), caps...),
		Effective:   append([]string(nil), caps...),
		Permitted:   append([]string(nil), caps...),
		Inheritable: append([]string(nil), caps...),
		Ambient:     append([]string(nil), caps...),
	}
}

// baselineCaps is the default policy's allow-list (level baseline).
func baselineCaps() []string {
	return []string{
		"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID",
		"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_NET_BIND_SERVICE",
	}
}

// intersect returns the names of a that are also in b, in a's order.
func intersect(a, b []string) []string {
	var out []string
	for _, x := range a {
		for _, y := range b {
			if x == y {
				out = append(out, x)
				break
			}
		}
	}
	return out
}

// rawLogLines returns the log's lines decoded as JSON objects (all fields,
// not only level and msg).
func rawLogLines(t *testing.T, rt *testutil.Runtime) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(rt.Log)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log %s: line is not JSON: %q", rt.Log, line)
		}
		out = append(out, m)
	}
	return out
}

// hardenedLogLines returns the per-container "hardened: ..." log lines
// for id.
func hardenedLogLines(t *testing.T, rt *testutil.Runtime, id string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, m := range rawLogLines(t, rt) {
		msg, _ := m["msg"].(string)
		if m["id"] == id && strings.HasPrefix(msg, "hardened: ") {
			out = append(out, m)
		}
	}
	return out
}

// readSpec decodes a config.json-shaped file.
func readSpec(t *testing.T, path string) *specs.Spec {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return &s
}
