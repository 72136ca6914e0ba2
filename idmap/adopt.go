package idmap

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// ErrLayerTooLarge is returned by AdoptHostWrites for a container's layer
// of more files than it may walk.
var ErrLayerTooLarge = errors.New("the container's layer has too many files to walk")

// AdoptHostWrites gives the container of rng the files that host
// processes wrote into its overlay's upperdir upper while it runs: those
// owned by host IDs 0..rng.Size-1, which the container sees as nobody.
// Such IDs are container IDs as the engine means them (docker cp and
// podman cp write as host root, docker cp -a with the archive's owners),
// and no process of the container can create them; they are shifted
// into rng as at create (an owner outside 0..rng.Size-1 stays). It
// returns the number of files changed.
//
// The container runs, so its layer changes under the walk and is
// untrusted: upper is only listed, and each file found is changed
// through the container's own overlay mounted at root (the rebuilt
// rootfs), opened beneath it without following any symlink or crossing
// a mount, and only when it is still the file listed (same inode number,
// an owner still in 0..rng.Size-1). Changing it through the overlay also
// keeps the overlay's cached inode right: a chown of the upperdir's file
// behind the overlay's back would leave the container's permission
// checks on the old owner. The set-user-ID and set-group-ID bits, which
// chown clears, are put back. The cost is one lstat per file of the
// container's layer, borne by the caller, not the container's cgroup: a
// layer of more than limit files (limit > 0) is not walked further, and
// ErrLayerTooLarge returned with what was changed until then.
func AdoptHostWrites(upper, root string, rng Range, limit int) (int, error) {
	if rng.Size == 0 {
		return 0, nil
	}
	rootFd, err := unix.Openat2(unix.AT_FDCWD, root, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_NO_SYMLINKS,
	})
	if err != nil {
		return 0, fmt.Errorf("adopt host writes: %w", err)
	}
	defer unix.Close(rootFd)
	var upperSt unix.Stat_t
	if err := unix.Lstat(upper, &upperSt); err != nil {
		return 0, fmt.Errorf("adopt host writes: %w", err)
	}
	host := func(id uint32) bool { return id < rng.Size }
	n, seen := 0, 0
	err = filepath.WalkDir(upper, func(path string, d fs.DirEntry, err error) error {
		if seen++; limit > 0 && seen > limit {
			return fmt.Errorf("%w: more than %d files", ErrLayerTooLarge, limit)
		}
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(path, &st); err != nil {
			if errors.Is(err, unix.ENOENT) {
				return nil
			}
			return err
		}
		if st.Dev != upperSt.Dev {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if path == upper || !host(st.Uid) && !host(st.Gid) {
			return nil
		}
		rel, err := filepath.Rel(upper, path)
		if err != nil {
			return err
		}
		changed, err := adoptOne(rootFd, rel, st.Ino, rng)
		if err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		if changed {
			n++
		}
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("adopt host writes in %s: %w", upper, err)
	}
	return n, nil
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
