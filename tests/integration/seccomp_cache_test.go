package integration

// The compiled-filter cache (seccompcache): a container's init that loads
// the cached program ends up with the same filter, instruction for
// instruction, as one that compiled it with libseccomp.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hardened-runtime/hardened/seccompcache"
	"github.com/hardened-runtime/hardened/tests/testutil"
)

func TestSeccompCacheSameFilter(t *testing.T) {
	rt := testutil.NewRuntime(t)
	clearSeccompCache(t)
	t.Cleanup(func() { clearSeccompCache(t) })
	b := testutil.NewBundle(t, "/bin/true")

	t.Setenv("HARDENED_SECCOMP_CACHE", "off")
	compiled := createdFilter(t, rt, b)
	if n := len(seccompCacheEntries(t)); n != 0 {
		t.Fatalf("HARDENED_SECCOMP_CACHE=off: %d cache entries written", n)
	}
	t.Setenv("HARDENED_SECCOMP_CACHE", "")
	cached := createdFilter(t, rt, b)
	entries := seccompCacheEntries(t)
	if len(entries) != 1 {
		t.Fatalf("after a create with the cache: %d entries, want 1", len(entries))
	}
	if len(compiled) == 0 || !bytes.Equal(compiled, cached) {
		t.Fatalf("filter loaded from the cache (%d instructions) differs from the compiled one (%d)", len(cached)/8, len(compiled)/8)
	}
	// A second container with the same profile uses the same entry.
	if again := createdFilter(t, rt, b); !bytes.Equal(again, compiled) {
		t.Errorf("second cached create: filter differs")
	}
	if n := len(seccompCacheEntries(t)); n != 1 {
		t.Errorf("after a second create: %d entries, want 1", n)
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
	if got := createdFilter(t, rt, b); bytes.Equal(got, compiled) {
		t.Errorf("with a replaced cache entry the init still loaded the compiled filter: the cache is not used")
	}
	// An entry others could have written is ignored.
	if err := os.Chmod(path, 0o606); err != nil {
		t.Fatal(err)
	}
	if got := createdFilter(t, rt, b); !bytes.Equal(got, compiled) {
		t.Errorf("an other-writable cache entry was used")
	}
}

// A filter whose libseccomp calls start like a cached entry's and then
// part from them (one capability more, so Docker's profile has more
// rules) is held back while it matches, then handed to libseccomp in
// order: the init ends up with the filter it compiles without any cache.
func TestSeccompCachePartialMatchCompiles(t *testing.T) {
	rt := testutil.NewRuntime(t)
	clearSeccompCache(t)
	t.Cleanup(func() { clearSeccompCache(t) })
	base := testutil.NewBundle(t, "/bin/true")
	more := testutil.NewBundle(t, "/bin/true")
	more.Edit(t, func(s *specs.Spec) { setAllCapSets(s.Process, append(baselineCaps(), "CAP_SYSLOG")) })
	flag, _ := testutil.WritePolicy(t, `{"allowCapabilities": ["CAP_SYSLOG"]}`)

	t.Setenv("HARDENED_SECCOMP_CACHE", "off")
	want := createdFilter(t, rt, more, flag)
	if n := len(seccompCacheEntries(t)); n != 0 {
		t.Fatalf("HARDENED_SECCOMP_CACHE=off: %d cache entries written", n)
	}
	// Cache the smaller profile only; the larger one is not added.
	t.Setenv("HARDENED_SECCOMP_CACHE", "")
	baseFilter := createdFilter(t, rt, base, flag)
	if bytes.Equal(baseFilter, want) {
		t.Fatal("the two profiles compile to the same filter: the test shows nothing")
	}
	if n := len(seccompCacheEntries(t)); n != 1 {
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

func seccompCacheEntries(t *testing.T) []string {
	t.Helper()
	des, err := os.ReadDir(seccompcache.Dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var out []string
	for _, de := range des {
		if strings.HasSuffix(de.Name(), ".bpfc") {
			out = append(out, filepath.Join(seccompcache.Dir, de.Name()))
		}
	}
	return out
}

// clearSeccompCache empties the cache; it only holds what the runtime
// can rebuild.
func clearSeccompCache(t *testing.T) {
	t.Helper()
	for _, p := range seccompCacheEntries(t) {
		if err := os.Remove(p); err != nil {
			t.Error(err)
		}
	}
}
