package hardening

import (
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// nsFileNames maps namespace types to their file names under /proc/<pid>/ns.
func nsFileNames() map[specs.LinuxNamespaceType]string {
	return map[specs.LinuxNamespaceType]string{
		specs.PIDNamespace: "pid", specs.NetworkNamespace: "net", specs.IPCNamespace: "ipc",
		specs.UTSNamespace: "uts", specs.MountNamespace: "mnt", specs.CgroupNamespace: "cgroup",
		specs.UserNamespace: "user", specs.TimeNamespace: "time",
	}
}

// hostNamespaceJoins returns the namespace paths of s that lead to the
// host's own namespace of their type: the same device and inode as the
// runtime's own namespace file (the runtime runs in the host's namespaces)
// or PID 1's where that is readable, whether the path is /proc/<any host
// pid>/ns/net, a symlink to one, or a bind-mounted namespace file. A path
// opened in files is judged by that descriptor.
func hostNamespaceJoins(s *specs.Spec, files NamespaceFiles) map[string]bool {
	if s.Linux == nil {
		return nil
	}
	names := nsFileNames()
	var out map[string]bool
	for _, ns := range s.Linux.Namespaces {
		name, ok := names[ns.Type]
		if ns.Path == "" || !ok {
			continue
		}
		st, opened := files.stat(ns.Path)
		if !opened && (files != nil || unix.Stat(ns.Path, &st) != nil) {
			continue
		}
		if sameInode(st, filepath.Join("/proc/self/ns", name)) || sameInode(st, filepath.Join("/proc/1/ns", name)) {
			if out == nil {
				out = map[string]bool{}
			}
			out[ns.Path] = true
		}
	}
	return out
}

// sameInode reports whether path (symlinks followed) is the inode st.
func sameInode(st unix.Stat_t, path string) bool {
	var sp unix.Stat_t
	if unix.Stat(path, &sp) != nil {
		return false
	}
	return st.Dev == sp.Dev && st.Ino == sp.Ino
}
