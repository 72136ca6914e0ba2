package learn

import (
	"slices"

	"github.com/opencontainers/runc/libcontainer/configs"
	"golang.org/x/sys/unix"
)

// ArgIndexes maps a system call to the argument indexes the profile's
// rules filter it on: the values the recorder keeps.
type ArgIndexes map[string][]uint

// neverNotified is the call that keeps its action: libcontainer's init
// writes the notification fd's number to its parent with write(2), so a
// notify rule on it would hang the init (libcontainer refuses one).
const neverNotified = "write"

// RewriteForLearning turns every rule of cfg that allows into a notify
// rule and points the filter at listener; denials are untouched. It
// returns the argument indexes to record.
func RewriteForLearning(cfg *configs.Seccomp, listener string) ArgIndexes {
	idx := ArgIndexes{}
	for _, sc := range cfg.Syscalls {
		if sc == nil || sc.Action != configs.Allow || sc.Name == neverNotified {
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

// initCalls are the calls a container's libcontainer init, a Go program,
// may make between loading the filter and execve whatever the workload:
// its runtime's (threads, memory, signals, scheduling) and the handshake
// with the runtime (the sync pipe, the exec fifo). Whether they show in
// one learning run depends on timing (a thread started under load), so
// enforcing always keeps them, and an export includes them (runc's init
// is a Go program too).
func initCalls() *Profile {
	p := NewProfile("init")
	for _, n := range []string{
		"futex", "nanosleep", "clock_nanosleep", "sched_yield", "getpid", "gettid", "tgkill",
		"mmap", "munmap", "madvise", "mprotect", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack",
		"read", "write", "close", "openat", "fcntl", "execve", "exit", "exit_group",
	} {
		p.Add(n, nil, [6]uint64{})
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
		if sc == nil || sc.Action != configs.Allow || sc.Name == neverNotified {
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

// AllowedNames returns the names of the calls some rule of cfg allows
// (unconditionally or under conditions), sorted.
func AllowedNames(cfg *configs.Seccomp) []string {
	var out []string
	for _, sc := range cfg.Syscalls {
		if sc != nil && sc.Action == configs.Allow && !slices.Contains(out, sc.Name) {
			out = append(out, sc.Name)
		}
	}
	slices.Sort(out)
	return out
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
