//go:build linux && cgo

package idmap

/*
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define HOLDER_STACK (16 * 1024)

// holder is the whole life of the process that owns a new user namespace:
// it shares the caller's memory (CLONE_VM), so it may touch nothing but its
// own stack; every signal is blocked (the caller's mask at clone), so only
// SIGKILL ends it, and pause never returns before that. It gets SIGKILL
// when its creator dies too: a runtime killed with kill -9 while it held
// one would otherwise leave it running, holding the namespace and a copy
// of the runtime's descriptors (a create lock among them). arg is the
// creator's pid, to see that it did not die before the prctl.
static int holder(void *arg)
{
	syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (syscall(SYS_getppid) != (long)arg)
		syscall(SYS_exit, 0);
	for (;;)
		syscall(SYS_pause);
	return 0;
}

// spawn_userns_holder starts holder in a new user namespace and returns its
// pid (or -errno). *stack is to be freed once the holder has been reaped.
static int spawn_userns_holder(void **stack)
{
	sigset_t all, old;
	int pid, err;

	*stack = malloc(HOLDER_STACK);
	if (*stack == NULL)
		return -ENOMEM;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid = clone(holder, (char *)*stack + HOLDER_STACK, CLONE_VM | CLONE_NEWUSER | SIGCHLD, (void *)(long)getpid());
	err = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pid < 0) {
		free(*stack);
		*stack = NULL;
		return -err;
	}
	return pid;
}
*/
import "C"

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// UsernsFile returns an open /proc/<pid>/ns/user of a new user namespace
// with mapping m for both uids and gids. The namespace lives as long as the
// file is open (or something else holds it).
//
// The namespace is made by a process cloned with CLONE_VM from C: it runs
// no program and copies no page tables, so it is much cheaper than
// starting a helper with os.StartProcess (Go does not vfork for
// CLONE_NEWUSER, and the helper must exec), which was a visible part of
// every create (tests/bench/README.md, "Figures behind code comments").
// The process is killed and reaped before UsernsFile returns.
func UsernsFile(m Mapping) (*os.File, error) {
	var stack unsafe.Pointer
	pid := int(C.spawn_userns_holder(&stack))
	if pid < 0 {
		return nil, fmt.Errorf("user namespace for %d->%s: clone: %w", m.ContainerID, m.Host, syscall.Errno(-pid))
	}
	defer func() {
		_ = unix.Kill(pid, unix.SIGKILL)
		var ws unix.WaitStatus
		for {
			if _, err := unix.Wait4(pid, &ws, 0, nil); err != unix.EINTR {
				break
			}
		}
		C.free(stack)
	}()
	proc := "/proc/" + strconv.Itoa(pid)
	line := []byte(fmt.Sprintf("%d %d %d\n", m.ContainerID, m.Host.Start, m.Host.Size))
	for _, name := range []string{"uid_map", "gid_map"} {
		if err := writeMapFile(proc+"/"+name, line); err != nil {
			return nil, fmt.Errorf("user namespace for %d->%s: %w", m.ContainerID, m.Host, err)
		}
	}
	f, err := os.Open(proc + "/ns/user")
	if err != nil {
		return nil, fmt.Errorf("user namespace for %d->%s: %w", m.ContainerID, m.Host, err)
	}
	return f, nil
}

// writeMapFile writes a uid_map or gid_map in one write(2), as the kernel
// requires.
func writeMapFile(path string, line []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.Write(line)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
