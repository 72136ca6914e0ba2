// Command probe is run inside test containers to report, one line per
// argument, what the kernel (and the container's seccomp filter) answered:
//
//	<arg> <result>
//
// where result is OK or the errno's name (EPERM, ENOSYS, EROFS...). The
// integration tests build it statically (CGO_ENABLED=0) into a bundle's
// rootfs and compare the lines with what the hardening policy promises.
//
// An argument is either a syscall name from the table in syscalls, or an
// operation on a path:
//
//	write=/path  create (or truncate) the file and write a byte
//	read=/path   read the whole file; OK is followed by the byte count
//	exec=/path   execute the file with the argument "true" and wait
//	notify=MSG   send MSG as one datagram to $NOTIFY_SOCKET (sd_notify)
//
// Syscalls are called with arguments chosen so that, without a seccomp
// filter, the kernel rejects them with an errno other than EPERM wherever
// possible (a bad file descriptor, an invalid flag, a NULL pointer). EPERM
// then shows the filter answered, not a missing capability, and nothing is
// ever actually created, joined or loaded. The exceptions are kexec_load
// and kexec_file_load, which the kernel checks for CAP_SYS_BOOT first
// (see the comments in syscalls for kernel-dependent answers).
//
// The probe exits 0 whatever the answers; a malformed argument exits 2.
package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sort"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// attempt makes one syscall and returns its errno (0 on success).
type attempt func() syscall.Errno

func raw(nr uintptr, a ...uintptr) attempt {
	return func() syscall.Errno {
		var args [6]uintptr
		copy(args[:], a)
		_, _, e := syscall.RawSyscall6(nr, args[0], args[1], args[2], args[3], args[4], args[5])
		return e
	}
}

// syscalls maps names to attempts. Comments give the kernel's answer when
// no filter intervenes.
func syscalls() map[string]attempt {
	return map[string]attempt{
		"getpid":  raw(unix.SYS_GETPID),
		"getppid": raw(unix.SYS_GETPPID),
		// EINVAL: a multithreaded process cannot enter a new user namespace.
		"unshare": raw(unix.SYS_UNSHARE, unix.CLONE_NEWUSER),
		// EBADF.
		"setns": raw(unix.SYS_SETNS, ^uintptr(0), 0),
		// EOPNOTSUPP: no such keyctl operation.
		"keyctl": raw(unix.SYS_KEYCTL, 9999, 0, 0, 0, 0),
		// EFAULT: NULL key type.
		"add_key": raw(unix.SYS_ADD_KEY, 0, 0, 0, 0, 0),
		// EFAULT: NULL key type.
		"request_key": raw(unix.SYS_REQUEST_KEY, 0, 0, 0, 0),
		// EFAULT: NULL params.
		"io_uring_setup": raw(unix.SYS_IO_URING_SETUP, 1, 0),
		// EBADF.
		"io_uring_enter": raw(unix.SYS_IO_URING_ENTER, ^uintptr(0), 0, 0, 0, 0, 0),
		// EBADF.
		"io_uring_register": raw(unix.SYS_IO_URING_REGISTER, ^uintptr(0), 0, 0, 0),
		// EINVAL: user-mode-only (allowed unprivileged) plus an unknown flag.
		"userfaultfd": raw(unix.SYS_USERFAULTFD, 1|2),
		// EINVAL: no such command (kernels before 6.x answer EPERM first
		// when unprivileged BPF is disabled).
		"bpf": raw(unix.SYS_BPF, 9999, 0, 0),
		// EFAULT: NULL attr.
		"perf_event_open": raw(unix.SYS_PERF_EVENT_OPEN, 0, 0, ^uintptr(0), ^uintptr(0), 0),
		// EPERM (CAP_SYS_BOOT), or ENOSYS on a kernel without kexec.
		"kexec_load": raw(unix.SYS_KEXEC_LOAD, 0, 0, 0, 0),
		// EPERM (CAP_SYS_BOOT), or ENOSYS on a kernel without kexec.
		"kexec_file_load": raw(unix.SYS_KEXEC_FILE_LOAD, ^uintptr(0), ^uintptr(0), 0, 0, 0),
		// EFAULT: NULL handle (older kernels check CAP_DAC_READ_SEARCH
		// first: EPERM).
		"open_by_handle_at": raw(unix.SYS_OPEN_BY_HANDLE_AT, ^uintptr(0), 0, 0),
		// EFAULT: the NULL target is looked up before the CAP_SYS_ADMIN
		// check.
		"mount": raw(unix.SYS_MOUNT, 0, 0, 0, 0, 0),
		// EINVAL: CLONE_NEWNS cannot go with CLONE_FS, so nothing is cloned.
		"clone_newns": raw(unix.SYS_CLONE, unix.CLONE_NEWNS|unix.CLONE_FS, 0, 0, 0, 0),
		// EINVAL: clone_args size 0.
		"clone3": raw(unix.SYS_CLONE3, 0, 0),
	}
}

func main() {
	table := syscalls()
	code := 0
	for _, arg := range os.Args[1:] {
		op, path, isPath := strings.Cut(arg, "=")
		var res string
		switch {
		case isPath && op == "write":
			res = result(writeFile(path))
		case isPath && op == "read":
			data, err := os.ReadFile(path)
			res = result(err)
			if err == nil {
				res += fmt.Sprintf(" %d", len(data))
			}
		case isPath && op == "exec":
			res = result(exec.Command(path, "true").Run())
		case isPath && op == "notify":
			res = result(sdNotify(path))
		case !isPath && table[arg] != nil:
			res = errnoName(table[arg]())
		default:
			names := make([]string, 0, len(table))
			for n := range table {
				names = append(names, n)
			}
			sort.Strings(names)
			fmt.Fprintf(os.Stderr, "probe: unknown argument %q: use write=PATH, read=PATH, exec=PATH, notify=MSG or one of %s\n", arg, strings.Join(names, " "))
			code = 2
			continue
		}
		fmt.Printf("%s %s\n", arg, res)
	}
	os.Exit(code)
}

func writeFile(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write([]byte("x"))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// result names the errno inside err, OK for nil, or describes a failure
// that carries no errno (an exec'd program's exit status).
func result(err error) string {
	if err == nil {
		return "OK"
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errnoName(errno)
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return fmt.Sprintf("EXIT%d", ee.ExitCode())
	}
	return "ERROR(" + strings.ReplaceAll(err.Error(), " ", "_") + ")"
}

func errnoName(e syscall.Errno) string {
	if e == 0 {
		return "OK"
	}
	if name := unix.ErrnoName(e); name != "" {
		return name
	}
	return fmt.Sprintf("errno%d", uintptr(e))
}

// sdNotify sends msg to the unix datagram socket $NOTIFY_SOCKET.
func sdNotify(msg string) error {
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: os.Getenv("NOTIFY_SOCKET"), Net: "unixgram"})
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = conn.Write([]byte(msg))
	return err
}
