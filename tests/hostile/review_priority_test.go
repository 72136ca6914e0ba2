package hostile

import (
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// reviewPriorityScript prints the process's nice value, scheduling policy
// (fields 19 and 41 of /proc/self/stat) and I/O class.
const reviewPriorityScript = `set -- $(cat /proc/self/stat); echo "nice=${19} policy=${41}"; ionice -p $$`

// TestReviewPriorityAsHostRoot: libcontainer sets process.scheduler and
// process.ioPriority while the process still holds the runtime's
// privileges. With user namespaces off a config.json got a nice of -20
// and the real-time I/O class (which the container's own capabilities
// would not allow) and could starve the host's daemons: inside, nice was
// -20 and ionice said "realtime". Now the process-priority rule lowers
// them to nice 0, SCHED_OTHER and best-effort, at create and for exec'd
// processes alike; checked from inside.
func TestReviewPriorityAsHostRoot(t *testing.T) {
	off, _ := testutil.WritePolicy(t, `{"userNamespace": {"enabled": false}}`)
	check := func(t *testing.T, out string) {
		t.Helper()
		if !strings.Contains(out, "nice=0 policy=0") || strings.Contains(out, "realtime") {
			t.Errorf("priority inside: %q, want nice=0 policy=0, not realtime", out)
		}
	}
	rt := testutil.NewRuntime(t)
	b := testutil.NewBundle(t)
	b.Edit(t, func(s *specs.Spec) {
		reviewUsernsOff(s)
		s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedOther, Nice: -20}
		s.Process.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_RT, Priority: 0}
	})
	t.Run("create", func(t *testing.T) {
		out, exit := runInside(t, rt, b, reviewPriorityScript, off)
		if exit != 0 {
			t.Fatalf("exit %d: %s", exit, out)
		}
		check(t, out)
	})
	t.Run("exec", func(t *testing.T) {
		b.Edit(t, func(s *specs.Spec) { s.Process.Scheduler, s.Process.IOPriority = nil, nil })
		id := limitsDetached(t, rt, b, off)
		proc := `{"args":["sh","-c",` + strconv.Quote(reviewPriorityScript) + `],"cwd":"/","env":["PATH=/bin"],` +
			`"scheduler":{"policy":"SCHED_OTHER","nice":-20},"ioPriority":{"class":"IOPRIO_CLASS_RT","priority":0}}`
		out, errOut, exit := rt.Run(off, "exec", "--process", limitsWriteFile(t, "process.json", proc), id)
		if exit != 0 {
			t.Fatalf("exec: exit %d: %s", exit, errOut)
		}
		check(t, out)
	})
	t.Run("a real-time policy", func(t *testing.T) {
		b.Edit(t, func(s *specs.Spec) {
			s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedFIFO, Priority: 99}
		})
		out, exit := runInside(t, rt, b, reviewPriorityScript, off)
		if exit != 0 {
			t.Fatalf("exit %d: %s", exit, out)
		}
		check(t, out)
	})
}
