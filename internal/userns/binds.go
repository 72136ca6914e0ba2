package userns

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/spec"

	"github.com/hardened-runtime/hardened/idmap"
)

// PinBinds opens the source of every bind mount of s once and mounts a
// clone of it in the staging directory (bind<N>, N the mount's index),
// which Rewrite then hands to libcontainer instead of the source path.
// The host-mounts rule checked where each source resolved when the facts
// were gathered (checked, HostFacts.MountSources); a source that resolves
// elsewhere now was swapped during create and is refused. Sources inside
// the rootfs (the writable paths) are opened beneath the staged rootfs,
// resolved as the container would (symlinks stay inside it), and with
// no symlink at all when the check saw none on their way. So no
// source is looked up twice: not by us, not by libcontainer. The clone
// of a read-only bind's source (spec.BindReadOnly, as the rule checked
// it) is read-only throughout: runc's "ro" reaches only the top mount,
// and an rbind would bring the host's mounts below the source along
// read-write (/sys: the cgroup hierarchies, tracefs).
func (u *Stage) PinBinds(s *specs.Spec, bundleDir string, checked map[string]string) error {
	// The staged rootfs is ours (under stagingBase, only root writes
	// there) and shows the pinned rootfs with the container's mapping:
	// sources inside the rootfs are taken from it, so they keep the
	// mapping too.
	staged, err := idmap.PinDir(u.staged)
	if err != nil {
		return fmt.Errorf("staged rootfs: %w", err)
	}
	defer staged.Close()
	for i, m := range s.Mounts {
		if !spec.IsBind(m) || m.Source == "" {
			continue
		}
		p, err := u.pinSource(staged, m.Source, spec.BindSource(m, bundleDir), checked)
		if err != nil {
			return fmt.Errorf("bind mount source %s at %s: %w", m.Source, m.Destination, err)
		}
		target, err := u.bindTarget(i, p)
		switch {
		case err != nil:
		case spec.BindReadOnly(m.Options):
			// Checked as read-only: so are the mounts an rbind
			// brings along (runc's "ro" reaches the top one only).
			err = idmap.ClonePinnedReadOnly(p, target)
		default:
			err = idmap.ClonePinned(p, target, nil)
		}
		p.Close()
		if err != nil {
			return fmt.Errorf("bind mount source %s at %s: %w", m.Source, m.Destination, err)
		}
		if u.binds == nil {
			u.binds = map[int]string{}
		}
		u.binds[i] = target
	}
	return nil
}

// pinSource opens src (written as config.json has it, clean and
// absolute) once, as the host-mounts rule checked it (checked,
// HostFacts.MountSources, keyed by written): inside the rootfs beneath
// the staged rootfs (with no symlink at all when the check saw none on
// its way), elsewhere on the host following symlinks, refused when it
// resolves elsewhere than when it was checked.
func (u *Stage) pinSource(staged *idmap.Pinned, written, src string, checked map[string]string) (*idmap.Pinned, error) {
	if rel, ok := u.inRootfs(src); ok {
		// A source the rules saw without a symlink on its way (the
		// writable paths, added by the transforms from directories
		// found real; a caller's source that resolved to itself)
		// must still have none: another container writing to a
		// shared rootfs could swap one in, and the bind would make
		// another directory of the rootfs writable.
		if want, ok := checked[written]; !ok || filepath.Clean(want) == src {
			return idmap.PinInRootNoSymlinks(staged, rel)
		}
		return idmap.PinInRoot(staged, rel)
	}
	want, ok := checked[written]
	if !ok {
		want = src
	}
	p, err := idmap.PinPath(src)
	if err == nil && p.Path != filepath.Clean(want) {
		p.Close()
		return nil, fmt.Errorf("resolves to %s, not to %s as when it was checked", p.Path, want)
	}
	return p, err
}

// inRootfs returns src relative to the rootfs when src lies in it, by
// its checked path or by the path config.json gives it.
func (u *Stage) inRootfs(src string) (string, bool) {
	for _, base := range []string{u.rootfs, u.written} {
		if base == "" {
			continue
		}
		if rel, err := filepath.Rel(base, src); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			return rel, true
		}
	}
	return "", false
}

// bindTarget creates the mount point for the clone of bind mount i: a
// directory for a directory, an empty file for anything else.
func (u *Stage) bindTarget(i int, p *idmap.Pinned) (string, error) {
	target := filepath.Join(u.dir, "bind"+strconv.Itoa(i))
	dir, err := p.IsDir()
	if err != nil {
		return "", err
	}
	if dir {
		if err := os.Mkdir(target, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
			return "", err
		}
		return target, nil
	}
	f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	return target, f.Close()
}
