package learn

import (
	"slices"

	"github.com/opencontainers/runc/libcontainer/configs"
	"golang.org/x/sys/unix"
)

// ArgIndexes maps a system call to the argument indexes the profile's
// rules filter it on: the values the recorder keeps.
type ArgIndexes map[string][]uint

// runtimeCalls are the calls the Go runtime of libcontainer's init may
// make at any moment (threads, memory, signals, scheduling, its
// netpoller), including in the window between loading the filter and
// handing its notification fd to the runtime. A notified call there
// waits for a recorder that cannot have the fd yet, and the init, which
// holds the fd itself, never gets ENOSYS: the create hangs (seen under
// load, a signal's rt_sigreturn). So they are never notified: allowed
// and not recorded while learning, allowed when enforcing. write is one
// of them: the init writes the fd's number with it (libcontainer refuses
// a notify rule on it). brk: libseccomp frees its filter (glibc's free
// may trim the heap) after loading it. The clock calls: the Go runtime
// reads the clock all the time through the vDSO, which makes the system
// call itself when the clocksource has no vDSO reading (hpet or acpi_pm,
// e.g. in a qemu TCG guest: there a learning create hung).
func runtimeCalls() []string {
	return []string{
		"futex", "nanosleep", "clock_nanosleep", "sched_yield", "getpid", "gettid", "tgkill",
		"clock_gettime", "clock_getres", "gettimeofday", "time",
		"mmap", "munmap", "madvise", "mprotect", "brk", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack",
		"epoll_pwait", "epoll_wait", "epoll_ctl", "read", "write", "clone", "exit",
	}
}

// handshakeCalls are the calls libcontainer's init makes after handing
// over the fd and before execve: the sync socket, the exec fifo reopened
// through /proc (pathrs checks), closing its fds, execve. Every learned
// profile holds them; notifying them would only make create wait for
// the recorder to start. So they are not notified either, and always
// allowed when enforcing.
func handshakeCalls() []string {
	return []string{
		"recvfrom", "close", "fcntl", "fstat", "fstatfs", "statx", "readlink", "getdents64",
		"openat", "openat2", "prctl", "execve", "exit_group",
	}
}

// InitCallNames are the calls every enforced profile and every export
// hold whether learned or not (runtimeCalls and handshakeCalls).
func InitCallNames() []string {
	return append(runtimeCalls(), handshakeCalls()...)
}

// isInitCall reports whether name is one of runtimeCalls or
// handshakeCalls: never notified.
func isInitCall(name string) bool {
	return slices.Contains(runtimeCalls(), name) || slices.Contains(handshakeCalls(), name)
}

// RewriteForLearning turns every rule of cfg that allows into a notify
// rule (except runtimeCalls and handshakeCalls) and points the filter at listener; denials
// are untouched. It returns the argument indexes to record.
func RewriteForLearning(cfg *configs.Seccomp, listener string) ArgIndexes {
	idx := ArgIndexes{}
	for _, sc := range cfg.Syscalls {
		if sc == nil || sc.Action != configs.Allow || isInitCall(sc.Name) {
			continue
		}
		sc.Action = configs.Notify
		for _, a := range sc.Args {
			if a != nil && !slices.Contains(idx[sc.Name], a.Index) {
				idx[sc.Name] = append(idx[sc.Name], a.Index)
			}
		}
	}
	for _, v := range idx {
		slices.Sort(v)
	}
	cfg.ListenerPath = listener
	return idx
}

// goThreadCloneFlags are the clone flags of a Go runtime's new thread
// (runtime/os_linux.go cloneFlags).
const goThreadCloneFlags = unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND | unix.CLONE_SYSVSEM | unix.CLONE_THREAD

// initCalls are the calls enforcing always keeps and an export always
// includes (runc's init is a Go program too): runtimeCalls, with clone
// for a new thread, and handshakeCalls.
func initCalls() *Profile {
	p := NewProfile("init")
	for _, n := range append(runtimeCalls(), handshakeCalls()...) {
		if n != "clone" {
			p.Add(n, nil, [6]uint64{})
		}
	}
	p.Add("clone", []uint{0, 1}, [6]uint64{goThreadCloneFlags, goThreadCloneFlags})
	return p
}

// withInitCalls returns p merged with initCalls (p is not changed).
func (p *Profile) withInitCalls() *Profile {
	out := NewProfile(p.Key)
	out.Merge(p)
	out.Merge(initCalls())
	return out
}

// RewriteForEnforcing narrows cfg to what p saw (and initCalls): every allowing rule
// whose call p lacks, or whose argument conditions no recorded value
// meets, becomes a notify rule (the recorder denies it with EPERM and
// records it). It returns the names of the calls so denied, sorted and
// unique; only when there are any does the filter get listener.
func RewriteForEnforcing(cfg *configs.Seccomp, p *Profile, listener string) []string {
	p = p.withInitCalls()
	var denied []string
	for _, sc := range cfg.Syscalls {
		if sc == nil || sc.Action != configs.Allow || isInitCall(sc.Name) {
			continue
		}
		if p.allows(sc) {
			continue
		}
		sc.Action = configs.Notify
		if !slices.Contains(denied, sc.Name) {
			denied = append(denied, sc.Name)
		}
	}
	// A name denied by one rule may still be allowed by another (e.g. one
	// personality value learned, another not): it is not wholly denied.
	denied = slices.DeleteFunc(denied, func(n string) bool {
		return slices.ContainsFunc(cfg.Syscalls, func(sc *configs.Syscall) bool {
			return sc != nil && sc.Name == n && sc.Action == configs.Allow
		})
	})
	slices.Sort(denied)
	if hasNotify(cfg) {
		cfg.ListenerPath = listener
	}
	return denied
}

// hasNotify reports whether a rule of cfg notifies.
func hasNotify(cfg *configs.Seccomp) bool {
	return slices.ContainsFunc(cfg.Syscalls, func(sc *configs.Syscall) bool {
		return sc != nil && sc.Action == configs.Notify
	})
}

// allows reports whether p saw a call that rule sc allows: the name, and
// for each argument condition a recorded value that meets it.
func (p *Profile) allows(sc *configs.Syscall) bool {
	use, ok := p.Syscalls[sc.Name]
	if !ok {
		return false
	}
	for _, a := range sc.Args {
		if a == nil || slices.Contains(use.AnyArgs, a.Index) {
			continue
		}
		if !slices.ContainsFunc(use.Args[a.Index], func(v uint64) bool { return argMatches(a, v) }) {
			return false
		}
	}
	return true
}

// argMatches reports whether value v meets condition a, as the kernel
// compares it (64 bits).
func argMatches(a *configs.Arg, v uint64) bool {
	switch a.Op {
	case configs.EqualTo:
		return v == a.Value
	case configs.NotEqualTo:
		return v != a.Value
	case configs.GreaterThan:
		return v > a.Value
	case configs.GreaterThanOrEqualTo:
		return v >= a.Value
	case configs.LessThan:
		return v < a.Value
	case configs.LessThanOrEqualTo:
		return v <= a.Value
	case configs.MaskEqualTo:
		return v&a.Value == a.ValueTwo
	}
	return false
}
