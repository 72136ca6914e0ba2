package idmap

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// ErrLayerTooLarge is returned by AdoptHostWrites and CountFiles for a
// container's layer of more files than they may walk.
var ErrLayerTooLarge = errors.New("the container's layer has too many files to walk")

// AdoptHostWrites gives the container of rng the files that host
// processes wrote into its overlay's upperdir upper while it runs: those
// owned by host IDs 0..rng.Size-1, which the container sees as nobody.
// Such IDs are container IDs as the engine means them (docker cp and
// podman cp write as host root, docker cp -a with the archive's owners),
// and no process of the container can create them; they are shifted
// into rng as at create (an owner outside 0..rng.Size-1 stays). Device
// nodes stay host root's (only the device cgroup would stand between
// container root and the device); whiteouts, the overlay's own 0/0
// devices, are not looked up. It returns the number of files changed.
//
// The container runs, so its layer changes under the walk and is
// untrusted: upper is only listed, directory by directory through
// descriptors opened beneath the one before without following symlinks
// or leaving its filesystem, so that a directory swapped for a symlink
// is not followed; and each file found is changed through the
// container's own overlay mounted at root (the rebuilt rootfs), opened
// beneath it without following any symlink or crossing a mount, and only
// when it is still the file listed (same inode number, an owner still in
// 0..rng.Size-1). Changing it through the overlay also keeps the
// overlay's cached inode right: a chown of the upperdir's file behind
// the overlay's back would leave the container's permission checks on
// the old owner. The set-user-ID and set-group-ID bits, which chown
// clears, are put back. The cost is one fstatat per file of the
// container's layer, borne by the caller, not the container's cgroup: a
// layer of more than limit files (limit > 0) is not read further (a
// directory is read in batches, so one huge directory costs no more),
// and ErrLayerTooLarge returned with what was changed until then.
func AdoptHostWrites(upper, root string, rng Range, limit int) (int, error) {
	if rng.Size == 0 {
		return 0, nil
	}
	if rng.Start < rng.Size {
		// The container's own files would be taken for host writes
		// and shifted again, container root's to a user's.
		return 0, fmt.Errorf("adopt host writes: range %s overlaps the host IDs below its size", rng)
	}
	rootFd, err := unix.Openat2(unix.AT_FDCWD, root, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_NO_SYMLINKS,
	})
	if err != nil {
		return 0, fmt.Errorf("adopt host writes: %w", err)
	}
	defer unix.Close(rootFd)
	upperFd, err := unix.Open(upper, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("adopt host writes: %w", err)
	}
	var upperSt unix.Stat_t
	if err := unix.Fstat(upperFd, &upperSt); err != nil {
		unix.Close(upperFd)
		return 0, fmt.Errorf("adopt host writes: %w", err)
	}
	w := adoptWalk{rootFd: rootFd, dev: upperSt.Dev, rng: rng, limit: limit}
	if err := w.dir(upperFd, ""); err != nil {
		return w.changed, fmt.Errorf("adopt host writes in %s: %w", upper, err)
	}
	return w.changed, nil
}

// adoptWalk is one AdoptHostWrites walk: the rebuilt rootfs, the
// upperdir's filesystem, the range, the budget and the counts.
type adoptWalk struct {
	rootFd        int
	dev           uint64
	rng           Range
	limit         int
	seen, changed int
}

// dir walks the directory open at fd, rel beneath the upperdir, and
// closes fd.
func (w *adoptWalk) dir(fd int, rel string) error {
	return eachName(fd, func(name string) error { return w.entry(fd, rel, name) })
}

// entry adopts name of the directory open at fd (rel beneath the
// upperdir) when a host process wrote it, and walks it if it is a
// directory of the same filesystem.
func (w *adoptWalk) entry(fd int, rel, name string) error {
	if w.seen++; w.limit > 0 && w.seen > w.limit {
		return fmt.Errorf("%w: more than %d files", ErrLayerTooLarge, w.limit)
	}
	var st unix.Stat_t
	if err := unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return err
	}
	if st.Dev != w.dev {
		return nil
	}
	path := filepath.Join(rel, name)
	kind := st.Mode & unix.S_IFMT
	if (st.Uid < w.rng.Size || st.Gid < w.rng.Size) && kind != unix.S_IFCHR && kind != unix.S_IFBLK {
		changed, err := adoptOne(w.rootFd, path, st.Ino, w.rng)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if changed {
			w.changed++
		}
	}
	// A path the overlay could not resolve is not descended into.
	if kind != unix.S_IFDIR || len(path) >= unix.PathMax {
		return nil
	}
	child, ok, err := openSubdir(fd, name)
	if err != nil || !ok {
		return wrapPath(path, err)
	}
	var cst unix.Stat_t
	if err := unix.Fstat(child, &cst); err != nil || cst.Dev != w.dev || cst.Ino != st.Ino {
		unix.Close(child)
		return err
	}
	return w.dir(child, path)
}

// adoptOne shifts the owner of rel beneath rootFd into rng when it is
// still the inode ino with an owner below rng.Size; a file that is gone,
// or has become a path this may not resolve, is left.
func adoptOne(rootFd int, rel string, ino uint64, rng Range) (bool, error) {
	fd, err := unix.Openat2(rootFd, rel, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV,
	})
	switch {
	case errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ELOOP) || errors.Is(err, unix.EXDEV) || errors.Is(err, unix.ENOTDIR):
		return false, nil
	case err != nil:
		return false, err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return false, err
	}
	uid, gid := st.Uid, st.Gid
	if uid < rng.Size {
		uid += rng.Start
	}
	if gid < rng.Size {
		gid += rng.Start
	}
	if st.Ino != ino || uid == st.Uid && gid == st.Gid {
		return false, nil
	}
	if err := unix.Fchownat(fd, "", int(uid), int(gid), unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return false, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFLNK && st.Mode&(unix.S_ISUID|unix.S_ISGID) != 0 {
		// An O_PATH descriptor takes no fchmod; its /proc link names
		// the very inode.
		if err := unix.Chmod("/proc/self/fd/"+strconv.Itoa(fd), st.Mode&0o7777); err != nil {
			return true, err
		}
	}
	return true, nil
}
