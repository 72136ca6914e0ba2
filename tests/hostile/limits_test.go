package hostile

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// limitsPidsMax is the script that prints the container's pids limit as
// its cgroup shows it from inside (cgroup v1 pids controller or v2).
const limitsPidsMax = `cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max`

// limitsSetPids sets linux.resources.pids.limit.
func limitsSetPids(s *specs.Spec, limit int64) {
	if s.Linux.Resources == nil {
		s.Linux.Resources = &specs.LinuxResources{}
	}
	s.Linux.Resources.Pids = &specs.LinuxPids{Limit: &limit}
}

// TestLimitsPidsCeiling: a caller's pids limit above the policy's, or
// "unlimited", becomes the policy's; a lower one is kept. Checked from
// inside, in the container's own pids cgroup.
func TestLimitsPidsCeiling(t *testing.T) {
	for _, tc := range []struct {
		name   string
		limit  int64
		policy string
		want   string
	}{
		{"a million lowered to the default 4096", 1000000, "", "4096"},
		{"-1 (unlimited) becomes 4096", -1, "", "4096"},
		{"0 (unlimited) becomes 4096", 0, "", "4096"},
		{"above a policy's pidsLimit lowered to it", 300, `{"pidsLimit": 200}`, "200"},
		{"a lower limit is kept", 100, "", "100"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := testutil.NewRuntime(t)
			b := testutil.NewBundle(t)
			b.Edit(t, func(s *specs.Spec) { limitsSetPids(s, tc.limit) })
			global := testutil.PolicyFlags(t, tc.policy)
			out, exit := runInside(t, rt, b, limitsPidsMax, global...)
			if exit != 0 || strings.TrimSpace(out) != tc.want {
				t.Fatalf("pids.max inside = %q (exit %d), want %s", out, exit, tc.want)
			}
		})
	}
}

// limitsDetached starts the bundle running `sleep 1000` in the background
// and returns its ID; the runtime's cleanup removes it.
func limitsDetached(t *testing.T, rt *testutil.Runtime, b *testutil.Bundle, global ...string) string {
	t.Helper()
	b.SetArgs(t, "sleep", "1000")
	id := rt.NewID()
	args := append(append([]string{}, global...), "run", "--detach", "--bundle", b.Dir, id)
	rt.MustRun(args...)
	t.Cleanup(func() { rt.Run("delete", "--force", id) })
	return id
}

// limitsPidsInside reads the running container's pids limit through exec.
func limitsPidsInside(t *testing.T, rt *testutil.Runtime, id string) string {
	t.Helper()
	return strings.TrimSpace(rt.MustRun("exec", id, "sh", "-c", limitsPidsMax))
}

// TestLimitsUpdatePids: `update` cannot lift the pids limit the policy
// set at create, whether by flag or by containerd's JSON on stdin.
func TestLimitsUpdatePids(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		stdin  string
		policy string
		want   string
	}{
		{"--pids-limit 100000 lowered to 4096", []string{"--pids-limit", "100000"}, "", "", "4096"},
		{"--pids-limit -1 becomes 4096", []string{"--pids-limit", "-1"}, "", "", "4096"},
		{"--pids-limit 0 becomes 4096", []string{"--pids-limit", "0"}, "", "", "4096"},
		{"--resources - with pids 2^40 lowered", []string{"--resources", "-"}, `{"pids":{"limit":1099511627776}}`, "", "4096"},
		{"--resources - with unlimited pids", []string{"--resources", "-"}, `{"pids":{"limit":-1}}`, "", "4096"},
		{"the policy file's pidsLimit holds at update", []string{"--pids-limit", "5000"}, "", `{"pidsLimit": 250}`, "250"},
		{"a lower limit is applied", []string{"--pids-limit", "50"}, "", "", "50"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := testutil.NewRuntime(t)
			b := testutil.NewBundle(t)
			global := testutil.PolicyFlags(t, tc.policy)
			id := limitsDetached(t, rt, b, global...)
			args := append(append(append([]string{}, global...), "update"), tc.args...)
			args = append(args, id)
			var in *strings.Reader
			if tc.stdin != "" {
				in = strings.NewReader(tc.stdin)
			}
			out, errOut, exit := rt.RunInput(readerOrNil(in), args...)
			if exit != 0 {
				t.Fatalf("update: exit %d\n%s%s", exit, out, errOut)
			}
			if got := limitsPidsInside(t, rt, id); got != tc.want {
				t.Fatalf("pids.max after update = %q, want %s", got, tc.want)
			}
		})
	}
}

// TestLimitsUpdateDevicesRefused: `update --resources` with device rules
// the policy refuses at create fails, naming the rule and the key, and
// the container keeps its limits.
func TestLimitsUpdateDevicesRefused(t *testing.T) {
	for _, tc := range []struct {
		name  string
		stdin string
		want  []string
	}{
		{"allow-all (privileged)", `{"devices":[{"allow":true,"access":"rwm"}],"pids":{"limit":-1}}`,
			[]string{"device cgroup allows a *:* rwm", "rule host-devices", `"allowDevices": ["a *:*"]`}},
		{"every block device readable", `{"devices":[{"allow":true,"type":"b","major":8,"access":"rw"}]}`,
			[]string{"device cgroup allows b 8:* rw", "rule host-devices", `"allowDevices": ["b 8:*"]`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := testutil.NewRuntime(t)
			b := testutil.NewBundle(t)
			id := limitsDetached(t, rt, b)
			_, errOut, exit := rt.RunInput(strings.NewReader(tc.stdin), "update", "--resources", "-", id)
			if exit == 0 {
				t.Fatal("update with refused device rules: exit 0")
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
			if got := limitsPidsInside(t, rt, id); got != "4096" {
				t.Errorf("pids.max after the refused update = %q, want 4096", got)
			}
		})
	}
}

// TestLimitsOOMScoreAdj: a negative oomScoreAdj (the OOM killer would
// spare the container and kill host daemons) is raised to the policy's
// minimum, and never below what the kernel lets the runtime set (these
// hosts lack CAP_SYS_RESOURCE): the container runs instead of failing in
// libcontainer. Checked from inside.
func TestLimitsOOMScoreAdj(t *testing.T) {
	own, err := limitsOwnOOMScoreAdj()
	if err != nil {
		t.Skip(err)
	}
	floor := min(own, 0)
	for _, tc := range []struct {
		name   string
		adj    int
		policy string
		want   int
	}{
		{"-1000 raised to 0", -1000, "", 0},
		{"-1 raised to 0", -1, "", 0},
		{"500 kept", 500, "", 500},
		{"policy allows -500, the kernel's floor still holds", -500, `{"minOomScoreAdj": -1000}`, max(-500, floor)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := testutil.NewRuntime(t)
			b := testutil.NewBundle(t)
			b.Edit(t, func(s *specs.Spec) { s.Process.OOMScoreAdj = &tc.adj })
			global := testutil.PolicyFlags(t, tc.policy)
			out, exit := runInside(t, rt, b, "cat /proc/self/oom_score_adj", global...)
			if exit != 0 || strings.TrimSpace(out) != strconv.Itoa(tc.want) {
				t.Fatalf("oom_score_adj inside = %q (exit %d), want %d", out, exit, tc.want)
			}
		})
	}
}

// TestLimitsRlimits: hard rlimits above the runtime's own (which the
// kernel refuses to raise without CAP_SYS_RESOURCE) are lowered to it,
// and the soft ones with them; the container runs. Checked from inside.
func TestLimitsRlimits(t *testing.T) {
	var nofile unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &nofile); err != nil {
		t.Fatal(err)
	}
	if nofile.Max >= 1<<30 {
		t.Skipf("hard RLIMIT_NOFILE %d: nothing above it to ask for", nofile.Max)
	}
	hard := strconv.FormatUint(nofile.Max, 10)
	for _, tc := range []struct {
		name       string
		rlimit     specs.POSIXRlimit
		hard, soft string
	}{
		{"NOFILE hard 2^30 lowered to the host's", specs.POSIXRlimit{Type: "RLIMIT_NOFILE", Hard: 1 << 30, Soft: 1024}, hard, "1024"},
		{"NOFILE soft and hard 2^30 both lowered", specs.POSIXRlimit{Type: "RLIMIT_NOFILE", Hard: 1 << 30, Soft: 1 << 30}, hard, hard},
		{"NOFILE within the host's kept", specs.POSIXRlimit{Type: "RLIMIT_NOFILE", Hard: 512, Soft: 256}, "512", "256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := testutil.NewRuntime(t)
			b := testutil.NewBundle(t)
			b.Edit(t, func(s *specs.Spec) { s.Process.Rlimits = []specs.POSIXRlimit{tc.rlimit} })
			out, exit := runInside(t, rt, b, "ulimit -Hn; ulimit -Sn")
			want := tc.hard + "\n" + tc.soft
			if exit != 0 || strings.TrimSpace(out) != want {
				t.Fatalf("hard/soft NOFILE inside = %q (exit %d), want %q", out, exit, want)
			}
		})
	}
}

// TestLimitsExecRlimits: an exec'd process's rlimits (containerd's
// --process file) get the same ceiling as the init's.
func TestLimitsExecRlimits(t *testing.T) {
	var nofile unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &nofile); err != nil {
		t.Fatal(err)
	}
	if nofile.Max >= 1<<30 {
		t.Skipf("hard RLIMIT_NOFILE %d: nothing above it to ask for", nofile.Max)
	}
	rt := testutil.NewRuntime(t)
	b := testutil.NewBundle(t)
	id := limitsDetached(t, rt, b)
	proc := fmt.Sprintf(`{"args":["sh","-c","ulimit -Hn"],"cwd":"/","env":["PATH=/bin"],"rlimits":[{"type":"RLIMIT_NOFILE","hard":%d,"soft":%d}]}`, 1<<30, 1<<30)
	path := limitsWriteFile(t, "process.json", proc)
	out, errOut, exit := rt.Run("exec", "--process", path, id)
	if exit != 0 || strings.TrimSpace(out) != strconv.FormatUint(nofile.Max, 10) {
		t.Fatalf("exec: hard NOFILE %q (exit %d, stderr %s), want %d", out, exit, errOut, nofile.Max)
	}
}

// readerOrNil turns a nil *strings.Reader into a nil io.Reader (stdin
// from /dev/null).
func readerOrNil(r *strings.Reader) io.Reader {
	if r == nil {
		return nil
	}
	return r
}

// limitsOwnOOMScoreAdj is this process's oom_score_adj, which the runtime
// it starts inherits.
func limitsOwnOOMScoreAdj() (int, error) {
	b, err := os.ReadFile("/proc/self/oom_score_adj")
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// limitsWriteFile writes a file in a fresh temporary directory.
func limitsWriteFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
