package learn

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// notification is the kernel's struct seccomp_notif.
type notification struct {
	id    uint64
	pid   uint32
	flags uint32
	// struct seccomp_data
	nr   int32
	arch uint32
	ip   uint64
	args [6]uint64
}

// notificationResponse is the kernel's struct seccomp_notif_resp.
type notificationResponse struct {
	id    uint64
	val   int64
	error int32
	flags uint32
}

// receive reads one notification from fd. ENOENT means the notifying
// task is gone (or was interrupted) before it was read.
func receive(fd int, n *notification) error {
	*n = notification{} // the kernel wants it zeroed
	for {
		_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SECCOMP_IOCTL_NOTIF_RECV, uintptr(unsafe.Pointer(n)))
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return errno
		}
		return nil
	}
}

// respond answers notification id: continue (run the call as the filter
// would have allowed it), or fail it with errno.
func respond(fd int, id uint64, errno unix.Errno) error {
	r := notificationResponse{id: id}
	if errno == 0 {
		r.flags = unix.SECCOMP_USER_NOTIF_FLAG_CONTINUE
	} else {
		r.error = -int32(errno)
	}
	for {
		_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SECCOMP_IOCTL_NOTIF_SEND, uintptr(unsafe.Pointer(&r)))
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return e
		}
		return nil
	}
}

// syncWakeUp asks the kernel to wake the recorder on the notifying
// task's CPU (SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP, Linux 6.6): a round
// trip costs less. Older kernels refuse; that only costs time.
func syncWakeUp(fd int) {
	_, _, _ = unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SECCOMP_IOCTL_NOTIF_SET_FLAGS, unix.SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP)
}
