package hardening

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// DeviceNode is what the host has at a device path.
type DeviceNode struct {
	// Type is "c" (character device), "b" (block device), "p" (FIFO), or
	// "" for anything else (a regular file, a directory...).
	Type string `json:"type"`
	// Major and Minor are the device numbers of a "c" or "b" node.
	Major int64 `json:"major"`
	Minor int64 `json:"minor"`
}

// ProcessLimits are the limits the kernel puts on what the runtime can
// set for a container's process. The zero value means unknown: no
// kernel ceiling is applied.
type ProcessLimits struct {
	// RlimitHard maps rlimit names ("RLIMIT_NOFILE") to the runtime's own
	// hard limit, which the container's cannot exceed: the runtime sets
	// the init's limits with prlimit(2), and raising a hard limit needs
	// CAP_SYS_RESOURCE (absent from these hosts' bounding set, and never
	// held over a user namespace's process from outside it without being
	// held on the host). Nil when the runtime holds CAP_SYS_RESOURCE.
	RlimitHard map[string]uint64 `json:"rlimitHard,omitempty"`
	// OOMScoreAdjFloor is the lowest oom_score_adj the runtime can give a
	// process: -1000 with CAP_SYS_RESOURCE; without it, the kernel refuses
	// values below the one last set by a privileged writer, which it does
	// not show: the runtime's own value when negative (an engine's service
	// lowered it), else 0 (an engine that raised its shims' value by one
	// did so without privilege on hosts lacking CAP_SYS_RESOURCE). Nil:
	// unknown.
	OOMScoreAdjFloor *int `json:"oomScoreAdjFloor,omitempty"`
}

// rlimitResources maps the runtime-spec rlimit names to resource numbers.
func rlimitResources() map[string]int {
	return map[string]int{
		"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_CPU": unix.RLIMIT_CPU,
		"RLIMIT_DATA": unix.RLIMIT_DATA, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_LOCKS": unix.RLIMIT_LOCKS,
		"RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK, "RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE, "RLIMIT_NICE": unix.RLIMIT_NICE,
		"RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_RSS": unix.RLIMIT_RSS,
		"RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO, "RLIMIT_RTTIME": unix.RLIMIT_RTTIME,
		"RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING, "RLIMIT_STACK": unix.RLIMIT_STACK,
	}
}

// GatherProcessLimits reads the runtime's own ceilings: whether it holds
// CAP_SYS_RESOURCE, else its hard rlimits and its oom_score_adj.
func GatherProcessLimits() ProcessLimits {
	if capable, err := hasSysResource(); err != nil {
		return ProcessLimits{}
	} else if capable {
		floor := -1000
		return ProcessLimits{OOMScoreAdjFloor: &floor}
	}
	var pl ProcessLimits
	pl.RlimitHard = map[string]uint64{}
	for name, res := range rlimitResources() {
		var rl unix.Rlimit
		if err := unix.Getrlimit(res, &rl); err == nil {
			pl.RlimitHard[name] = rl.Max
		}
	}
	if b, err := os.ReadFile("/proc/self/oom_score_adj"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			floor := min(n, 0)
			pl.OOMScoreAdjFloor = &floor
		}
	}
	return pl
}

// hasSysResource reports whether this process has CAP_SYS_RESOURCE in
// its effective set, from one capget(2) (the capability package's Load
// also reads and scans /proc/self/status: ~0.1 ms per create).
func hasSysResource() (bool, error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false, fmt.Errorf("capget: %w", err)
	}
	const c = unix.CAP_SYS_RESOURCE
	return data[c/32].Effective&(1<<(c%32)) != 0, nil
}

// GatherDeviceNodes looks at the host path of every linux.devices entry
// that is a clean path under /dev: libcontainer bind-mounts that very path
// from the host into a container with a user namespace (it cannot mknod
// there). The path is opened with O_PATH and RESOLVE_NO_SYMLINKS, so a
// symlink anywhere on the way (/dev/fd, /dev/core, /dev/disk/by-*) leaves
// the path out.
func GatherDeviceNodes(s *specs.Spec) map[string]DeviceNode {
	if s == nil || s.Linux == nil || len(s.Linux.Devices) == 0 {
		return nil
	}
	out := map[string]DeviceNode{}
	for _, d := range s.Linux.Devices {
		if !underDev(d.Path) {
			continue
		}
		if n, ok := statNoSymlinks(d.Path); ok {
			out[d.Path] = n
		}
	}
	return out
}

// underDev reports whether p is a clean absolute path below /dev.
func underDev(p string) bool {
	return filepath.IsAbs(p) && filepath.Clean(p) == p && strings.HasPrefix(p, "/dev/")
}

// statNoSymlinks returns the node at p, following no symlink.
func statNoSymlinks(p string) (DeviceNode, bool) {
	fd, err := unix.Openat2(unix.AT_FDCWD, p, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	var st unix.Stat_t
	switch {
	case errors.Is(err, unix.ENOSYS):
		// Before Linux 5.6: no component of p may be a symlink.
		for cur := p; cur != "/"; cur = filepath.Dir(cur) {
			if err := unix.Lstat(cur, &st); err != nil || st.Mode&unix.S_IFMT == unix.S_IFLNK {
				return DeviceNode{}, false
			}
		}
		if err := unix.Lstat(p, &st); err != nil {
			return DeviceNode{}, false
		}
	case err != nil:
		return DeviceNode{}, false
	default:
		defer unix.Close(fd)
		if err := unix.Fstat(fd, &st); err != nil {
			return DeviceNode{}, false
		}
	}
	n := DeviceNode{}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFLNK:
		return DeviceNode{}, false
	case unix.S_IFCHR:
		n.Type = "c"
	case unix.S_IFBLK:
		n.Type = "b"
	case unix.S_IFIFO:
		n.Type = "p"
	}
	if n.Type == "c" || n.Type == "b" {
		n.Major, n.Minor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
	}
	return n, true
}
