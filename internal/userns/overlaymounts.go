package userns

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/opencontainers/runc/libcontainer/specconv"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hardened-runtime/hardened/hardening"
	"github.com/hardened-runtime/hardened/idmap"
	"github.com/hardened-runtime/hardened/spec"
)

// PinOverlays opens the host directories of every overlay mount of s
// (the lowerdir, lowerdir+, datadir+, upperdir and workdir of its
// options, which the host-mounts rule checked like bind sources, by path)
// once, as PinBinds opens bind sources: a directory that resolves
// elsewhere than when it was checked (checked, HostFacts.MountSources)
// is refused. Each layer the overlay only reads is cloned, from its
// descriptor, into the staging directory (overlay<N>-<M>, N the mount's
// index); the upper and work directories, which overlayfs wants on one
// mount, are cloned together as their nearest common directory
// (overlay<N>-rw), once both are found beneath it with no symlink and no
// other mount on the way, and that clone follows no symlink
// (nosymfollow): a symlink swapped in for either later fails the
// init's mount instead of leading elsewhere. Rewrite then gives libcontainer's init the
// options naming those clones, so it mounts the layers that were
// checked, not whatever a writer of a directory on their way (another
// container sharing a volume) swapped in since: libcontainer looks the
// options' paths up again when it mounts the overlay.
//
// In a user namespace, an overlay with an upper directory is mounted
// here, on the host, from those clones, and the container gets a bind of
// it (mountOverlayOnHost): the init, as the container's mapped root,
// cannot mount it itself when the upper and work directories belong to
// host root, as an engine makes them (Podman's -v SRC:DST:O).
func (u *Stage) PinOverlays(s *specs.Spec, checked map[string]string) error {
	staged, err := idmap.PinDir(u.staged)
	if err != nil {
		return fmt.Errorf("staged rootfs: %w", err)
	}
	defer staged.Close()
	userns := s.Linux != nil && slices.ContainsFunc(s.Linux.Namespaces, func(ns specs.LinuxNamespace) bool { return ns.Type == specs.UserNamespace })
	for i, m := range s.Mounts {
		if spec.IsBind(m) {
			continue
		}
		opts, err := u.pinOverlay(staged, i, m.Options, checked)
		if err == nil && opts != nil && userns {
			err = u.mountOverlayOnHost(i, m, opts)
		}
		if err != nil {
			return fmt.Errorf("overlay mount at %s: %w", m.Destination, err)
		}
		if opts == nil {
			continue
		}
		if u.overlays == nil {
			u.overlays = map[int][]string{}
		}
		u.overlays[i] = opts
	}
	return nil
}

// mountOverlayOnHost mounts overlay mount i of the spec, m with its
// options opts naming the clones, in the staging directory
// (overlay<i>-merged, nosuid and nodev) when it has an upper directory,
// and records the bind of it that Rewrite gives the init instead, with
// m's mount flags. The overlay's creator is then host root: the
// container's processes still meet the layers' owners as they are (host
// root's files are nobody's to the mapped root, read-only unless the
// host made them writable for all), and what they write lands in the
// upper directory as their host IDs. Podman does the same since 5.x for
// its overlay volumes in a user namespace.
func (u *Stage) mountOverlayOnHost(i int, m specs.Mount, opts []string) error {
	flags := map[string]bool{}
	for _, f := range specconv.KnownMountOptions() {
		flags[f] = true
	}
	var data, kept []string
	for _, o := range opts {
		for _, part := range strings.Split(o, ",") {
			if !flags[part] {
				data = append(data, part)
			}
		}
	}
	for _, o := range m.Options {
		if flags[o] && o != "bind" && o != "rbind" {
			kept = append(kept, o)
		}
	}
	ov, err := idmap.ParseOverlayOptions(strings.Join(data, ","))
	if err != nil || ov.Upper == "" {
		return err
	}
	target, err := u.overlayTarget(i, "merged")
	if err == nil {
		err = idmap.MountOverlayAttr(ov, target, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV)
	}
	if err != nil {
		return err
	}
	if u.overlayBinds == nil {
		u.overlayBinds = map[int]specs.Mount{}
	}
	u.overlayBinds[i] = specs.Mount{Destination: m.Destination, Type: "bind", Source: target, Options: append([]string{"rbind"}, kept...)}
	return nil
}

// pinOverlay pins and clones the directories that the options opts of
// mount i name, and returns the options naming the clones; nil when they
// name none.
func (u *Stage) pinOverlay(staged *idmap.Pinned, i int, opts []string, checked map[string]string) ([]string, error) {
	var upper, work string
	named := false
	if _, err := hardening.RewriteOverlayDirs(opts, func(key, dir string) (string, error) {
		named = true
		switch key {
		case "upperdir":
			upper = dir
		case "workdir":
			work = dir
		}
		return dir, nil
	}); err != nil || !named {
		return nil, err
	}
	rw, err := u.pinUpperWork(staged, i, upper, work, checked)
	if err != nil {
		return nil, err
	}
	layers := map[string]string{}
	return hardening.RewriteOverlayDirs(opts, func(key, dir string) (string, error) {
		if !hardening.OverlayDirIsLayer(key) {
			return rw[key], nil
		}
		if c, ok := layers[dir]; ok {
			return c, nil
		}
		p, err := u.pinOverlayDir(staged, key, dir, checked)
		if err != nil {
			return "", err
		}
		defer p.Close()
		target, err := u.overlayTarget(i, strconv.Itoa(len(layers)))
		if err == nil {
			err = idmap.ClonePinned(p, target, nil)
		}
		if err != nil {
			return "", fmt.Errorf("%s %s: %w", key, dir, err)
		}
		layers[dir] = target
		return target, nil
	})
}

// pinOverlayDir pins the directory dir that option key names, as the
// rule checked it (pinSource).
func (u *Stage) pinOverlayDir(staged *idmap.Pinned, key, dir string, checked map[string]string) (*idmap.Pinned, error) {
	if !filepath.IsAbs(dir) {
		return nil, fmt.Errorf("%s %s is not an absolute path", key, dir)
	}
	p, err := u.pinSource(staged, dir, filepath.Clean(dir), checked)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", key, dir, err)
	}
	if isDir, err := p.IsDir(); err != nil || !isDir {
		p.Close()
		if err == nil {
			err = errors.New("not a directory")
		}
		return nil, fmt.Errorf("%s %s: %w", key, dir, err)
	}
	return p, nil
}

// pinUpperWork pins the upper and work directories of mount i and clones
// their nearest common directory (overlayfs refuses an upper and a work
// directory on two mounts, so each cannot have a clone of its own),
// returning the paths of the two in the clone by option; one given alone
// is cloned alone. Both must lie beneath the common directory, as the
// same files, with no symlink and no other mount on the way; the clone
// is nosymfollow, since the init looks them up in it by path.
//
// The clone shows the common directory as it is when the init mounts,
// not as it was when the two were found beneath it: a writer of that
// directory (or of one between it and them) may rename another directory
// into the upper's or work's place meanwhile, and the overlay then uses
// that one. This gives nobody anything, so it is not checked again after
// the mount. A rename cannot cross a mount (EXDEV) nor move a mount
// point (EBUSY), and the clone follows no symlink: what can take the
// place is a directory of the same mount that the writer may rename
// (write access to its parent, and to itself to move it to another
// parent). The same writer could have made that rename before the
// create: the rule, which checks the options by path, would then have
// seen the same path and let the same directory be mounted, with no race
// at all, and the container would work in it with the same credentials
// (the mounter's, its init's, for what overlayfs does in the upper and
// work directories). What the pinning must prevent is a symlink or a mount leading to
// another filesystem, such as the host's /etc, which the path check
// would have refused: the nosymfollow clone of one mount does.
func (u *Stage) pinUpperWork(staged *idmap.Pinned, i int, upper, work string, checked map[string]string) (map[string]string, error) {
	out := map[string]string{}
	given := map[string]string{}
	if upper != "" {
		given["upperdir"] = upper
	}
	if work != "" {
		given["workdir"] = work
	}
	pinned := map[string]*idmap.Pinned{}
	defer func() {
		for _, p := range pinned {
			p.Close()
		}
	}()
	for key, dir := range given {
		p, err := u.pinOverlayDir(staged, key, dir, checked)
		if err != nil {
			return nil, err
		}
		pinned[key] = p
	}
	if len(pinned) == 0 {
		return out, nil
	}
	if len(pinned) == 1 {
		for key, p := range pinned {
			target, err := u.overlayTarget(i, "rw")
			if err == nil {
				err = idmap.ClonePinned(p, target, nil)
			}
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", key, given[key], err)
			}
			out[key] = target
		}
		return out, nil
	}
	common := commonDir(pinned["upperdir"].Path, pinned["workdir"].Path)
	parent, err := idmap.PinDir(common)
	if err == nil && parent.Path != common {
		parent.Close()
		err = fmt.Errorf("resolves to %s", parent.Path)
	}
	if err != nil {
		return nil, fmt.Errorf("directory %s of upperdir %s and workdir %s: %w", common, upper, work, err)
	}
	defer parent.Close()
	for key, p := range pinned {
		rel, err := filepath.Rel(common, p.Path)
		if err == nil {
			err = sameBeneath(parent, rel, p)
		}
		if err != nil {
			return nil, fmt.Errorf("%s %s beneath %s: %w", key, given[key], common, err)
		}
		out[key] = rel
	}
	target, err := u.overlayTarget(i, "rw")
	if err == nil {
		err = idmap.ClonePinned(parent, target, nil)
	}
	if err == nil {
		// The init looks the two up in the clone by path: a symlink
		// swapped in since they were found must not be followed.
		err = unix.MountSetattr(unix.AT_FDCWD, target, unix.AT_RECURSIVE|unix.AT_SYMLINK_NOFOLLOW,
			&unix.MountAttr{Attr_set: unix.MOUNT_ATTR_NOSYMFOLLOW})
	}
	if err != nil {
		return nil, fmt.Errorf("directory %s of upperdir %s and workdir %s: %w", common, upper, work, err)
	}
	for key, rel := range out {
		out[key] = filepath.Join(target, rel)
		if strings.ContainsAny(out[key], `,:\`) {
			return nil, fmt.Errorf("%s %s: %q cannot be written in the options", key, given[key], rel)
		}
	}
	return out, nil
}

// commonDir returns the nearest directory holding both a and b (clean,
// absolute paths).
func commonDir(a, b string) string {
	d := filepath.Dir(a)
	for !spec.Within(b, d) && d != "/" {
		d = filepath.Dir(d)
	}
	return d
}

// sameBeneath checks that rel, looked up beneath parent with no symlink,
// no "..", and no mount crossed, is the file p holds.
func sameBeneath(parent *idmap.Pinned, rel string, p *idmap.Pinned) error {
	fd, err := unix.Openat2(int(parent.File.Fd()), rel, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV,
	})
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var now, held unix.Stat_t
	if err := unix.Fstat(fd, &now); err != nil {
		return err
	}
	if err := unix.Fstat(int(p.File.Fd()), &held); err != nil {
		return err
	}
	if now.Dev != held.Dev || now.Ino != held.Ino {
		return errors.New("not the directory opened")
	}
	return nil
}

// overlayTarget creates the directory for a clone of mount i's overlay
// (overlay<i>-<name>) in the staging directory.
func (u *Stage) overlayTarget(i int, name string) (string, error) {
	target := filepath.Join(u.dir, "overlay"+strconv.Itoa(i)+"-"+name)
	if strings.ContainsAny(target, `,:\`) {
		return "", fmt.Errorf("staging path %q cannot be written in the options", target)
	}
	if err := os.Mkdir(target, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return "", err
	}
	return target, nil
}
