package integration

// Learned profiles (policy key "learn", package internal/learn): a
// busybox workload learned, then enforced; a call outside what was
// learned denied with EPERM and an audit record; concurrent learners of
// one key; a corrupt profile file.

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/internal/learn"
	"github.com/hardened-runtime/hardened/tests/testutil"
)

// learnPodAnnotation is the orchestrator annotation the test policies
// match on.
const learnPodAnnotation = "io.kubernetes.pod.namespace"

// learnSetup returns a runtime whose commands keep their profiles in a
// temporary directory, and that directory.
func learnSetup(t *testing.T) (*testutil.Runtime, string) {
	t.Helper()
	rt := testutil.NewRuntime(t)
	dir := t.TempDir()
	t.Setenv("HARDENED_PROFILES_DIR", dir)
	return rt, dir
}

// learnPolicy writes a policy whose "learn" key puts namespace ns in mode
// under key.
func learnPolicy(t *testing.T, ns, mode, key string) string {
	t.Helper()
	flag, _ := testutil.WritePolicy(t, fmt.Sprintf(`{"learn": [{"match": {%q: %q}, "mode": %q, "key": %q}]}`, learnPodAnnotation, ns, mode, key))
	return flag
}

// learnBundle is a busybox bundle running sh -c script in namespace ns.
func learnBundle(t *testing.T, ns, script string) *testutil.Bundle {
	t.Helper()
	b := testutil.NewBundle(t, "sh", "-c", script)
	b.Edit(t, func(s *specs.Spec) {
		if s.Annotations == nil {
			s.Annotations = map[string]string{}
		}
		s.Annotations[learnPodAnnotation] = ns
	})
	return b
}

// learnedProfile waits until key's profile in dir has at least runs runs
// (the recorder merges after the container is gone) and returns it.
func learnedProfile(t *testing.T, dir, key string, runs int) map[string]any {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var p map[string]any
		data, err := os.ReadFile(filepath.Join(dir, key+".json"))
		if err == nil && json.Unmarshal(data, &p) == nil {
			if n, _ := p["runs"].(float64); int(n) >= runs {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("profile %s: no %d runs after 10 s (%s, %v)", key, runs, data, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitRecorderGone waits until the recorder of container id has ended
// (it removes its socket after its last merge).
func waitRecorderGone(t *testing.T, rt *testutil.Runtime, id string) {
	t.Helper()
	socket := learn.SocketPath(learn.SocketDir, rt.Root, id)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(socket); os.IsNotExist(err) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the recorder of %s still runs 10 s after its container ended", id)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// profileNames returns the system calls of a decoded profile.
func profileNames(p map[string]any) []string {
	var out []string
	for n := range p["syscalls"].(map[string]any) {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// auditDenials returns the syscall-denied records of the runtime's audit
// log, as "<syscall> <profile>".
func auditDenials(t *testing.T, rt *testutil.Runtime) []string {
	t.Helper()
	f, err := os.Open(rt.Audit)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r struct{ Event, Syscall, Profile, ID string }
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		if r.Event == "syscall-denied" {
			out = append(out, r.Syscall+" "+r.Profile)
		}
	}
	return out
}

// auditCreateProfiles returns "<profileMode> <profile>" of the create
// records of the runtime's audit log.
func auditCreateProfiles(t *testing.T, rt *testutil.Runtime) []string {
	t.Helper()
	data, err := os.ReadFile(rt.Audit)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var r struct{ Event, Profile, ProfileMode string }
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		if r.Event == "create" && r.Profile != "" {
			out = append(out, r.ProfileMode+" "+r.Profile)
		}
	}
	return out
}

func TestLearnThenEnforce(t *testing.T) {
	rt, dir := learnSetup(t)
	const script = "echo hello; cat /etc/passwd >/dev/null; echo done"
	b := learnBundle(t, "shop", script)

	learnFlag := learnPolicy(t, "shop", "learn", "busybox-sh")
	if out := rt.RunIn(t, b, learnFlag); strings.TrimSpace(out) != "hello\ndone" {
		t.Fatalf("learning run: stdout %q, want hello", out)
	}
	p := learnedProfile(t, dir, "busybox-sh", 1)
	names := profileNames(p)
	t.Logf("learned %d system calls: %v", len(names), names)
	// read, write, openat, execve... (the init's calls: runtimeCalls and
	// handshakeCalls) are never notified, so never recorded.
	for _, want := range []string{"wait4", "sendfile", "dup2"} {
		if !slices.Contains(names, want) {
			t.Errorf("learned profile lacks %s: %v", want, names)
		}
	}
	if slices.Contains(names, "mkdir") || slices.Contains(names, "mkdirat") {
		t.Errorf("learned profile has mkdir the workload never made: %v", names)
	}
	if len(names) > 120 {
		t.Errorf("learned %d system calls for echo and cat; the filter notified more than the workload used", len(names))
	}

	enforceFlag := learnPolicy(t, "shop", "enforce", "busybox-sh")
	t.Run("same-workload-passes", func(t *testing.T) {
		if out := rt.RunIn(t, b, enforceFlag); strings.TrimSpace(out) != "hello\ndone" {
			t.Fatalf("enforced run: stdout %q, want hello", out)
		}
		if d := auditDenials(t, rt); len(d) != 0 {
			t.Errorf("the learned workload had calls denied: %v", d)
		}
		if modes := auditCreateProfiles(t, rt); !slices.Contains(modes, "learn busybox-sh") || !slices.Contains(modes, "enforce busybox-sh") {
			t.Errorf("create records name profiles %v, want learn and enforce of busybox-sh", modes)
		}
	})
	t.Run("new-call-denied", func(t *testing.T) {
		b2 := learnBundle(t, "shop", script+"; mkdir /tmp/new && echo made || echo refused")
		out := rt.RunIn(t, b2, enforceFlag)
		if !strings.Contains(out, "refused") {
			t.Errorf("mkdir outside the learned profile: stdout %q, want it refused", out)
		}
		var denied []string
		deadline := time.Now().Add(5 * time.Second)
		for len(denied) == 0 && time.Now().Before(deadline) {
			denied = auditDenials(t, rt)
			time.Sleep(50 * time.Millisecond)
		}
		if !slices.Contains(denied, "mkdir busybox-sh") && !slices.Contains(denied, "mkdirat busybox-sh") {
			t.Errorf("audit denials %v, want mkdir of profile busybox-sh", denied)
		}
	})
	t.Run("profile-commands", func(t *testing.T) {
		if out := rt.MustRun("profile", "list"); !strings.Contains(out, "busybox-sh") {
			t.Errorf("profile list: %q, want busybox-sh", out)
		}
		show := rt.MustRun("profile", "show", "busybox-sh")
		t.Logf("profile show:\n%s", show)
		if !strings.Contains(show, "wait4\n") || strings.Contains(show, "mkdir") {
			t.Errorf("profile show: %q, want wait4 and no mkdir", show)
		}
		var exported specs.LinuxSeccomp
		if err := json.Unmarshal([]byte(rt.MustRun("profile", "export", "busybox-sh")), &exported); err != nil {
			t.Fatalf("profile export: %v", err)
		}
		var allowed []string
		for _, r := range exported.Syscalls {
			if r.Action == specs.ActAllow {
				allowed = append(allowed, r.Names...)
			}
		}
		if exported.DefaultAction != specs.ActErrno || !slices.Contains(allowed, "execve") || slices.Contains(allowed, "mkdir") || slices.Contains(allowed, "mkdirat") {
			t.Errorf("export: default %s, allowed %v; want errno, execve, no mkdir", exported.DefaultAction, allowed)
		}
		// The learned calls and the init's.
		if len(allowed) > len(names)+len(learn.InitCallNames()) {
			t.Errorf("export allows %d names, more than the %d learned and the init's", len(allowed), len(names))
		}
		// Widened from the audit record, the denied call passes.
		if out := rt.MustRun("profile", "allow", "busybox-sh", "--from-audit", rt.Audit); !strings.Contains(out, "mkdir") {
			t.Errorf("profile allow --from-audit: %q, want mkdir added", out)
		}
		b4 := learnBundle(t, "shop", script+"; mkdir /tmp/new && echo made")
		if out := rt.RunIn(t, b4, enforceFlag); !strings.Contains(out, "made") {
			t.Errorf("after profile allow: stdout %q, want made", out)
		}
		rt.MustRun("profile", "delete", "busybox-sh")
		if _, err := os.Stat(filepath.Join(dir, "busybox-sh.json")); !os.IsNotExist(err) {
			t.Errorf("after delete: %v", err)
		}
	})
	t.Run("outside-the-match-unaffected", func(t *testing.T) {
		b3 := learnBundle(t, "other", "mkdir /tmp/new && echo made")
		if out := rt.RunIn(t, b3, enforceFlag); strings.TrimSpace(out) != "made" {
			t.Errorf("a container the learn key does not match: stdout %q, want made", out)
		}
	})
}

func TestLearnConcurrentLearners(t *testing.T) {
	rt, dir := learnSetup(t)
	flag := learnPolicy(t, "shop", "learn", "many")
	scripts := []string{"mkdir /tmp/a", "echo x >/tmp/f; rm /tmp/f", "sleep 0.2; ls -l / >/dev/null", "uname -a >/dev/null"}
	var wg sync.WaitGroup
	for i := range 2 * len(scripts) {
		b := learnBundle(t, "shop", scripts[i%len(scripts)])
		wg.Add(1)
		go func() {
			defer wg.Done()
			rt.RunIn(t, b, flag)
		}()
	}
	wg.Wait()
	p := learnedProfile(t, dir, "many", 2*len(scripts))
	names := profileNames(p)
	for _, want := range []string{"mkdir", "unlink", "uname", "ioctl"} {
		alt := map[string]string{"mkdir": "mkdirat", "unlink": "unlinkat"}[want]
		if !slices.Contains(names, want) && !slices.Contains(names, alt) {
			t.Errorf("merged profile lacks %s (one learner's call lost?): %v", want, names)
		}
	}
	if n, _ := p["runs"].(float64); int(n) != 2*len(scripts) {
		t.Errorf("runs = %v, want %d", p["runs"], 2*len(scripts))
	}
}

func TestLearnCorruptProfile(t *testing.T) {
	rt, dir := learnSetup(t)
	if err := os.WriteFile(filepath.Join(dir, "broken.json"), []byte(`{"version": 1, "key": "broken", "syscalls": {"read": {}`), 0o600); err != nil {
		t.Fatal(err)
	}
	b := learnBundle(t, "shop", "mkdir /tmp/x && echo made")
	if out := rt.RunIn(t, b, learnPolicy(t, "shop", "enforce", "broken")); strings.TrimSpace(out) != "made" {
		t.Errorf("under a corrupt profile: stdout %q, want the container run under the policy alone", out)
	}
	var found bool
	for _, e := range rt.LogEntries() {
		if e.Level == "error" && strings.Contains(e.Msg, "corrupt learned profile") && strings.Contains(e.Msg, "broken.json") {
			found = true
		}
	}
	if !found {
		t.Errorf("no error log line names the corrupt profile: %v", rt.LogEntries())
	}
}

// TestLearnExec: a process exec'd into a learning container is recorded
// too (libcontainer sends its filter's fd to the same recorder), and one
// exec'd into an enforcing container meets the learned profile.
func TestLearnExec(t *testing.T) {
	rt, dir := learnSetup(t)
	b := learnBundle(t, "shop", "sleep 30")
	flag := learnPolicy(t, "shop", "learn", "exec")
	id := rt.NewID()
	rt.MustRun(flag, "run", "--detach", "--bundle", b.Dir, id)
	if out, errOut, exit := rt.Run(flag, "exec", id, "sh", "-c", "mkdir /tmp/by-exec && echo made"); exit != 0 || strings.TrimSpace(out) != "made" {
		t.Fatalf("exec into a learning container: exit %d, %q %q", exit, out, errOut)
	}
	rt.MustRun("kill", id, "KILL")
	rt.WaitStatus(id, "stopped", 10*time.Second)
	rt.MustRun("delete", id)
	waitRecorderGone(t, rt, id)
	names := profileNames(learnedProfile(t, dir, "exec", 1))
	if !slices.Contains(names, "mkdir") && !slices.Contains(names, "mkdirat") {
		t.Errorf("the exec'd process's mkdir was not recorded: %v", names)
	}

	enforce := learnPolicy(t, "shop", "enforce", "exec")
	id = rt.NewID()
	rt.MustRun(enforce, "run", "--detach", "--bundle", b.Dir, id)
	t.Cleanup(func() { rt.Run("delete", "--force", id) })
	if out, _, _ := rt.Run(enforce, "exec", id, "sh", "-c", "mkdir /tmp/by-exec2 && echo made"); strings.TrimSpace(out) != "made" {
		t.Errorf("learned mkdir from an exec'd process: %q, want made", out)
	}
	if out, _, _ := rt.Run(enforce, "exec", id, "sh", "-c", "rmdir /tmp/by-exec2 && echo removed || echo refused"); strings.TrimSpace(out) != "refused" {
		t.Errorf("rmdir, never learned, from an exec'd process: %q, want refused", out)
	}
}

// TestLearnRecorderRefusesOtherContainers: a caller whose config.json
// points its own seccomp notify listener at a learning container's
// recorder (to write its calls into that workload's profile) is refused
// by the seccomp-listener rule; and should a policy list that socket in
// allowSeccompListeners, by the recorder: the connection names another
// container.
func TestLearnRecorderRefusesOtherContainers(t *testing.T) {
	rt, dir := learnSetup(t)
	flag := learnPolicy(t, "shop", "learn", "victim")
	victim := rt.NewID()
	rt.MustRun(flag, "run", "--detach", "--bundle", learnBundle(t, "shop", "sleep 30").Dir, victim)
	t.Cleanup(func() { rt.Run("delete", "--force", victim) })
	socket := learn.SocketPath(learn.SocketDir, rt.Root, victim)
	if _, err := os.Stat(socket); err != nil {
		t.Fatalf("the victim's recorder socket: %v", err)
	}

	attacker := learnBundle(t, "other", "mkdir /tmp/poison; echo done")
	attacker.Edit(t, func(s *specs.Spec) {
		prof, err := seccomp.GetDefaultProfile(s)
		if err != nil {
			t.Fatal(err)
		}
		prof.Syscalls = append(prof.Syscalls, specs.LinuxSyscall{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActNotify})
		for i := range prof.Syscalls {
			prof.Syscalls[i].Names = slices.DeleteFunc(prof.Syscalls[i].Names, func(n string) bool {
				return (n == "mkdir" || n == "mkdirat") && prof.Syscalls[i].Action != specs.ActNotify
			})
		}
		prof.ListenerPath = socket
		s.Linux.Seccomp = prof
	})
	_, errOut, exit := rt.Run(flag, "run", "--bundle", attacker.Dir, rt.NewID())
	if exit == 0 || !strings.Contains(errOut, `(rule seccomp-listener, allow with "allowSeccompListeners": [`+strconv.Quote(socket)+`])`) {
		t.Errorf("attacker with the policy's default: exit %d, stderr %q, want the seccomp-listener refusal", exit, errOut)
	}
	lax, _ := testutil.WritePolicy(t, fmt.Sprintf(`{"learn": [{"match": {%q: %q}, "mode": "learn", "key": "victim"}], "allowSeccompListeners": [%q]}`, learnPodAnnotation, "shop", socket))
	id := rt.NewID()
	out, errOut, exit := rt.Run(lax, "run", "--bundle", attacker.Dir, id)
	t.Logf("attacker: exit %d, stdout %q, stderr %q", exit, out, errOut)

	rt.MustRun("kill", victim, "KILL")
	rt.WaitStatus(victim, "stopped", 10*time.Second)
	waitRecorderGone(t, rt, victim)
	names := profileNames(learnedProfile(t, dir, "victim", 1))
	if slices.Contains(names, "mkdir") || slices.Contains(names, "mkdirat") {
		t.Errorf("the attacker's mkdir was recorded into the victim's profile: %v", names)
	}
	var refused bool
	for _, e := range rt.LogEntries() {
		if strings.Contains(e.Msg, "connection for container \""+id+"\" refused") {
			refused = true
		}
	}
	if !refused {
		t.Errorf("no log line says the recorder refused container %s", id)
	}
}

// TestLearnWorkloadKeys: an entry matches and names the profile by what
// the runtime knows of the workload (here a CRI container's image); an
// annotation that only claims that name matches nothing.
func TestLearnWorkloadKeys(t *testing.T) {
	rt, dir := learnSetup(t)
	flag, _ := testutil.WritePolicy(t, `{"learn": [{"match": {"workload.image": "docker.io/library/busybox*"}, "mode": "learn", "keyFrom": ["workload.image"]}]}`)
	b := testutil.NewBundle(t, "sh", "-c", "echo hi")
	b.Edit(t, func(s *specs.Spec) {
		s.Annotations = map[string]string{
			"io.kubernetes.cri.container-type": "container",
			"io.kubernetes.cri.sandbox-name":   "web-pod",
			"io.kubernetes.cri.container-name": "app",
			"io.kubernetes.cri.image-name":     "docker.io/library/busybox:1.36",
		}
	})
	rt.RunIn(t, b, flag)
	learnedProfile(t, dir, "docker.io_library_busybox_1.36", 1)

	spoof := testutil.NewBundle(t, "sh", "-c", "echo hi")
	spoof.Edit(t, func(s *specs.Spec) {
		s.Annotations = map[string]string{"workload.image": "docker.io/library/busybox:spoofed"}
	})
	rt.RunIn(t, spoof, flag)
	time.Sleep(300 * time.Millisecond)
	if _, err := os.Stat(filepath.Join(dir, "docker.io_library_busybox_spoofed.json")); !os.IsNotExist(err) {
		t.Errorf("an annotation named workload.image selected a profile: %v", err)
	}
}

// TestLearnFailedCreateStopsRecorder: a create that fails after the
// recorder started (the process does not exist) stops it and removes its
// socket.
func TestLearnFailedCreateStopsRecorder(t *testing.T) {
	rt, _ := learnSetup(t)
	b := learnBundle(t, "shop", "x")
	b.SetArgs(t, "/no/such/binary")
	id := rt.NewID()
	if _, _, exit := rt.Run(learnPolicy(t, "shop", "learn", "failed"), "run", "--bundle", b.Dir, id); exit == 0 {
		t.Fatal("run of a missing binary succeeded")
	}
	if _, err := os.Stat(learn.SocketPath(learn.SocketDir, rt.Root, id)); !os.IsNotExist(err) {
		t.Errorf("the recorder's socket is left after the failed create: %v", err)
	}
	out, _ := exec.Command("pgrep", "-f", learn.RecorderArg+` \{"socket":"`+learn.SocketPath(learn.SocketDir, rt.Root, id)).Output()
	if len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("the recorder still runs after the failed create: pids %s", out)
	}
}

// TestLearnSeccompCache: a learning container's filter (notify rules) is
// taken from the compiled-filter cache like any other, the same program
// as compiled, one entry for every container of the profile.
func TestLearnSeccompCache(t *testing.T) {
	rt, _ := learnSetup(t)
	b := testutil.NewBundle(t, "/bin/true")
	flag := uniqueSeccompPolicy(t, `"learn": [{"match": {}, "mode": "learn", "key": "cached"}]`)

	t.Setenv("HARDENED_SECCOMP_CACHE", "off")
	compiled := createdFilter(t, rt, b, flag)
	forgetSeccompEntries(t, compiled)
	t.Setenv("HARDENED_SECCOMP_CACHE", "")
	cached := createdFilter(t, rt, b, flag)
	if len(compiled) == 0 || !bytes.Equal(compiled, cached) {
		t.Fatalf("learning filter from the cache (%d instructions) differs from the compiled one (%d)", len(cached)/8, len(compiled)/8)
	}
	again := createdFilter(t, rt, b, flag)
	entries := seccompCacheEntries(t, compiled)
	if len(entries) != 1 || !bytes.Equal(again, compiled) {
		t.Fatalf("after two cached creates: %d entries, same filter %v; want 1, true", len(entries), bytes.Equal(again, compiled))
	}
	// The init takes the program from the entry: replaced, it loads that.
	raw, err := os.ReadFile(entries[0])
	if err != nil {
		t.Fatal(err)
	}
	logLen := binary.NativeEndian.Uint32(raw[4:])
	allowAll := []byte{0x06, 0, 0, 0, 0, 0, 0xff, 0x7f}
	tampered := append(append([]byte{}, raw[:12+logLen]...), allowAll...)
	binary.NativeEndian.PutUint32(tampered[8:], uint32(len(allowAll)))
	if err := os.WriteFile(entries[0], tampered, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(entries[0]) })
	if got := createdFilter(t, rt, b, flag); bytes.Equal(got, compiled) {
		t.Errorf("with a replaced entry the learning init still loaded the compiled filter: the cache is not used")
	}
}
