package idmap

import (
	"errors"
	"fmt"
	"strconv"

	"golang.org/x/sys/unix"
)

// MountStagingDir mounts an empty tmpfs on dir, the directory where one
// container's mounts are staged (its rootfs clone, its bind sources), so
// that they all lie in one mount tree: DetachStagingDir then removes them
// with one unmount, and the directories made in it go with the tmpfs.
// Each unmount costs the kernel an RCU grace period and the host-wide
// mount lock, under load ~10 ms: with the nine mounts of a default
// container, detaching them one by one and removing their directories took
// 60-300 ms of every delete in 50 parallel containers. The tmpfs is
// not listable: a container's mapped root reaches its rootfs through it.
// Nothing executable or a device lives there (noexec,
// nodev, nosuid; the mounts staged on it keep their own flags).
//
// Its root is mode 0710, group traverser: the container's root (the host
// group its group 0 maps to), which mounts its rootfs from there, and the
// runtime are the only ones who go through; a host user who knows the
// path reads nothing of the container's files. A negative traverser
// (that group unknown) leaves it 0711, traversable by everyone.
func MountStagingDir(dir string, traverser int64) error {
	opts := "mode=0711,size=1m"
	if traverser >= 0 {
		opts = "mode=0710,gid=" + strconv.FormatInt(traverser, 10) + ",size=1m"
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOEXEC|unix.MS_NODEV|unix.MS_NOSUID, opts); err != nil {
		return fmt.Errorf("mount a tmpfs at %s: %w", dir, err)
	}
	return nil
}

// DetachStagingDir detaches (lazily) every mount stacked on dir, each
// with the tree below it, and reports whether there was any: false means
// dir is no mount point, and mounts below it (staged by a runtime that
// made no tmpfs there, see MountStagingDir) are the caller's to find. A
// dir that does not exist is not an error.
func DetachStagingDir(dir string) (bool, error) {
	for i := 0; i < 16; i++ {
		err := unix.Unmount(dir, unix.MNT_DETACH|unix.UMOUNT_NOFOLLOW)
		switch {
		case err == nil:
		case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOENT):
			return i > 0, nil
		default:
			return i > 0, fmt.Errorf("unmount %s: %w", dir, err)
		}
	}
	return true, fmt.Errorf("unmount %s: still mounted after 16 unmounts", dir)
}
