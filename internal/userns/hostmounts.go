package userns

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/hardened-runtime/hardened/idmap"
)

// hostMounts is what the overlay rebuild, pause/resume and unstage change
// on the host: the mount table, and the owners of the files of the
// container's layer. kernelMounts does it; the unit tests give a fake
// that keeps a mount table of its own, so the order of the steps and
// their undoing on failure are tested without root.
type hostMounts interface {
	// mountInfo returns the mount table of this process
	// (idmap.ReadMountInfo).
	mountInfo() ([]idmap.MountEntry, error)
	// cloneIDMapped mounts at dst a clone of layer idmapped with the
	// mapping of the user namespace ns (idmap.CloneIDMapped).
	cloneIDMapped(layer, dst string, ns *os.File) error
	// mountOverlay mounts an overlay of ov's layers at target
	// (idmap.MountOverlay).
	mountOverlay(ov idmap.Overlay, target string) error
	// mountView mounts an overlay of ov's layers at target read-only,
	// nosuid and nodev from the start (idmap.MountOverlayAttr): the view
	// at rest of pause.go, where container root's files are host root's.
	mountView(ov idmap.Overlay, target string) error
	// bind binds the mount at src, a path of ours, onto target, looked up
	// without following any symlink: the engine's path of a rebuilt
	// overlay rootfs. The bind is nosuid and nodev, the mount at src
	// (the container's rootfs) keeps its flags: in the container's layer
	// a file of container root is host-range owned, and one the container
	// made set-user-ID or a device node must not act as such for a host
	// process that reaches the engine's path.
	bind(src, target string) error
	// detach detaches the uppermost mount at path (lazily, no symlink
	// followed).
	detach(path string) error
	// unmountAll detaches every mount stacked at path; none is no error
	// (idmap.Unmount).
	unmountAll(path string) error
	// detachStagingDir detaches every mount stacked on the staging
	// directory dir with the trees below them, and reports whether there
	// was any (idmap.DetachStagingDir).
	detachStagingDir(dir string) (bool, error)
	// shiftOwners gives every file under dir (on dir's filesystem) the
	// owners shift maps its owners to, and returns how many it changed
	// (idmap.ShiftOwners).
	shiftOwners(dir string, shift func(uint32) (uint32, bool)) (int, error)
	// countFiles counts the files under dir (on dir's filesystem), up to
	// limit: past it, idmap.ErrLayerTooLarge (idmap.CountFiles).
	countFiles(dir string, limit int) (int, error)
}

// kernelMounts is hostMounts on the host's kernel.
type kernelMounts struct{}

func (kernelMounts) mountInfo() ([]idmap.MountEntry, error) { return idmap.ReadMountInfo() }

func (kernelMounts) cloneIDMapped(layer, dst string, ns *os.File) error {
	return idmap.CloneIDMapped(layer, dst, ns)
}

func (kernelMounts) mountOverlay(ov idmap.Overlay, target string) error {
	return idmap.MountOverlay(ov, target)
}

func (kernelMounts) mountView(ov idmap.Overlay, target string) error {
	return idmap.MountOverlayAttr(ov, target, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV)
}

func (kernelMounts) bind(src, target string) error {
	to, err := unix.Openat2(unix.AT_FDCWD, target, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_NO_SYMLINKS,
	})
	if err != nil {
		return err
	}
	defer unix.Close(to)
	from, err := unix.OpenTree(unix.AT_FDCWD, src, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		return err
	}
	defer unix.Close(from)
	// On the clone only, before it is attached anywhere.
	if err := unix.MountSetattr(from, "", unix.AT_EMPTY_PATH, &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV}); err != nil {
		return fmt.Errorf("make the bind of %s nosuid,nodev: %w", src, err)
	}
	return unix.MoveMount(from, "", to, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH)
}

func (kernelMounts) detach(path string) error {
	return unix.Unmount(path, unix.MNT_DETACH|unix.UMOUNT_NOFOLLOW)
}

func (kernelMounts) unmountAll(path string) error { return idmap.Unmount(path) }

func (kernelMounts) detachStagingDir(dir string) (bool, error) { return idmap.DetachStagingDir(dir) }

func (kernelMounts) shiftOwners(dir string, shift func(uint32) (uint32, bool)) (int, error) {
	return idmap.ShiftOwners(dir, shift)
}

func (kernelMounts) countFiles(dir string, limit int) (int, error) {
	return idmap.CountFiles(dir, limit)
}
