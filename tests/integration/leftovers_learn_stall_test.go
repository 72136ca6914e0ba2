package integration

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/idmap"
	"github.com/hardened-runtime/hardened/internal/learn"
	"github.com/hardened-runtime/hardened/tests/testutil"
)

// learnStallRecorderPid returns the pid of the recorder whose socket is
// socket (its command line: learn-recorder {"socket":"<socket>",...}), 0
// while there is none.
func learnStallRecorderPid(socket string) int {
	want := []byte(learn.RecorderArg + "\x00" + `{"socket":"` + socket + `"`)
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline")); err == nil && bytes.Contains(cmd, want) {
			return pid
		}
	}
	return 0
}

// TestLearnStalledInitCreateFails: a learning container whose init waits
// for ever on a notified system call (here: its recorder is stopped as
// soon as it starts, so nothing answers the calls the init makes after
// loading its filter: without no-new-privileges, finalizeNamespace's
// capset, setgroups, setresuid...) must not hang create: create fails
// within the watchdog's 30 s with an error naming learn mode and the
// container, and leaves no recorder, socket, container state, cgroup,
// staging directory or ID range behind.
func TestLearnStalledInitCreateFails(t *testing.T) {
	rt, _ := learnSetup(t)
	flag, _ := testutil.WritePolicy(t, fmt.Sprintf(`{"allowNewPrivileges": true, "learn": [{"match": {%q: "stall"}, "mode": "learn", "key": "stall"}]}`, learnPodAnnotation))
	b := learnBundle(t, "stall", "true")
	b.Edit(t, func(s *specs.Spec) { s.Process.NoNewPrivileges = false })
	id := rt.NewID()
	socket := learn.SocketPath(learn.SocketDir, rt.Root, id)

	type result struct {
		errOut string
		exit   int
		took   time.Duration
	}
	done := make(chan result, 1)
	begin := time.Now()
	go func() {
		_, errOut, exit := rt.Run(flag, "create", "--bundle", b.Dir, id)
		done <- result{errOut, exit, time.Since(begin)}
	}()
	recorder := 0
	for recorder == 0 && time.Since(begin) < 20*time.Second {
		if recorder = learnStallRecorderPid(socket); recorder == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	if recorder == 0 {
		t.Fatal("no recorder started for the learning container within 20 s")
	}
	if err := syscall.Kill(recorder, syscall.SIGSTOP); err != nil {
		t.Fatalf("stop recorder %d: %v", recorder, err)
	}
	t.Cleanup(func() { _ = syscall.Kill(recorder, syscall.SIGKILL) })
	var r result
	select {
	case r = <-done:
	case <-time.After(testutil.DefaultTimeout + 5*time.Second):
		t.Fatal("create did not return")
	}
	t.Logf("create failed after %v: %s", r.took, r.errOut)
	if r.exit == 0 {
		t.Fatalf("create of a container whose init never finished succeeded (recorder stopped too late?)")
	}
	// The run's own timeout (testutil.DefaultTimeout) killing a hung
	// create is not the watchdog.
	if r.took > 45*time.Second {
		t.Errorf("create failed after %v, want the watchdog's 30 s", r.took)
	}
	for _, want := range []string{"learn mode", `policy key "learn"`, "profile stall", "container " + id, "did not finish"} {
		if !strings.Contains(r.errOut, want) {
			t.Errorf("create's error does not say %q: %s", want, r.errOut)
		}
	}
	// What the create made is gone.
	if err := syscall.Kill(recorder, 0); err == nil {
		if stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", recorder)); !bytes.Contains(stat, []byte(") Z")) {
			t.Errorf("recorder %d still runs after the failed create", recorder)
		}
	}
	if _, err := os.Lstat(socket); !os.IsNotExist(err) {
		t.Errorf("the recorder's socket is left: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(rt.Root, id)); !os.IsNotExist(err) {
		t.Errorf("the container's state directory is left: %v", err)
	}
	if _, errOut, exit := rt.Run("state", id); exit == 0 {
		t.Errorf("the container exists after its create failed: %s", errOut)
	}
	if _, err := os.Lstat(filepath.Join(usernsStaging(rt), id)); !os.IsNotExist(err) {
		t.Errorf("the container's staging directory is left: %v", err)
	}
	if e, err := idmap.NewHostAllocator(nil, 0).Entries(); err != nil {
		t.Error(err)
	} else {
		for k := range e {
			if filepath.Base(k) == id {
				t.Errorf("the container's ID range is left: %s", k)
			}
		}
	}
	_ = filepath.WalkDir("/sys/fs/cgroup", func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if strings.Contains(d.Name(), id) {
			t.Errorf("the container's cgroup is left: %s", p)
			return filepath.SkipDir
		}
		if strings.Count(p, "/") > 6 {
			return filepath.SkipDir
		}
		return nil
	})
}
