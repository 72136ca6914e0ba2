package idmap

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// Overlay is an overlayfs mount as /proc/self/mountinfo shows it: what is
// needed to mount the same layers again, from idmapped lower layers.
type Overlay struct {
	// Lower are the lower layers, uppermost first; Data the data-only
	// lower layers (metacopy), after them.
	Lower, Data []string
	// Upper and Work are the upperdir and workdir; empty for a read-only
	// overlay.
	Upper, Work string
	// Options are the caller's other options, kept when the overlay is
	// mounted again as "key" or "key=value": what the layers' metadata
	// and the overlay's view depend on (redirect_dir, metacopy, volatile
	// or fsync=, userxattr, uuid, xino, verity...), and any the rebuild
	// does not know (Unknown), passed through as the kernel showed them.
	// index is always off (see MountOverlay), nfs_export (which needs the
	// index) and rw/ro are left out.
	Options []string
	// Unknown are the options in Options this package does not know: the
	// kernel showed them and so accepts them back, but what they change
	// is not known here, so the rebuild names them in its record.
	Unknown []string `json:",omitempty"`
}

// knownOverlayOptions are the options overlayfs shows (fs/overlayfs
// ovl_show_options, up to 6.18) that a rebuilt overlay takes over as
// they are.
var knownOverlayOptions = map[string]bool{
	"redirect_dir": true, "metacopy": true, "volatile": true, "fsync": true,
	"userxattr": true, "uuid": true, "xino": true, "default_permissions": true,
	"verity": true, "override_creds": true,
}

// droppedOverlayOptions are shown by the kernel but not taken over: the
// rebuild mounts with index=off (the layers' upperdir may still be in
// use by the overlay they came from) and nfs_export needs the index.
var droppedOverlayOptions = map[string]bool{"rw": true, "ro": true, "index": true, "nfs_export": true}

// ParseOverlayOptions reads the super options of an overlayfs line of
// mountinfo: "lowerdir=a:b::c" (":" between layers, "::" before the
// data-only ones) or "lowerdir+=a,lowerdir+=b,datadir+=c" (mounts made
// with fsconfig), "upperdir=", "workdir=". Paths stay as the mounter gave
// them (relative ones too: see Resolve); octal escapes are undone.
func ParseOverlayOptions(opts string) (Overlay, error) {
	var o Overlay
	for _, opt := range strings.Split(opts, ",") {
		key, val, _ := strings.Cut(opt, "=")
		switch key {
		case "lowerdir":
			layers, data, hasData := strings.Cut(val, "::")
			for _, l := range splitUnescaped(layers) {
				o.Lower = append(o.Lower, unescapeOctal(l))
			}
			if hasData {
				for _, l := range splitUnescaped(data) {
					o.Data = append(o.Data, unescapeOctal(l))
				}
			}
		case "lowerdir+":
			o.Lower = append(o.Lower, unescapeOctal(val))
		case "datadir+":
			o.Data = append(o.Data, unescapeOctal(val))
		case "upperdir":
			o.Upper = unescapeOctal(val)
		case "workdir":
			o.Work = unescapeOctal(val)
		default:
			switch {
			case opt == "" || droppedOverlayOptions[key]:
			case knownOverlayOptions[key]:
				o.Options = append(o.Options, opt)
			default:
				o.Options = append(o.Options, opt)
				o.Unknown = append(o.Unknown, opt)
			}
		}
	}
	if len(o.Lower) == 0 {
		return o, fmt.Errorf("overlay options %q: no lowerdir", opts)
	}
	for _, l := range append(append([]string{}, o.Lower...), o.Data...) {
		if l == "" {
			return o, fmt.Errorf("overlay options %q: empty lowerdir", opts)
		}
	}
	if (o.Upper == "") != (o.Work == "") {
		return o, fmt.Errorf("overlay options %q: upperdir without workdir or the reverse", opts)
	}
	return o, nil
}

// splitUnescaped splits a lowerdir list at ":" not preceded by "\".
func splitUnescaped(s string) []string {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s) && (s[i+1] == ':' || s[i+1] == '\\' || s[i+1] == ','):
			cur.WriteByte(s[i+1])
			i++
		case s[i] == ':':
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(s[i])
		}
	}
	return append(out, cur.String())
}

// unescapeOctal undoes mountinfo's octal escapes (\040 for a space...).
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// MountEntry is one line of /proc/self/mountinfo.
type MountEntry struct {
	Root, Mountpoint, FSType, Source, SuperOptions string
}

// ReadMountInfo reads /proc/self/mountinfo, in its order (a mount stacked
// on another comes after it).
func ReadMountInfo() ([]MountEntry, error) {
	infos, err := mountinfo.GetMounts(nil)
	if err != nil {
		return nil, err
	}
	return mountEntries(infos), nil
}

// ParseMountInfo parses mountinfo text.
func ParseMountInfo(data []byte) ([]MountEntry, error) {
	infos, err := mountinfo.GetMountsFromReader(bytes.NewReader(data), nil)
	if err != nil {
		return nil, err
	}
	return mountEntries(infos), nil
}

// mountEntries keeps what the overlay rebuild needs. The paths come
// unescaped; the super options stay escaped (ParseOverlayOptions splits
// them before undoing the octal escapes).
func mountEntries(infos []*mountinfo.Info) []MountEntry {
	out := make([]MountEntry, 0, len(infos))
	for _, m := range infos {
		out = append(out, MountEntry{
			Root: m.Root, Mountpoint: m.Mountpoint, FSType: m.FSType,
			Source: m.Source, SuperOptions: m.VFSOptions,
		})
	}
	return out
}

// TopMount returns the uppermost mount at mountpoint, if any.
func TopMount(entries []MountEntry, mountpoint string) (MountEntry, bool) {
	for i := len(entries) - 1; i >= 0; i-- {
		if entries[i].Mountpoint == mountpoint {
			return entries[i], true
		}
	}
	return MountEntry{}, false
}

// Resolve makes relative layer paths absolute. Docker mounts an overlay
// with paths relative to its overlay2 directory when the absolute ones
// would not fit in a page, and containerd makes its lowerdirs relative to
// the snapshots directory; the mountinfo shows them as given. Each base
// is tried in turn; the first under which every relative path is an
// existing directory wins.
func (o *Overlay) Resolve(bases ...string) error {
	paths := o.paths()
	var rel bool
	for _, p := range paths {
		rel = rel || !filepath.IsAbs(*p)
	}
	if !rel {
		return nil
	}
	for _, base := range bases {
		if !filepath.IsAbs(base) {
			continue
		}
		ok := true
		for _, p := range paths {
			if filepath.IsAbs(*p) {
				continue
			}
			if fi, err := os.Stat(filepath.Join(base, *p)); err != nil || !fi.IsDir() {
				ok = false
				break
			}
		}
		if ok {
			for _, p := range paths {
				if !filepath.IsAbs(*p) {
					*p = filepath.Join(base, *p)
				}
			}
			return nil
		}
	}
	return fmt.Errorf("overlay layers given as relative paths (%s...) found under none of %s", o.Lower[0], strings.Join(bases, ", "))
}

func (o *Overlay) paths() []*string {
	var ps []*string
	for i := range o.Lower {
		ps = append(ps, &o.Lower[i])
	}
	for i := range o.Data {
		ps = append(ps, &o.Data[i])
	}
	if o.Upper != "" {
		ps = append(ps, &o.Upper, &o.Work)
	}
	return ps
}

// MountOverlay mounts an overlay of o's layers at target, with index=off
// (the layers' upperdir may still be in use by the overlay it was taken
// from, until that is unmounted) and o.Options. o's layers must be those
// of an overlay detached just before (by this runtime, in this boot): the
// mark a volatile overlay leaves in its workdir, which makes the kernel
// refuse every later mount of that upperdir ("incompat feature
// 'volatile'") so that a crash cannot go unnoticed, is removed first. It
// uses fsconfig with one
// "lowerdir+" per layer, so that no option string limits the number of
// layers, and falls back to mount(2) on kernels without it (before 6.8).
func MountOverlay(o Overlay, target string) error {
	return MountOverlayAttr(o, target, 0)
}

// MountOverlayAttr is MountOverlay with the mount attributes attr
// (unix.MOUNT_ATTR_RDONLY, NOSUID, NODEV or NOEXEC) set as the overlay is
// mounted: there is no moment when target shows it without them.
func MountOverlayAttr(o Overlay, target string, attr uint64) error {
	// The same attributes as mount(2) flags, for the fallback.
	var flags uintptr
	left := attr
	for _, a := range []struct {
		attr uint64
		flag uintptr
	}{{unix.MOUNT_ATTR_RDONLY, unix.MS_RDONLY}, {unix.MOUNT_ATTR_NOSUID, unix.MS_NOSUID},
		{unix.MOUNT_ATTR_NODEV, unix.MS_NODEV}, {unix.MOUNT_ATTR_NOEXEC, unix.MS_NOEXEC}} {
		if left&a.attr != 0 {
			flags |= a.flag
			left &^= a.attr
		}
	}
	if left != 0 {
		return fmt.Errorf("mount overlay at %s: mount attributes %#x not supported", target, left)
	}
	// The target is looked up once, following no symlink: whoever can
	// write a directory on its way (a bundle's owner) cannot send the
	// mount elsewhere on the host.
	to, err := unix.Openat2(unix.AT_FDCWD, target, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_NO_SYMLINKS,
	})
	if err != nil {
		return fmt.Errorf("mount overlay at %s: %w", target, &os.PathError{Op: "open", Path: target, Err: err})
	}
	defer unix.Close(to)
	if err := o.clearVolatileMark(); err != nil {
		return fmt.Errorf("mount overlay at %s: %w", target, err)
	}
	err = fsmountOverlay(o, target, to, attr)
	if err == nil || !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOSYS) {
		return err
	}
	data := "lowerdir=" + escapeLayers(o.Lower)
	if len(o.Data) > 0 {
		data += "::" + escapeLayers(o.Data)
	}
	if o.Upper != "" {
		data += ",upperdir=" + escapeOpt(o.Upper) + ",workdir=" + escapeOpt(o.Work)
	}
	data += ",index=off"
	for _, opt := range o.Options {
		data += "," + opt
	}
	if err2 := unix.Mount("overlay", "/proc/self/fd/"+strconv.Itoa(to), "overlay", flags, data); err2 != nil {
		return fmt.Errorf("mount overlay at %s: %w (fsconfig: %v)", target, err2, err)
	}
	return nil
}

// Volatile reports whether the overlay was mounted volatile ("volatile",
// or "fsync=volatile" since Linux 6.15): its upperdir is not synced.
func (o Overlay) Volatile() bool {
	return slices.Contains(o.Options, "volatile") || slices.Contains(o.Options, "fsync=volatile")
}

// clearVolatileMark removes <workdir>/work/incompat/volatile (and the
// "dirty" file in it) of a volatile overlay; nothing for another.
func (o Overlay) clearVolatileMark() error {
	if !o.Volatile() || o.Work == "" {
		return nil
	}
	mark := filepath.Join(o.Work, "work", "incompat", "volatile")
	if err := os.Remove(filepath.Join(mark, "dirty")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("volatile mark: %w", err)
	}
	if err := os.Remove(mark); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("volatile mark: %w", err)
	}
	return nil
}

func fsmountOverlay(o Overlay, target string, to int, attr uint64) error {
	fd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return fmt.Errorf("mount overlay at %s: fsopen: %w", target, err)
	}
	defer unix.Close(fd)
	set := func(k, v string) error {
		if err := unix.FsconfigSetString(fd, k, v); err != nil {
			return fmt.Errorf("mount overlay at %s: fsconfig %s=%s: %w", target, k, v, err)
		}
		return nil
	}
	for _, l := range o.Lower {
		if err := set("lowerdir+", l); err != nil {
			return err
		}
	}
	for _, l := range o.Data {
		if err := set("datadir+", l); err != nil {
			return err
		}
	}
	if o.Upper != "" {
		if err := set("upperdir", o.Upper); err != nil {
			return err
		}
		if err := set("workdir", o.Work); err != nil {
			return err
		}
	}
	if err := set("index", "off"); err != nil {
		return err
	}
	for _, opt := range o.Options {
		k, v, hasValue := strings.Cut(opt, "=")
		if !hasValue {
			err = unix.FsconfigSetFlag(fd, k)
		} else {
			err = unix.FsconfigSetString(fd, k, v)
		}
		if err != nil {
			return fmt.Errorf("mount overlay at %s: fsconfig %s: %w", target, opt, err)
		}
	}
	if err := unix.FsconfigCreate(fd); err != nil {
		return fmt.Errorf("mount overlay at %s: fsconfig create: %w", target, err)
	}
	mfd, err := unix.Fsmount(fd, unix.FSMOUNT_CLOEXEC, int(attr))
	if err != nil {
		return fmt.Errorf("mount overlay at %s: fsmount: %w", target, err)
	}
	defer unix.Close(mfd)
	if err := unix.MoveMount(mfd, "", to, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
		// %v, not %w: an EINVAL here must not send MountOverlay to its
		// fallback.
		return fmt.Errorf("mount overlay at %s: move_mount: %v", target, err)
	}
	return nil
}

func escapeLayers(ls []string) string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = strings.ReplaceAll(escapeOpt(l), ":", `\:`)
	}
	return strings.Join(out, ":")
}

func escapeOpt(s string) string {
	return strings.NewReplacer(`\`, `\\`, ",", `\,`).Replace(s)
}

// ShiftOwners walks the tree at root (not following symlinks, not
// crossing into other filesystems) and gives every file whose uid or gid
// shift maps a new one that owner. The set-user-ID and set-group-ID bits,
// which chown clears, are put back. It returns the number of files
// changed. The cost is one open and fstat per file: it is meant for a
// container's own layer, not an image.
//
// Whoever can write the layer (another container binding it, racing a
// pause or resume) may swap a directory for a symlink while the walk
// runs: every directory is listed through a descriptor opened beneath the
// one before without following symlinks, and every file is changed
// through a descriptor of its own (O_PATH, O_NOFOLLOW), never by a path,
// so no change lands outside the layer.
func ShiftOwners(root string, shift func(id uint32) (uint32, bool)) (int, error) {
	fd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("shift owners of %s: %w", root, &os.PathError{Op: "open", Path: root, Err: err})
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return 0, fmt.Errorf("shift owners of %s: %w", root, err)
	}
	w := shiftWalk{dev: st.Dev, shift: shift}
	if err := w.change(fd, st); err != nil {
		unix.Close(fd)
		return 0, fmt.Errorf("shift owners of %s: %w", root, err)
	}
	if err := w.dir(fd, ""); err != nil {
		return w.changed, fmt.Errorf("shift owners of %s: %w", root, err)
	}
	return w.changed, nil
}

// shiftWalk is one ShiftOwners walk: the layer's filesystem, the shift
// and the count of files changed.
type shiftWalk struct {
	dev     uint64
	shift   func(id uint32) (uint32, bool)
	changed int
}

// dir walks the directory open at fd (rel beneath the root) and closes
// fd.
func (w *shiftWalk) dir(fd int, rel string) error {
	return eachName(fd, func(name string) error { return w.entry(fd, rel, name) })
}

// entry shifts name of the directory open at fd and walks it when it is
// a directory of the layer's filesystem.
func (w *shiftWalk) entry(dirFd int, rel, name string) error {
	path := filepath.Join(rel, name)
	fd, err := unix.Openat(dirFd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return fmt.Errorf("%s: %w", path, err)
	}
	if st.Dev != w.dev {
		unix.Close(fd)
		return nil
	}
	err = w.change(fd, st)
	unix.Close(fd)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return nil
	}
	child, ok, err := openSubdir(dirFd, name)
	if err != nil || !ok {
		return wrapPath(path, err)
	}
	var cst unix.Stat_t
	if err := unix.Fstat(child, &cst); err != nil || cst.Dev != st.Dev || cst.Ino != st.Ino {
		// Swapped since it was changed: not this walk's to descend.
		unix.Close(child)
		return err
	}
	return w.dir(child, path)
}

// change gives the file open at fd (st its status) the owner shift maps.
func (w *shiftWalk) change(fd int, st unix.Stat_t) error {
	uid, uok := w.shift(st.Uid)
	gid, gok := w.shift(st.Gid)
	if !uok && !gok {
		return nil
	}
	if !uok {
		uid = st.Uid
	}
	if !gok {
		gid = st.Gid
	}
	if err := unix.Fchownat(fd, "", int(uid), int(gid), unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	w.changed++
	if st.Mode&unix.S_IFMT != unix.S_IFLNK && st.Mode&(unix.S_ISUID|unix.S_ISGID) != 0 {
		// An O_PATH descriptor takes no fchmod; its /proc link names
		// the very inode.
		if err := unix.Chmod("/proc/self/fd/"+strconv.Itoa(fd), st.Mode&0o7777); err != nil {
			return err
		}
	}
	return nil
}
