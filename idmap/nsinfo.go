package idmap

import (
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// nsGetUserns is NS_GET_USERNS (ioctl_ns(2)): a descriptor of the user
// namespace that owns a namespace.
const nsGetUserns = 0xb701

// UsernsInfo describes the user namespace that owns (or is) a namespace.
type UsernsInfo struct {
	// Path joins that user namespace: /proc/<pid>/ns/user of a process in
	// it. Empty when no such path is known (a bind-mounted nsfs file).
	Path string
	// Host is true for the host's initial user namespace (the runtime's).
	Host bool
	// UIDMap and GIDMap are the namespace's mappings, read from the
	// process at Path, or for a namespace file of no known process, by
	// the caller's helper (hardening.GatherUsernsFacts); nil when unknown
	// or Host is true.
	UIDMap, GIDMap []Mapping
}

// procNSPID returns the pid of a /proc/<pid>/ns/<type> path.
func procNSPID(path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, "/proc/")
	if !ok {
		return "", false
	}
	pid, typ, ok := strings.Cut(rest, "/ns/")
	if !ok || pid == "" || typ == "" || strings.Trim(pid, "0123456789") != "" || strings.Trim(typ, "abcdefghijklmnopqrstuvwxyz_") != "" {
		return "", false
	}
	return pid, true
}

// OwnerUserns returns the user namespace that owns the namespace file at
// nsPath (for a user namespace: the namespace itself), found with the
// NS_GET_USERNS ioctl, and when nsPath is /proc/<pid>/ns/<type>, the path
// and mappings of that process's user namespace if it is the same one.
func OwnerUserns(nsPath string) (UsernsInfo, error) {
	return OwnerUsernsOf(nsPath, nsPath)
}

// OwnerUsernsOf is OwnerUserns of the namespace file opened at openPath
// (e.g. /proc/self/fd/N of a descriptor the caller keeps), where nsPath is
// the path as the spec wrote it: only its /proc/<pid>/ns/<type> form is
// read, as a hint of which process to compare the owner with.
//
// The process's user namespace and its mappings are read through one
// descriptor of its /proc/<pid> directory: should the process exit and
// its pid be reused in between, the mappings read are still those of the
// namespace compared, or none.
func OwnerUsernsOf(openPath, nsPath string) (UsernsInfo, error) {
	return ownerUsernsOf(openPath, nsPath, "/proc", nil)
}

// ownerUsernsOf is OwnerUsernsOf with the process directories under proc
// (the tests' copy of a /proc/<pid> directory); compared, when set (by
// tests only), is called after the process's user namespace was compared
// and before its mappings are read.
func ownerUsernsOf(openPath, nsPath, proc string, compared func()) (UsernsInfo, error) {
	var info UsernsInfo
	f, err := os.Open(openPath)
	if err != nil {
		return info, fmt.Errorf("namespace %s: %w", nsPath, err)
	}
	defer f.Close()
	owner := f
	if t, err := unix.IoctlRetInt(int(f.Fd()), unix.NS_GET_NSTYPE); err != nil {
		return info, fmt.Errorf("namespace %s: not a namespace file: %w", nsPath, err)
	} else if t != unix.CLONE_NEWUSER {
		fd, err := unix.IoctlRetInt(int(f.Fd()), nsGetUserns)
		if err != nil {
			return info, fmt.Errorf("namespace %s: owning user namespace: %w", nsPath, err)
		}
		owner = os.NewFile(uintptr(fd), "userns")
		defer owner.Close()
	}
	var ownerSt, hostSt, procSt unix.Stat_t
	if err := unix.Fstat(int(owner.Fd()), &ownerSt); err != nil {
		return info, fmt.Errorf("namespace %s: %w", nsPath, err)
	}
	if err := unix.Stat("/proc/self/ns/user", &hostSt); err != nil {
		return info, err
	}
	if ownerSt.Dev == hostSt.Dev && ownerSt.Ino == hostSt.Ino {
		info.Host = true
		return info, nil
	}
	pid, ok := procNSPID(nsPath)
	if !ok {
		return info, nil
	}
	dir, err := unix.Open(proc+"/"+pid, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return info, nil
	}
	defer unix.Close(dir)
	if err := unix.Fstatat(dir, "ns/user", &procSt, 0); err != nil || procSt.Dev != ownerSt.Dev || procSt.Ino != ownerSt.Ino {
		return info, nil
	}
	if compared != nil {
		compared()
	}
	uids, err := readIDMapAt(dir, "uid_map")
	if err != nil {
		return info, nil
	}
	gids, err := readIDMapAt(dir, "gid_map")
	if err != nil {
		return info, nil
	}
	info.Path, info.UIDMap, info.GIDMap = "/proc/"+pid+"/ns/user", uids, gids
	return info, nil
}
