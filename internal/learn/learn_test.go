package learn

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/runc/libcontainer/configs"
	"golang.org/x/sys/unix"

	"github.com/hardened-runtime/hardened/internal/audit"
)

func TestProfileAddAndMerge(t *testing.T) {
	t.Parallel()
	a := NewProfile("k")
	if !a.Add("read", nil, [6]uint64{}) {
		t.Error("first read: not new")
	}
	if a.Add("read", nil, [6]uint64{7}) {
		t.Error("second read without recorded args: new")
	}
	a.Add("clone", []uint{0}, [6]uint64{0x3d0f00})
	if a.Add("clone", []uint{0}, [6]uint64{0x3d0f00, 99}) {
		t.Error("same clone flags again: new")
	}
	b := NewProfile("k")
	b.Add("clone", []uint{0}, [6]uint64{0x1200011})
	b.Add("personality", []uint{0}, [6]uint64{8})
	a.Merge(b)
	if got := a.Names(); !slices.Equal(got, []string{"clone", "personality", "read"}) {
		t.Errorf("names %v", got)
	}
	if got := a.Syscalls["clone"].Args[0]; !slices.Equal(got, []uint64{0x3d0f00, 0x1200011}) {
		t.Errorf("clone values %#x, want both, sorted", got)
	}
	if a.Syscalls["read"].Args != nil {
		t.Errorf("read has args %v, none were asked for", a.Syscalls["read"].Args)
	}
}

func TestProfileArgOverflow(t *testing.T) {
	t.Parallel()
	p := NewProfile("k")
	for v := range uint64(maxArgValues + 1) {
		p.Add("ioctl", []uint{1}, [6]uint64{0, v})
	}
	use := p.Syscalls["ioctl"]
	if !slices.Equal(use.AnyArgs, []uint{1}) || use.Args != nil {
		t.Errorf("after %d values: anyArgs %v args %v, want index 1 as any value", maxArgValues+1, use.AnyArgs, use.Args)
	}
	rule := &configs.Syscall{Name: "ioctl", Action: configs.Allow, Args: []*configs.Arg{{Index: 1, Value: 12345, Op: configs.EqualTo}}}
	if !p.allows(rule) {
		t.Error("an argument seen with any value does not allow the rule")
	}
}

func TestParseProfile(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, data, want string }{
		{"truncated", `{"version": 1, "key": "k", "syscalls": {"read": {}`, "unexpected EOF"},
		{"unknown field", `{"version": 1, "key": "k", "syscalls": {}, "extra": 1}`, `unknown field "extra"`},
		{"version", `{"version": 2, "key": "k", "syscalls": {}}`, "version 2, want 1"},
		{"bad key", `{"version": 1, "key": "../k", "syscalls": {}}`, `key "../k" is not a workload key`},
		{"bad name", `{"version": 1, "key": "k", "syscalls": {"READ; rm": {}}}`, "is not a system call name"},
		{"bad index", `{"version": 1, "key": "k", "syscalls": {"clone": {"args": {"7": [1]}}}}`, "argument 7"},
		{"unsorted", `{"version": 1, "key": "k", "syscalls": {"clone": {"args": {"0": [2, 1]}}}}`, "argument 0"},
		{"trailing", `{"version": 1, "key": "k", "syscalls": {}} {}`, "trailing data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseProfile("f.json", []byte(tc.data))
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "f.json") {
				t.Errorf("ParseProfile = %v, want ErrCorrupt naming f.json with %q", err, tc.want)
			}
		})
	}
	p, err := ParseProfile("f.json", []byte(`{"version": 1, "key": "k", "runs": 2, "updated": "2026-12-03T10:00:00Z", "syscalls": {"read": null, "clone": {"args": {"0": [1, 2]}}}}`))
	if err != nil || p.Syscalls["read"] == nil || len(p.Syscalls["clone"].Args[0]) != 2 {
		t.Errorf("a good profile: %+v, %v", p, err)
	}
}

// TestStoreConcurrentMerges: 8 writers of one key, each adding its own
// calls in 10 merges: none is lost, the runs add up.
func TestStoreConcurrentMerges(t *testing.T) {
	t.Parallel()
	s := Store{Dir: filepath.Join(t.TempDir(), "profiles")}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				seen := NewProfile("web")
				seen.Add("call_"+strconv.Itoa(w)+"_"+strconv.Itoa(i), nil, [6]uint64{})
				if err := s.Merge("web", seen, i == 0); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	p, err := s.Load("web")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Syscalls) != 80 || p.Runs != 8 {
		t.Errorf("%d calls and %d runs, want 80 and 8", len(p.Syscalls), p.Runs)
	}
	entries, _ := os.ReadDir(s.Dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
}

func TestStoreCorruptFileKept(t *testing.T) {
	t.Parallel()
	s := Store{Dir: t.TempDir()}
	bad := []byte(`{"version": 1, "key": "web", "syscalls": {`)
	if err := os.WriteFile(s.Path("web"), bad, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load("web"); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Load = %v, want ErrCorrupt", err)
	}
	if err := s.Merge("web", NewProfile("web"), true); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Merge into a corrupt file = %v, want ErrCorrupt", err)
	}
	if got, _ := os.ReadFile(s.Path("web")); string(got) != string(bad) {
		t.Errorf("the corrupt file was overwritten: %q", got)
	}
	if p, err := s.Load("missing"); p != nil || err != nil {
		t.Errorf("Load of a missing key = %v, %v; want nil, nil", p, err)
	}
	if err := os.WriteFile(s.Path("other"), []byte(`{"version": 1, "key": "web", "syscalls": {}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load("other"); !errors.Is(err, ErrCorrupt) {
		t.Errorf("a file holding another key: %v, want ErrCorrupt", err)
	}
}

// policyFilter is a small profile in the shape of Docker's: allowed calls,
// clone allowed without namespace flags, personality allowed for a few
// values, a denial, and write.
func policyFilter() *configs.Seccomp {
	eperm := uint(unix.EPERM)
	return &configs.Seccomp{
		DefaultAction: configs.Errno,
		Architectures: []string{"amd64"},
		Syscalls: []*configs.Syscall{
			{Name: "read", Action: configs.Allow},
			{Name: "write", Action: configs.Allow},
			{Name: "mkdir", Action: configs.Allow},
			{Name: "getppid", Action: configs.Allow},
			{Name: "clone", Action: configs.Allow, Args: []*configs.Arg{{Index: 0, Value: 0x7e020000, ValueTwo: 0, Op: configs.MaskEqualTo}}},
			{Name: "personality", Action: configs.Allow, Args: []*configs.Arg{{Index: 0, Value: 0, Op: configs.EqualTo}}},
			{Name: "personality", Action: configs.Allow, Args: []*configs.Arg{{Index: 0, Value: 0xffffffff, Op: configs.EqualTo}}},
			{Name: "unshare", Action: configs.Errno, ErrnoRet: &eperm},
		},
	}
}

// actions lists a filter's rules as "name:action[:arg value]".
func actions(cfg *configs.Seccomp) []string {
	var out []string
	for _, sc := range cfg.Syscalls {
		s := sc.Name + ":" + strconv.Itoa(int(sc.Action))
		for _, a := range sc.Args {
			s += ":" + strconv.FormatUint(a.Value, 16)
		}
		out = append(out, s)
	}
	return out
}

func TestRewriteForLearning(t *testing.T) {
	t.Parallel()
	cfg := policyFilter()
	idx := RewriteForLearning(cfg, "/run/x.sock")
	// allow=4 becomes notify=7; the denial stays, and so do the calls
	// the init's Go runtime may make before the recorder has the fd
	// (read, write, clone: runtimeCalls).
	want := []string{"read:4", "write:4", "mkdir:7", "getppid:7", "clone:4:7e020000", "personality:7:0", "personality:7:ffffffff", "unshare:2"}
	if got := actions(cfg); !slices.Equal(got, want) {
		t.Errorf("rules %v\nwant %v", got, want)
	}
	if cfg.ListenerPath != "/run/x.sock" || cfg.DefaultAction != configs.Errno {
		t.Errorf("listener %q default %v", cfg.ListenerPath, cfg.DefaultAction)
	}
	if !slices.Equal(idx["personality"], []uint{0}) || len(idx) != 1 {
		t.Errorf("argument indexes %v, want personality at 0", idx)
	}
}

func TestRewriteForEnforcing(t *testing.T) {
	t.Parallel()
	learned := NewProfile("k")
	learned.Add("read", nil, [6]uint64{})
	learned.Add("clone", []uint{0}, [6]uint64{0x3d0f00})
	learned.Add("personality", []uint{0}, [6]uint64{0xffffffff})
	learned.Add("unshare", nil, [6]uint64{}) // recorded somehow: never re-allowed
	cfg := policyFilter()
	denied := RewriteForEnforcing(cfg, learned, "/run/x.sock")
	want := []string{"read:4", "write:4", "mkdir:7", "getppid:7", "clone:4:7e020000", "personality:7:0", "personality:4:ffffffff", "unshare:2"}
	if got := actions(cfg); !slices.Equal(got, want) {
		t.Errorf("rules %v\nwant %v", got, want)
	}
	// personality is still allowed for one value: not wholly denied.
	if !slices.Equal(denied, []string{"getppid", "mkdir"}) {
		t.Errorf("denied %v, want getppid and mkdir", denied)
	}
	if cfg.ListenerPath != "/run/x.sock" {
		t.Errorf("listener %q", cfg.ListenerPath)
	}

	// Namespace-creating clone flags learned (impossible under the
	// policy, but a file can say anything) meet no masked rule.
	ns := NewProfile("k")
	ns.Add("clone", []uint{0}, [6]uint64{unix.CLONE_NEWUSER})
	if ns.allows(policyFilter().Syscalls[4]) {
		t.Error("a clone with CLONE_NEWUSER meets the rule that masks namespace flags")
	}
	// Nothing of clone learned: the init's Go runtime may still start a
	// thread between loading the filter and execve, so thread clones
	// stay allowed, as do the runtime's other calls (initCalls).
	none := NewProfile("k")
	none.Add("read", nil, [6]uint64{})
	cfg = policyFilter()
	cfg.Syscalls = append(cfg.Syscalls, &configs.Syscall{Name: "futex", Action: configs.Allow})
	RewriteForEnforcing(cfg, none, "/run/x.sock")
	if got := actions(cfg); got[4] != "clone:4:7e020000" || got[len(got)-1] != "futex:4" {
		t.Errorf("rules %v: want thread clones and futex kept for the init's Go runtime", got)
	}

	// Everything learned: nothing to notify, no listener.
	all := NewProfile("k")
	for _, n := range []string{"read", "mkdir", "getppid"} {
		all.Add(n, nil, [6]uint64{})
	}
	all.Add("clone", []uint{0}, [6]uint64{0x11})
	all.Add("personality", []uint{0}, [6]uint64{0})
	all.Add("personality", []uint{0}, [6]uint64{0xffffffff})
	cfg = policyFilter()
	if d := RewriteForEnforcing(cfg, all, "/run/x.sock"); len(d) != 0 || cfg.ListenerPath != "" {
		t.Errorf("denied %v listener %q, want none", d, cfg.ListenerPath)
	}
}

// TestNeverWider: whatever a learned profile says, enforcing turns no
// rule of the policy into a wider one (only allow -> notify).
func TestNeverWider(t *testing.T) {
	t.Parallel()
	huge := NewProfile("k")
	for _, n := range []string{"read", "write", "mkdir", "getppid", "unshare", "clone", "personality", "mount", "bpf"} {
		huge.Syscalls[n] = &SyscallUse{AnyArgs: []uint{0, 1, 2, 3, 4, 5}}
	}
	before := policyFilter()
	after := policyFilter()
	RewriteForEnforcing(after, huge, "/x")
	if len(before.Syscalls) != len(after.Syscalls) || after.DefaultAction != before.DefaultAction {
		t.Fatalf("rules added or default changed")
	}
	for i := range before.Syscalls {
		b, a := before.Syscalls[i], after.Syscalls[i]
		if b.Name != a.Name || (a.Action != b.Action && !(b.Action == configs.Allow && a.Action == configs.Notify)) {
			t.Errorf("rule %d: %s %v -> %s %v", i, b.Name, b.Action, a.Name, a.Action)
		}
	}
}

func TestArgMatches(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		op       configs.Operator
		val, two uint64
		v        uint64
		want     bool
	}{
		{configs.EqualTo, 8, 0, 8, true},
		{configs.EqualTo, 8, 0, 9, false},
		{configs.NotEqualTo, 40, 0, 2, true},
		{configs.NotEqualTo, 40, 0, 40, false},
		{configs.MaskEqualTo, 0x7e020000, 0, 0x3d0f00, true},
		{configs.MaskEqualTo, 0x7e020000, 0, 0x10000000, false},
		{configs.GreaterThan, 5, 0, 6, true},
		{configs.GreaterThanOrEqualTo, 5, 0, 5, true},
		{configs.LessThan, 5, 0, 5, false},
		{configs.LessThanOrEqualTo, 5, 0, 5, true},
		{configs.Operator(99), 5, 0, 5, false},
	} {
		if got := argMatches(&configs.Arg{Op: tc.op, Value: tc.val, ValueTwo: tc.two}, tc.v); got != tc.want {
			t.Errorf("op %d value %#x/%#x on %#x = %v, want %v", tc.op, tc.val, tc.two, tc.v, got, tc.want)
		}
	}
}

func TestSocketPathShort(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 64)
	p := SocketPath(SocketDir, "/run/containerd/runc/k8s.io/with/a/long/root", long)
	if len(p) > 100 || filepath.Dir(p) != SocketDir {
		t.Errorf("socket path %q (%d bytes)", p, len(p))
	}
	if SocketPath(SocketDir, "/a", "b") == SocketPath(SocketDir, "/a/b", "") {
		t.Error("root and id are not separated")
	}
}

// TestWithWorkload: the workload keys come from the runtime's view of the
// workload; a caller's annotation of the same name is not taken.
func TestWithWorkload(t *testing.T) {
	t.Parallel()
	got := withWorkload(map[string]string{"workload.image": "spoofed", "workload.name": "spoofed", "a": "b"},
		audit.Workload{Engine: "docker", Image: "nginx:1.27"})
	want := map[string]string{"a": "b", "workload.engine": "docker", "workload.image": "nginx:1.27"}
	if !maps.Equal(got, want) {
		t.Errorf("withWorkload = %v, want %v", got, want)
	}
}
