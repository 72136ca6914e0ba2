package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// expectFailure runs args and checks the failure the way containerd's shim
// sees it: a non-zero exit, a message on stderr, and a new last line in
// log.json with level "error" whose msg contains want (case-insensitive;
// "" accepts any message). It returns that msg.
func expectFailure(t *testing.T, rt *testutil.Runtime, want string, args ...string) string {
	t.Helper()
	before := len(rt.LogEntries())
	out, errOut, exit := rt.Run(args...)
	if exit == 0 {
		t.Errorf("%v: exit 0, want failure (stdout %q)", args, out)
		return ""
	}
	if strings.TrimSpace(errOut) == "" {
		t.Errorf("%v: exit %d with nothing on stderr", args, exit)
	}
	es := rt.LogEntries()
	if len(es) <= before {
		t.Errorf("%v: exit %d but no new line in %s", args, exit, rt.Log)
		return ""
	}
	last := es[len(es)-1]
	if last.Level != "error" || last.Msg == "" || last.Time == "" {
		t.Errorf("%v: last log line %+v, want level error with msg and time", args, last)
	}
	if !strings.Contains(strings.ToLower(last.Msg), strings.ToLower(want)) {
		t.Errorf("%v: log msg %q lacks %q", args, last.Msg, want)
	}
	return last.Msg
}

func TestErrorMissingBundle(t *testing.T) {
	rt := testutil.NewRuntime(t)
	missing := filepath.Join(t.TempDir(), "no-such-bundle")
	id := rt.NewID()
	expectFailure(t, rt, "", "create", "--bundle", missing, id)
	expectFailure(t, rt, "", "run", "--bundle", missing, rt.NewID())
	if _, err := rt.State(id); err == nil {
		t.Errorf("a failed create left container %s behind", id)
	}
	// A bundle directory without a rootfs.
	b := testutil.NewBundle(t, "true")
	if err := os.RemoveAll(b.Rootfs); err != nil {
		t.Fatal(err)
	}
	expectFailure(t, rt, "", "run", "--bundle", b.Dir, rt.NewID())
}

func TestErrorBadConfigJSON(t *testing.T) {
	rt := testutil.NewRuntime(t)
	b := testutil.NewBundle(t, "true")
	for _, bad := range []string{`{"ociVersion": "1.0.2", "process": `, `not json at all`, ``} {
		if err := os.WriteFile(b.ConfigPath(), []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		id := rt.NewID()
		expectFailure(t, rt, "", "create", "--bundle", b.Dir, id)
		if _, err := os.Stat(filepath.Join(rt.Root, id)); !os.IsNotExist(err) {
			t.Errorf("config %q: state directory left: %v", bad, err)
		}
	}
}

func TestErrorUnknownID(t *testing.T) {
	rt := testutil.NewRuntime(t)
	id := rt.NewID()
	// containerd's shim maps these texts to "not found".
	expectFailure(t, rt, "does not exist", "state", id)
	expectFailure(t, rt, "does not exist", "kill", id, "KILL")
	expectFailure(t, rt, "does not exist", "delete", id)
	expectFailure(t, rt, "does not exist", "start", id)
	expectFailure(t, rt, "does not exist", "exec", id, "true")
	expectFailure(t, rt, "does not exist", "pause", id)
	expectFailure(t, rt, "does not exist", "resume", id)
	expectFailure(t, rt, "does not exist", "ps", id)
	expectFailure(t, rt, "does not exist", "update", "--pids-limit", "10", id)
	expectFailure(t, rt, "does not exist", "events", "--stats", id)
}

func TestErrorKillStopped(t *testing.T) {
	rt := testutil.NewRuntime(t)
	b := testutil.NewBundle(t, "true")
	id := rt.NewID()
	rt.MustRun("run", "--detach", "--bundle", b.Dir, id)
	rt.WaitStatus(id, "stopped", 10*time.Second)
	expectFailure(t, rt, "not running", "kill", id, "KILL")
	rt.MustRun("delete", id)
}

func TestDuplicateCreate(t *testing.T) {
	rt := testutil.NewRuntime(t)
	first := testutil.NewBundle(t, "sleep", "1001")
	second := testutil.NewBundle(t, "sleep", "2000")
	id := rt.NewID()
	rt.MustRun("create", "--bundle", first.Dir, id)
	st := rt.MustState(id)

	expectFailure(t, rt, "", "create", "--bundle", second.Dir, id)
	expectFailure(t, rt, "", "run", "--detach", "--bundle", second.Dir, id)

	after := rt.MustState(id)
	if after.Pid != st.Pid || after.Bundle != first.Dir || after.Status != "created" {
		t.Fatalf("first container changed by the duplicate create: before %+v, after %+v", st, after)
	}
	rt.MustRun("start", id)
	rt.WaitStatus(id, "running", 5*time.Second)
	if got := procCmdline(after.Pid); got != "sleep 1001" {
		t.Errorf("init runs %q, want the first bundle's command", got)
	}
}

// TestConcurrentCreate races creates of one ID: exactly one wins and its
// container is intact.
func TestConcurrentCreate(t *testing.T) {
	// runc 1.1's libcontainer checks the state directory with stat and then
	// MkdirAll: two creates can both pass, and the loser's cleanup removes
	// the winner's state, orphaning a running init and its cgroups (seen
	// here about one run in two). libcontainer 1.2+ uses an atomic Mkdir.
	testutil.SkipOnOldRunc(t, "concurrent creates of one ID can orphan the winner")
	rt := testutil.NewRuntime(t)
	id := rt.NewID()
	const n = 6
	bundles := make([]*testutil.Bundle, n)
	for i := range bundles {
		bundles[i] = testutil.NewBundle(t, "sleep", "1000")
	}
	exits := make([]int, n)
	var wg sync.WaitGroup
	for i := range bundles {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, _, exits[i] = rt.Run("create", "--bundle", bundles[i].Dir, id)
		}(i)
	}
	wg.Wait()
	winner := -1
	for i, e := range exits {
		if e == 0 {
			if winner >= 0 {
				t.Fatalf("creates %d and %d of %s both succeeded", winner, i, id)
			}
			winner = i
		}
	}
	if winner < 0 {
		t.Fatalf("all %d concurrent creates failed: %v", n, exits)
	}
	st := rt.MustState(id)
	if st.Status != "created" || st.Bundle != bundles[winner].Dir {
		t.Fatalf("state %+v, want created from %s", st, bundles[winner].Dir)
	}
	rt.MustRun("start", id)
	rt.WaitStatus(id, "running", 5*time.Second)
}

// TestConcurrentCommands runs state, exec, ps, events, pause/resume and
// kill 0 on one container at once; every state read must be whole and the
// container usable afterwards.
func TestConcurrentCommands(t *testing.T) {
	rt := testutil.NewRuntime(t)
	id, _ := startDetached(t, rt, sleeper...)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var bad []string
	report := func(format string, args ...any) {
		mu.Lock()
		bad = append(bad, strings.TrimSpace(sprintf(format, args...)))
		mu.Unlock()
	}
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				switch (w + i) % 5 {
				case 0, 1:
					st, err := rt.State(id)
					if err != nil || st.ID != id || (st.Status != "running" && st.Status != "paused") {
						report("state: %+v %v", st, err)
					}
				case 2:
					rt.Run("exec", id, "true") // may fail while paused
				case 3:
					rt.Run("ps", id)
					rt.Run("kill", id, "0")
				case 4:
					if w == 0 {
						rt.Run("pause", id)
						rt.Run("resume", id)
					} else {
						rt.Run("events", "--stats", id)
					}
				}
			}
		}(w)
	}
	wg.Wait()
	for _, b := range bad {
		t.Error(b)
	}
	st := rt.MustState(id)
	if st.Status == "paused" {
		rt.MustRun("resume", id)
	}
	if out := rt.MustRun("exec", id, "echo", "ok"); out != "ok\n" {
		t.Errorf("exec after the storm: %q", out)
	}
	// Racing kill, state and delete --force: the container ends up gone.
	for i := 0; i < 3; i++ {
		wg.Add(3)
		go func() { defer wg.Done(); rt.Run("kill", id, "KILL") }()
		go func() { defer wg.Done(); rt.Run("state", id) }()
		go func() { defer wg.Done(); rt.Run("delete", "--force", id) }()
	}
	wg.Wait()
	if _, err := rt.State(id); err == nil {
		t.Errorf("container still exists after concurrent delete --force")
	}
}

// TestLogQuietOnSuccess: successful routine calls must not grow the log
// (health checks exec every few seconds; the log lives on /run).
func TestLogQuietOnSuccess(t *testing.T) {
	rt := testutil.NewRuntime(t)
	id, b := startDetached(t, rt, sleeper...)
	before := rt.LogSize()
	for i := 0; i < 3; i++ {
		rt.MustState(id)
		rt.MustRun("exec", id, "true")
		rt.MustRun("exec", "--detach", "--pid-file", filepath.Join(b.Dir, "e.pid"), id, "true")
		rt.MustRun("ps", "--format", "json", id)
		rt.MustRun("list")
		rt.MustRun("events", "--stats", id)
	}
	if after := rt.LogSize(); after != before {
		data, _ := os.ReadFile(rt.Log)
		t.Errorf("log grew from %d to %d bytes on successful calls:\n%s", before, after, data)
	}
}

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }
