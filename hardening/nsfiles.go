package hardening

import (
	"os"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// NamespaceFiles are the namespace files that linux.namespaces names,
// opened once, by the path as written. The rules' facts about a namespace
// (whose it is, whether it is the host's, who owns it) are read from
// these descriptors, and libcontainer is given them to join (ProcPath),
// so that what is checked is what the container joins: a
// /proc/<pid>/ns/<type> path whose process exits and whose PID is reused
// between the check and the join leads to the namespace checked, not to
// the new process's.
type NamespaceFiles map[string]*os.File

// OpenNamespaceFiles opens every namespace path of s that is a namespace
// file (nsfs). A path that does not open as one is left out; the facts
// then say nothing of it (nor are they read by path later) and the rules
// treat it as unknown. The files are
// close-on-exec and stay open for the life of the process: a container's
// init opens them through /proc/<pid>/fd while this process waits for it.
func OpenNamespaceFiles(s *specs.Spec) NamespaceFiles {
	if s == nil || s.Linux == nil {
		return nil
	}
	out := NamespaceFiles{}
	for _, ns := range s.Linux.Namespaces {
		if ns.Path == "" || out[ns.Path] != nil {
			continue
		}
		f, err := os.OpenFile(ns.Path, os.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			continue
		}
		var sfs unix.Statfs_t
		if unix.Fstatfs(int(f.Fd()), &sfs) != nil || sfs.Type != unix.NSFS_MAGIC {
			f.Close()
			continue
		}
		out[ns.Path] = f
	}
	return out
}

// known reports whether path may be inspected: it was opened, or n is
// nil (facts gathered without OpenNamespaceFiles, by path).
func (n NamespaceFiles) known(path string) bool {
	return n == nil || n[path] != nil
}

// ProcPath returns the path through which this process and its children
// reach the file opened for path (/proc/<pid>/fd/<fd>), or path itself
// when it was not opened.
func (n NamespaceFiles) ProcPath(path string) string {
	f := n[path]
	if f == nil {
		return path
	}
	return "/proc/" + strconv.Itoa(os.Getpid()) + "/fd/" + strconv.Itoa(int(f.Fd()))
}

// stat returns the device and inode of the file opened for path; ok is
// false when it was not opened.
func (n NamespaceFiles) stat(path string) (st unix.Stat_t, ok bool) {
	f := n[path]
	if f == nil {
		return st, false
	}
	return st, unix.Fstat(int(f.Fd()), &st) == nil
}

// Close closes every file.
func (n NamespaceFiles) Close() {
	for _, f := range n {
		f.Close()
	}
}
