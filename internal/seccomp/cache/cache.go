//go:build linux && cgo && seccomp

package cache

/*
#cgo LDFLAGS: -ldl
#include <stdlib.h>
#include "interpose.h"

static const char *seccompcache_dir(void) { return SECCOMPCACHE_DIR; }
*/
import "C"

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/seccomp"
	"golang.org/x/sys/unix"

	"github.com/hardened-runtime/hardened/spec"
)

// maxEntries is how many compiled filters are kept (the init reads at
// most as many); the oldest go first. entryMagic opens an entry file.
// Both come from the C side, which reads the entries.
const (
	maxEntries = C.SECCOMPCACHE_MAX_ENTRIES
	entryMagic = C.SECCOMPCACHE_MAGIC
)

// Ensure makes sure the cache holds the compiled filter for cfg, building
// it in a helper process when it does not. A filter with notify rules (a
// learned profile's, package learn) is cached like any other: the
// program does not depend on where the notification fd goes
// (listenerPath), which the entry's name leaves out, so the containers of
// one profile share an entry. An error means only that the container's
// init will compile the filter itself.
func (c Cache) Ensure(cfg *configs.Seccomp) error {
	if cfg == nil || cfg.DefaultAction == configs.Notify || notifiesHelperCalls(cfg) {
		return nil
	}
	path := filepath.Join(c.Dir, c.entryName(cfg))
	if _, err := os.Lstat(path); err == nil {
		return nil
	}
	// A binary that links this package but does not dispatch HelperArg
	// would run its own main again, and that one Ensure again: the
	// helper's environment marks it so that such a chain stops here.
	if os.Getenv(helperEnv) != "" {
		return fmt.Errorf("seccomp cache: %s did not run as the compile helper (%s is not dispatched to HelperMain)", os.Args[0], HelperArg)
	}
	exe := c.Exe
	if exe == "" {
		exe = "/proc/self/exe"
	}
	cmd := exec.Command(exe, HelperArg, path)
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	raw, err := json.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("seccomp cache: %w", err)
	}
	cmd.Stdin = bytes.NewReader(raw)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	// A helper stuck in a notified call (nothing listens) must not hold
	// the create: the init then compiles the filter itself.
	cmd.WaitDelay = time.Second
	timer := time.AfterFunc(helperTimeout, func() {
		if cmd.Process != nil {
			_ = cmd.Process.Kill()
		}
	})
	defer timer.Stop()
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("seccomp cache: compile %s: %w: %s", path, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// Program returns the BPF program the cache holds for cfg, compiling it
// first when it holds none.
func (c Cache) Program(cfg *configs.Seccomp) ([]byte, error) {
	if err := c.Ensure(cfg); err != nil {
		return nil, err
	}
	path := filepath.Join(c.Dir, c.entryName(cfg))
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("seccomp cache: %w", err)
	}
	_, bpf, err := decodeEntry(raw)
	if err != nil {
		return nil, fmt.Errorf("seccomp cache: %s: %w", path, err)
	}
	return bpf, nil
}

// entryName names cfg's entry: a hash of the build, the libseccomp
// version and every field of cfg, written out by hand (encoding/json was a
// measurable part of every create, tests/bench/README.md). Two profiles can only share a name if they
// differ in a field this misses, and then the init, which compares the
// libseccomp calls in full, compiles the second one itself.
func (c Cache) entryName(cfg *configs.Seccomp) string {
	// Streamed into the hash: a profile of hundreds of rules would be a
	// large buffer, and every byte allocated here stays resident in a
	// create.
	h := sha256.New()
	var scratch [32]byte
	str := func(s string) {
		h.Write(append(strconv.AppendInt(scratch[:0], int64(len(s)), 10), ':'))
		io.WriteString(h, s)
	}
	num := func(n uint64) { h.Write(append(strconv.AppendUint(scratch[:0], n, 10), ';')) }
	mark := func(m string) { io.WriteString(h, m) }
	opt := func(p *uint) {
		if p == nil {
			mark("-")
			return
		}
		num(uint64(*p))
	}
	str(c.Build)
	str(seccompVersion())
	num(uint64(cfg.DefaultAction))
	opt(cfg.DefaultErrnoRet)
	num(uint64(len(cfg.Architectures)))
	for _, a := range cfg.Architectures {
		str(a)
	}
	num(uint64(len(cfg.Flags)))
	for _, f := range cfg.Flags {
		str(string(f))
	}
	// Not cfg.ListenerPath and ListenerMetadata: libcontainer's parent
	// uses them, the program is the same.
	num(uint64(len(cfg.Syscalls)))
	for _, sc := range cfg.Syscalls {
		if sc == nil {
			mark("!")
			continue
		}
		str(sc.Name)
		num(uint64(sc.Action))
		opt(sc.ErrnoRet)
		num(uint64(len(sc.Args)))
		for _, a := range sc.Args {
			if a == nil {
				mark("!")
				continue
			}
			num(uint64(a.Index))
			num(a.Value)
			num(a.ValueTwo)
			num(uint64(a.Op))
		}
	}
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0])[:16]) + ".bpfc"
}

func seccompVersion() string {
	major, minor, micro := seccomp.Version()
	return fmt.Sprintf("%d.%d.%d", major, minor, micro)
}

// helperTimeout bounds one compile helper.
const helperTimeout = 20 * time.Second

// helperCalls are the system calls the compile helper's thread may make
// once it has loaded the filter (closing the notification fd, parking,
// the Go runtime's signal and memory calls). A filter that notifies one
// of them would stop the helper in a call no one answers: it is not
// cached (a caller's notify profile, e.g. runc's tests of seccomp
// agents); the learned-profile filters never notify these.
func helperCalls() []string {
	return []string{
		"close", "futex", "exit", "exit_group", "write", "read", "nanosleep", "clock_nanosleep",
		"sched_yield", "getpid", "gettid", "tgkill", "mmap", "munmap", "madvise", "mprotect", "brk",
		"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack", "clock_gettime", "gettimeofday",
		"epoll_pwait", "epoll_wait", "epoll_ctl",
	}
}

// notifiesHelperCalls reports whether cfg notifies one of helperCalls.
func notifiesHelperCalls(cfg *configs.Seccomp) bool {
	calls := helperCalls()
	for _, sc := range cfg.Syscalls {
		if sc != nil && sc.Action == configs.Notify && slices.Contains(calls, sc.Name) {
			return true
		}
	}
	return false
}

// helperEnv is set in the helper's environment.
const helperEnv = "_HARDENED_SECCOMP_HELPER"

// HelperMain is the compile helper: it reads a libcontainer seccomp
// config as JSON on stdin, builds and loads the filter exactly as a
// container's init does (on a thread of its own, which then exits), and
// writes what libseccomp was asked and what it exported to args[0]. It
// returns the process's exit code.
func HelperMain(args []string) int {
	if err := helper(args); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", HelperArg, err)
		return 1
	}
	return 0
}

func helper(args []string) error {
	if len(args) != 1 || !filepath.IsAbs(args[0]) {
		return errors.New("usage: " + HelperArg + " <absolute entry path>")
	}
	path := args[0]
	raw, err := io.ReadAll(os.Stdin)
	if err != nil {
		return err
	}
	var cfg configs.Seccomp
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return fmt.Errorf("seccomp config: %w", err)
	}
	entry, err := capture(&cfg)
	if err != nil {
		return err
	}
	return writeEntry(path, entry)
}

// capture builds cfg's filter with libcontainer on a locked thread and
// returns the entry file's content. libcontainer loads the filter on that
// thread, so the thread never runs again: it parks until the process exits.
// Letting it exit would not do: the Go runtime blocks signals on a thread's
// way out, and under a profile that denies rt_sigprocmask that crashed the
// helper now and then. The thread blocks every signal before it loads the
// filter: a signal handled on it would end in rt_sigreturn, which a
// profile may deny (the return then jumps nowhere: SIGSEGV, one run in
// about 50 of the tests' four-call profile).
func capture(cfg *configs.Seccomp) ([]byte, error) {
	type result struct {
		entry []byte
		err   error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		entry, err := captureOnThisThread(cfg)
		done <- result{entry, err}
		select {}
	}()
	r := <-done
	return r.entry, r.err
}

func captureOnThisThread(cfg *configs.Seccomp) ([]byte, error) {
	all := unix.Sigset_t{}
	for i := range all.Val {
		all.Val[i] = ^all.Val[i]
	}
	if err := unix.PthreadSigmask(unix.SIG_BLOCK, &all, nil); err != nil {
		return nil, fmt.Errorf("block signals: %w", err)
	}
	C.seccompcache_capture_begin()
	fd, err := seccomp.InitSeccomp(cfg)
	if err != nil {
		return nil, fmt.Errorf("build filter: %w", err)
	}
	if fd >= 0 {
		unix.Close(fd)
	}
	var logp, bpfp *C.uchar
	var logLen, bpfLen C.size_t
	if C.seccompcache_capture_result(&logp, &logLen, &bpfp, &bpfLen) == 0 || bpfLen == 0 {
		return nil, errors.New("libseccomp exported no program")
	}
	log := C.GoBytes(unsafe.Pointer(logp), C.int(logLen))
	bpf := C.GoBytes(unsafe.Pointer(bpfp), C.int(bpfLen))
	return encodeEntry(log, bpf), nil
}

func encodeEntry(log, bpf []byte) []byte {
	out := make([]byte, 12, 12+len(log)+len(bpf))
	binary.NativeEndian.PutUint32(out[0:], entryMagic)
	binary.NativeEndian.PutUint32(out[4:], uint32(len(log)))
	binary.NativeEndian.PutUint32(out[8:], uint32(len(bpf)))
	return append(append(out, log...), bpf...)
}

// decodeEntry splits an entry file into the log of libseccomp calls and the
// program.
func decodeEntry(raw []byte) (log, bpf []byte, err error) {
	if len(raw) < 12 {
		return nil, nil, errors.New("entry too short")
	}
	magic, logLen, bpfLen := binary.NativeEndian.Uint32(raw), binary.NativeEndian.Uint32(raw[4:]), binary.NativeEndian.Uint32(raw[8:])
	if magic != entryMagic || 12+uint64(logLen)+uint64(bpfLen) != uint64(len(raw)) || bpfLen == 0 || bpfLen%8 != 0 {
		return nil, nil, fmt.Errorf("bad entry: magic %#x, log %d, program %d bytes, file %d", magic, logLen, bpfLen, len(raw))
	}
	return raw[12 : 12+logLen], raw[12+logLen:], nil
}

// writeEntry stores an entry, making room first: at most maxEntries stay.
func writeEntry(path string, entry []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return err
	}
	if err := evict(dir, maxEntries-1); err != nil {
		return err
	}
	return spec.ReplaceFile(path, entry, 0o600)
}

// evict removes the oldest entries of dir until at most keep are left.
func evict(dir string, keep int) error {
	des, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	type aged struct {
		name string
		mod  int64
	}
	var entries []aged
	for _, de := range des {
		if !strings.HasSuffix(de.Name(), ".bpfc") {
			continue
		}
		if info, err := de.Info(); err == nil {
			entries = append(entries, aged{de.Name(), info.ModTime().UnixNano()})
		}
	}
	if len(entries) <= keep {
		return nil
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].mod < entries[j].mod })
	for _, e := range entries[:len(entries)-keep] {
		if err := os.Remove(filepath.Join(dir, e.name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// cDir is the directory the C side reads (for the test that it is Dir).
func cDir() string { return C.GoString(C.seccompcache_dir()) }
