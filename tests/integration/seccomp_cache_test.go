package integration

// The compiled-filter cache (seccompcache): a container's init that loads
// the cached program ends up with the same filter, instruction for
// instruction, as one that compiled it with libseccomp.

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hardened-runtime/hardened/hardening"
	seccompcache "github.com/hardened-runtime/hardened/internal/seccomp/cache"
	"github.com/hardened-runtime/hardened/tests/testutil"
)

func TestSeccompCacheSameFilter(t *testing.T) {
	rt := testutil.NewRuntime(t)
	b := testutil.NewBundle(t, "/bin/true")
	flag := uniqueSeccompPolicy(t, "")

	t.Setenv("HARDENED_SECCOMP_CACHE", "off")
	compiled := createdFilter(t, rt, b, flag)
	forgetSeccompEntries(t, compiled)
	if n := len(seccompCacheEntries(t, compiled)); n != 0 {
		t.Fatalf("HARDENED_SECCOMP_CACHE=off: %d cache entries written", n)
	}
	t.Setenv("HARDENED_SECCOMP_CACHE", "")
	cached := createdFilter(t, rt, b, flag)
	entries := seccompCacheEntries(t, compiled)
	if len(entries) != 1 {
		t.Fatalf("after a create with the cache: %d entries of the test's profile, want 1", len(entries))
	}
	if len(compiled) == 0 || !bytes.Equal(compiled, cached) {
		t.Fatalf("filter loaded from the cache (%d instructions) differs from the compiled one (%d)", len(cached)/8, len(compiled)/8)
	}
	// A second container with the same profile uses the same entry.
	if again := createdFilter(t, rt, b, flag); !bytes.Equal(again, compiled) {
		t.Errorf("second cached create: filter differs")
	}
	if n := len(seccompCacheEntries(t, compiled)); n != 1 {
		t.Errorf("after a second create: %d entries of the test's profile, want 1", n)
	}

	// The init really takes the program from the cache: replace the
	// entry's program (only root can) and the next container carries it.
	path := entries[0]
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	logLen := binary.NativeEndian.Uint32(raw[4:])
	allowAll := []byte{0x06, 0, 0, 0, 0, 0, 0xff, 0x7f} // ret SECCOMP_RET_ALLOW
	tampered := append(append([]byte{}, raw[:12+logLen]...), allowAll...)
	binary.NativeEndian.PutUint32(tampered[8:], uint32(len(allowAll)))
	if err := os.WriteFile(path, tampered, 0o600); err != nil {
		t.Fatal(err)
	}
	// The tampered entry no longer holds the program: remove it at the end.
	t.Cleanup(func() { os.Remove(path) })
	if got := createdFilter(t, rt, b, flag); bytes.Equal(got, compiled) {
		t.Errorf("with a replaced cache entry the init still loaded the compiled filter: the cache is not used")
	}
	// An entry others could have written is ignored.
	if err := os.Chmod(path, 0o606); err != nil {
		t.Fatal(err)
	}
	if got := createdFilter(t, rt, b, flag); !bytes.Equal(got, compiled) {
		t.Errorf("an other-writable cache entry was used")
	}
}

// A filter whose libseccomp calls start like a cached entry's and then
// part from them (one capability more, so Docker's profile has more
// rules) is held back while it matches, then handed to libseccomp in
// order: the init ends up with the filter it compiles without any cache.
func TestSeccompCachePartialMatchCompiles(t *testing.T) {
	rt := testutil.NewRuntime(t)
	base := testutil.NewBundle(t, "/bin/true")
	more := testutil.NewBundle(t, "/bin/true")
	more.Edit(t, func(s *specs.Spec) { setAllCapSets(s.Process, append(baselineCaps(), "CAP_SYSLOG")) })
	flag := uniqueSeccompPolicy(t, `"allowCapabilities": ["CAP_SYSLOG"]`)

	t.Setenv("HARDENED_SECCOMP_CACHE", "off")
	want := createdFilter(t, rt, more, flag)
	forgetSeccompEntries(t, want)
	if n := len(seccompCacheEntries(t, want)); n != 0 {
		t.Fatalf("HARDENED_SECCOMP_CACHE=off: %d cache entries written", n)
	}
	// Cache the smaller profile only; the larger one is not added.
	t.Setenv("HARDENED_SECCOMP_CACHE", "")
	baseFilter := createdFilter(t, rt, base, flag)
	forgetSeccompEntries(t, baseFilter)
	if bytes.Equal(baseFilter, want) {
		t.Fatal("the two profiles compile to the same filter: the test shows nothing")
	}
	if n := len(seccompCacheEntries(t, baseFilter)); n != 1 {
		t.Fatalf("%d entries after the smaller profile, want 1", n)
	}
	t.Setenv("HARDENED_SECCOMP_CACHE", "off")
	if got := createdFilter(t, rt, more, flag); !bytes.Equal(got, want) {
		t.Errorf("with a cached entry sharing its first calls, the filter (%d instructions) differs from the compiled one (%d)", len(got)/8, len(want)/8)
	}
}

// createdFilter creates a container from b (extra global flags first, e.g.
// a policy) and returns the seccomp filter its init has loaded (it waits
// for start with the filter in place), then deletes the container.
func createdFilter(t *testing.T, rt *testutil.Runtime, b *testutil.Bundle, global ...string) []byte {
	t.Helper()
	id := rt.NewID()
	rt.MustRun(append(append([]string{}, global...), "create", "--bundle", b.Dir, id)...)
	defer rt.MustRun("delete", "-f", id)
	filter, err := seccompFilter(rt.MustState(id).Pid)
	if err != nil {
		t.Fatalf("container %s: %v", id, err)
	}
	return filter
}

// seccompFilter returns the BPF instructions of the newest seccomp filter
// of pid (PTRACE_SECCOMP_GET_FILTER), which must be stopped for it.
func seccompFilter(pid int) ([]byte, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := unix.PtraceSeize(pid); err != nil {
		return nil, err
	}
	defer unix.PtraceDetach(pid)
	if err := unix.PtraceInterrupt(pid); err != nil {
		return nil, err
	}
	var ws unix.WaitStatus
	if _, err := unix.Wait4(pid, &ws, unix.WALL, nil); err != nil {
		return nil, err
	}
	get := func(buf []byte) (int, error) {
		var p uintptr
		if len(buf) > 0 {
			p = uintptr(unsafe.Pointer(&buf[0]))
		}
		n, _, errno := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_SECCOMP_GET_FILTER, uintptr(pid), 0, p, 0, 0)
		if errno != 0 {
			return 0, errno
		}
		return int(n), nil
	}
	n, err := get(nil)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, 8*n)
	if _, err := get(buf); err != nil {
		return nil, err
	}
	return buf, nil
}

// seccompCacheEntries returns the cache entries whose program is the one
// an init loaded (program), compiled from a test's own profile. Other entries (other tests,
// other containers on the host) are never looked at or touched: the cache
// directory is the machine's.
func seccompCacheEntries(t *testing.T, program []byte) []string {
	t.Helper()
	des, err := os.ReadDir(seccompcache.Dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var out []string
	for _, de := range des {
		if !strings.HasSuffix(de.Name(), ".bpfc") {
			continue
		}
		p := filepath.Join(seccompcache.Dir, de.Name())
		raw, err := os.ReadFile(p)
		if err != nil || len(raw) < 12 {
			continue
		}
		// The entry is magic, log length, program length, log, program;
		// the init loads the program behind runc's ENOSYS stub.
		logLen, progLen := binary.NativeEndian.Uint32(raw[4:]), binary.NativeEndian.Uint32(raw[8:])
		if uint64(len(raw)) == 12+uint64(logLen)+uint64(progLen) && progLen > 0 && bytes.HasSuffix(program, raw[12+logLen:]) {
			out = append(out, p)
		}
	}
	return out
}

// forgetSeccompEntries removes, at the end of the test, the cache entries
// holding program.
func forgetSeccompEntries(t *testing.T, program []byte) {
	t.Cleanup(func() {
		for _, p := range seccompCacheEntries(t, program) {
			if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Error(err)
			}
		}
	})
}

// uniqueSeccompPolicy writes a policy (extra, if not empty, is more keys)
// whose seccomp profile no other test or container on the host has: the
// default denied syscalls plus three picked at random from ones Docker's
// profile allows and /bin/true never makes. It returns the global flag.
func uniqueSeccompPolicy(t *testing.T, extra string) string {
	t.Helper()
	rare := []string{"alarm", "getitimer", "setitimer", "timer_create", "timer_delete", "timer_gettime",
		"timer_settime", "timer_getoverrun", "timerfd_create", "timerfd_gettime", "timerfd_settime",
		"mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive", "mq_notify", "mq_getsetattr",
		"inotify_init1", "inotify_add_watch", "inotify_rm_watch", "flock", "fdatasync", "syncfs",
		"sync_file_range", "msync", "mlock", "munlock", "mlockall", "munlockall", "semget", "semop",
		"semctl", "shmget", "shmat", "shmdt", "shmctl", "msgget", "msgsnd", "msgrcv", "msgctl", "tee",
		"splice", "vmsplice", "utimensat", "futimesat", "getpriority", "setpriority", "sched_getparam",
		"sched_setparam", "sched_rr_get_interval"}
	deny := hardening.DefaultDenySyscalls()
	for _, i := range mrand.Perm(len(rare))[:3] {
		deny = append(deny, rare[i])
	}
	list, err := json.Marshal(deny)
	if err != nil {
		t.Fatal(err)
	}
	keys := `"denySyscalls": ` + string(list)
	if extra != "" {
		keys += ", " + extra
	}
	flag, _ := testutil.WritePolicy(t, "{"+keys+"}")
	return flag
}
