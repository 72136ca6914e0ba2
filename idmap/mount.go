package idmap

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Mapping is a uid and gid mapping: container ID ContainerID+i is host ID
// Host.Start+i for i < Host.Size. It is the same for uids and gids.
type Mapping struct {
	ContainerID uint32
	Host        Range
}

// CloneIDMapped mounts at dst an idmapped clone of the directory src: a
// detached copy of src's mount (open_tree with OPEN_TREE_CLONE, without
// the mounts below src), given the mapping of the user namespace userns
// (mount_setattr with MOUNT_ATTR_IDMAP), then attached (move_mount). A
// file owned by host ID k on disk shows as owned by userns's host ID for
// k, so inside a container in that user namespace it shows as k. dst must
// be an existing directory. No file is touched.
//
// The kernel refuses to idmap some filesystems (overlayfs: EINVAL); the
// error names the call that failed.
func CloneIDMapped(src, dst string, userns *os.File) error {
	return cloneTree(unix.AT_FDCWD, src, src, dst, userns, false)
}

// ClonePinned mounts at dst a clone of the pinned src, taken from its
// descriptor, not its path: what was checked is what is mounted. With
// userns, the clone is idmapped as by CloneIDMapped (the mounts below
// src are not cloned); without, it is a recursive bind (mount --rbind),
// mounts below src included. dst must exist, a directory for a directory
// and a file for anything else.
func ClonePinned(src *Pinned, dst string, userns *os.File) error {
	return cloneTree(int(src.File.Fd()), "", src.Path, dst, userns, false)
}

// ClonePinnedReadOnly mounts at dst a recursive clone of the pinned src,
// as ClonePinned without userns, read-only throughout: the top mount and
// every mount below it (mount_setattr MOUNT_ATTR_RDONLY with
// AT_RECURSIVE) before it is attached. A bind of it, recursive or not,
// is read-only all the way down, whatever flags the host's mounts below
// src have.
func ClonePinnedReadOnly(src *Pinned, dst string) error {
	return cloneTree(int(src.File.Fd()), "", src.Path, dst, nil, true)
}

// cloneTree clones the mount tree at dirfd/path (path "" for dirfd
// itself), idmaps it with userns unless nil, makes it read-only
// throughout with readOnly, and attaches it at dst; name is src's name
// in errors.
func cloneTree(dirfd int, path, name, dst string, userns *os.File, readOnly bool) error {
	flags := unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC
	if path == "" {
		flags |= unix.AT_EMPTY_PATH
	}
	if userns == nil {
		flags |= unix.AT_RECURSIVE
	}
	fd, err := unix.OpenTree(dirfd, path, uint(flags))
	if err != nil {
		return fmt.Errorf("clone of %s: open_tree: %w", name, err)
	}
	defer unix.Close(fd)
	if userns != nil {
		attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_IDMAP, Userns_fd: uint64(userns.Fd())}
		if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, &attr); err != nil {
			return fmt.Errorf("idmapped mount of %s: mount_setattr(MOUNT_ATTR_IDMAP): %w", name, err)
		}
	}
	if readOnly {
		attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
		if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr); err != nil {
			return fmt.Errorf("read-only clone of %s: mount_setattr(MOUNT_ATTR_RDONLY): %w", name, err)
		}
	}
	if err := unix.MoveMount(fd, "", unix.AT_FDCWD, dst, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("clone of %s at %s: move_mount: %w", name, dst, err)
	}
	return nil
}

// Unmount detaches every mount stacked at path (lazily, so open files
// do not keep it busy). A path that is not a mount point, or does not
// exist, is not an error.
func Unmount(path string) error {
	for i := 0; i < 16; i++ {
		err := unix.Unmount(path, unix.MNT_DETACH|unix.UMOUNT_NOFOLLOW)
		switch {
		case err == nil:
			continue
		case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOENT):
			return nil
		default:
			return fmt.Errorf("unmount %s: %w", path, err)
		}
	}
	return fmt.Errorf("unmount %s: still mounted after 16 unmounts", path)
}

// FSType names the filesystem of path as far as idmapping cares.
type FSType string

// Filesystem kinds.
const (
	FSOverlay FSType = "overlay"
	FSOther   FSType = "other"
)

// FilesystemOf returns FSOverlay when path is on an overlayfs (which
// cannot be idmapped), else FSOther.
func FilesystemOf(path string) (FSType, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return "", fmt.Errorf("statfs %s: %w", path, err)
	}
	if st.Type == unix.OVERLAYFS_SUPER_MAGIC {
		return FSOverlay, nil
	}
	return FSOther, nil
}

// ReadIDMap parses a /proc/<pid>/uid_map or gid_map file.
func ReadIDMap(path string) ([]Mapping, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseIDMap(path, data)
}

// readIDMapAt parses the uid_map or gid_map file name of the /proc/<pid>
// directory open at dir: the process whose directory it is, whatever
// process holds that pid by now.
func readIDMapAt(dir int, name string) ([]Mapping, error) {
	fd, err := unix.Openat(dir, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, err
	}
	return parseIDMap(name, data)
}

// parseIDMap parses the text of a uid_map or gid_map file read from path.
func parseIDMap(path string, data []byte) ([]Mapping, error) {
	var out []Mapping
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		c, err1 := strconv.ParseUint(f[0], 10, 32)
		h, err2 := strconv.ParseUint(f[1], 10, 32)
		n, err3 := strconv.ParseUint(f[2], 10, 32)
		if err1 != nil || err2 != nil || err3 != nil {
			return nil, fmt.Errorf("%s: malformed line %q", path, line)
		}
		out = append(out, Mapping{ContainerID: uint32(c), Host: Range{Start: uint32(h), Size: uint32(n)}})
	}
	return out, nil
}

// MapsHostRoot reports whether any mapping includes host ID 0.
func MapsHostRoot(ms []Mapping) bool {
	for _, m := range ms {
		if m.Host.Size > 0 && m.Host.Start == 0 {
			return true
		}
	}
	return false
}

// KernelHasMountSetattr probes for mount_setattr(2) without changing
// anything: an invalid descriptor gets EBADF from a kernel that has the
// call and ENOSYS from one that does not.
func KernelHasMountSetattr() bool {
	err := unix.MountSetattr(-1, "", 0, &unix.MountAttr{})
	return !errors.Is(err, unix.ENOSYS)
}
