//go:build linux && cgo && seccomp

package cache

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/opencontainers/runc/libcontainer/configs"
)

// The test binary is also the compile helper Ensure starts.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == HelperArg {
		os.Exit(HelperMain(os.Args[2:]))
	}
	os.Exit(m.Run())
}

func TestDirIsWhatTheInitReads(t *testing.T) {
	if cDir() != Dir {
		t.Fatalf("C reads %q, Go writes %q", cDir(), Dir)
	}
}

func testProfile(extra ...string) *configs.Seccomp {
	errno := uint(1)
	cfg := &configs.Seccomp{
		DefaultAction:   configs.Errno,
		DefaultErrnoRet: &errno,
		Architectures:   []string{"amd64"},
	}
	for _, name := range append([]string{"read", "write", "exit_group", "futex"}, extra...) {
		cfg.Syscalls = append(cfg.Syscalls, &configs.Syscall{Name: name, Action: configs.Allow})
	}
	cfg.Syscalls = append(cfg.Syscalls, &configs.Syscall{
		Name: "socket", Action: configs.Allow,
		Args: []*configs.Arg{{Index: 0, Value: 1, Op: configs.EqualTo}},
	})
	return cfg
}

func entryFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.bpfc"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestEnsureCompilesEachProfileOnce(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the helper loads a seccomp filter without no_new_privs: needs root")
	}
	c := Cache{Dir: filepath.Join(t.TempDir(), "cache"), Build: "test"}
	if err := c.Ensure(testProfile()); err != nil {
		t.Fatal(err)
	}
	files := entryFiles(t, c.Dir)
	if len(files) != 1 {
		t.Fatalf("%d entries after one profile, want 1", len(files))
	}
	raw, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	log, bpf, err := decodeEntry(raw)
	if err != nil {
		t.Fatal(err)
	}
	// The log names the rules: five of them, one with an argument.
	if len(log) < 5*16+24 {
		t.Errorf("log of %d bytes is too short for five rules", len(log))
	}
	if prog, err := c.Program(testProfile()); err != nil || !bytes.Equal(prog, bpf) {
		t.Errorf("Program: %d bytes, %v; want the entry's %d", len(prog), err, len(bpf))
	}
	for _, p := range []string{c.Dir, files[0]} {
		if st, err := os.Stat(p); err != nil || st.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s: %v %v, want no access for others", p, st.Mode(), err)
		}
	}

	before, _ := os.Stat(files[0])
	time.Sleep(10 * time.Millisecond)
	if err := c.Ensure(testProfile()); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.Stat(files[0]); !after.ModTime().Equal(before.ModTime()) || len(entryFiles(t, c.Dir)) != 1 {
		t.Errorf("the same profile was compiled again")
	}
	if err := c.Ensure(testProfile("close")); err != nil {
		t.Fatal(err)
	}
	if n := len(entryFiles(t, c.Dir)); n != 2 {
		t.Errorf("%d entries after two profiles, want 2", n)
	}
	// Another build does not take this build's entries.
	other := Cache{Dir: c.Dir, Build: "other"}
	if err := other.Ensure(testProfile()); err != nil {
		t.Fatal(err)
	}
	if n := len(entryFiles(t, c.Dir)); n != 3 {
		t.Errorf("%d entries after another build's profile, want 3", n)
	}
}

// TestEnsureCachesNotify: a filter with notify rules is cached, one entry
// whatever its listener (each container has its own).
func TestEnsureCachesNotify(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	c := Cache{Dir: dir, Build: "b"}
	for _, listener := range []string{"/run/a.sock", "/run/b.sock"} {
		cfg := testProfile()
		cfg.Syscalls = append(cfg.Syscalls, &configs.Syscall{Name: "mkdir", Action: configs.Notify})
		cfg.ListenerPath = listener
		if err := c.Ensure(cfg); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(entryFiles(t, dir)); n != 1 {
		t.Errorf("%d entries for one notify profile with two listeners, want 1", n)
	}
	if err := c.Ensure(nil); err != nil {
		t.Errorf("no profile: %v", err)
	}
}

func TestHelperRefusesBadInput(t *testing.T) {
	for _, args := range [][]string{nil, {"relative.bpfc"}, {"/a", "/b"}} {
		if err := helper(args); err == nil {
			t.Errorf("helper(%q): no error", args)
		}
	}
}

func TestEvictKeepsTheNewest(t *testing.T) {
	dir := t.TempDir()
	base := time.Now().Add(-time.Hour)
	for i := 0; i < 40; i++ {
		p := filepath.Join(dir, fmt.Sprintf("%02d.bpfc", i))
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		mod := base.Add(time.Duration(i) * time.Second)
		if err := os.Chtimes(p, mod, mod); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "other"), nil, 0o600)
	if err := evict(dir, maxEntries-1); err != nil {
		t.Fatal(err)
	}
	left := entryFiles(t, dir)
	if len(left) != maxEntries-1 || filepath.Base(left[0]) != "09.bpfc" {
		t.Errorf("left %d entries from %s, want %d from 09.bpfc", len(left), filepath.Base(left[0]), maxEntries-1)
	}
	if _, err := os.Stat(filepath.Join(dir, "other")); err != nil {
		t.Errorf("a file that is not an entry was removed: %v", err)
	}
}

// A binary that does not dispatch HelperArg runs its own main as the
// "helper"; should that main call Ensure, it must fail, not start another.
func TestEnsureInsideAHelperDoesNotRecurse(t *testing.T) {
	t.Setenv(helperEnv, "1")
	c := Cache{Dir: filepath.Join(t.TempDir(), "cache"), Exe: "/bin/false"}
	if err := c.Ensure(testProfile()); err == nil {
		t.Fatal("Ensure inside a helper: no error")
	}
	if _, err := os.Stat(c.Dir); !os.IsNotExist(err) {
		t.Errorf("Ensure inside a helper wrote the cache (%v)", err)
	}
}

// Every field of the profile changes its entry's name.
func TestEntryNameCoversEveryField(t *testing.T) {
	c := Cache{Build: "b"}
	base := c.entryName(testProfile())
	seven := uint(7)
	edits := map[string]func(*configs.Seccomp){
		"default action": func(s *configs.Seccomp) { s.DefaultAction = configs.Kill },
		"default errno":  func(s *configs.Seccomp) { s.DefaultErrnoRet = &seven },
		"architectures":  func(s *configs.Seccomp) { s.Architectures = append(s.Architectures, "x86") },
		"flags":          func(s *configs.Seccomp) { s.Flags = append(s.Flags, "SECCOMP_FILTER_FLAG_LOG") },
		"rule name":      func(s *configs.Seccomp) { s.Syscalls[0].Name = "readv" },
		"rule action":    func(s *configs.Seccomp) { s.Syscalls[0].Action = configs.Log },
		"rule errno":     func(s *configs.Seccomp) { s.Syscalls[0].ErrnoRet = &seven },
		"rule order":     func(s *configs.Seccomp) { s.Syscalls[0], s.Syscalls[1] = s.Syscalls[1], s.Syscalls[0] },
		"arg index":      func(s *configs.Seccomp) { s.Syscalls[4].Args[0].Index = 1 },
		"arg value":      func(s *configs.Seccomp) { s.Syscalls[4].Args[0].Value = 2 },
		"arg value two":  func(s *configs.Seccomp) { s.Syscalls[4].Args[0].ValueTwo = 2 },
		"arg op":         func(s *configs.Seccomp) { s.Syscalls[4].Args[0].Op = configs.NotEqualTo },
		"one rule more": func(s *configs.Seccomp) {
			s.Syscalls = append(s.Syscalls, &configs.Syscall{Name: "close", Action: configs.Allow})
		},
	}
	for what, edit := range edits {
		p := testProfile()
		edit(p)
		if c.entryName(p) == base {
			t.Errorf("%s: same entry name", what)
		}
	}
	if (Cache{Build: "other"}).entryName(testProfile()) == base {
		t.Error("build: same entry name")
	}
	if c.entryName(testProfile()) != base {
		t.Error("the same profile got another name")
	}
	// Where libcontainer sends the notification fd is not the program's.
	p := testProfile()
	p.ListenerPath, p.ListenerMetadata = "/x", "m"
	if c.entryName(p) != base {
		t.Error("listener path and metadata changed the entry name")
	}
}

// A filter that notifies a call the compile helper makes after loading
// it (runc's tests of seccomp agents notify close, futex...) is not
// compiled by the helper, which would wait in that call for ever; one
// that notifies only other calls (a learned profile's) is.
func TestNotifiesHelperCalls(t *testing.T) {
	for _, tc := range []struct {
		name  string
		calls []string
		want  bool
	}{
		{"none", nil, false},
		{"mkdir", []string{"mkdir", "mkdirat"}, false},
		{"close", []string{"mkdir", "close"}, true},
		{"futex", []string{"futex"}, true},
	} {
		cfg := &configs.Seccomp{DefaultAction: configs.Errno}
		for _, c := range tc.calls {
			cfg.Syscalls = append(cfg.Syscalls, &configs.Syscall{Name: c, Action: configs.Notify})
		}
		cfg.Syscalls = append(cfg.Syscalls, &configs.Syscall{Name: "close", Action: configs.Allow})
		if got := notifiesHelperCalls(cfg); got != tc.want {
			t.Errorf("%s: notifiesHelperCalls = %v, want %v", tc.name, got, tc.want)
		}
	}
}
