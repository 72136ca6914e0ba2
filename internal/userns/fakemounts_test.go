package userns

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hardened-runtime/hardened/idmap"
)

// errFakeMount is what fakeMounts returns for a call it was told to fail.
var errFakeMount = errors.New("fake mount failure")

// fakeMounts is hostMounts over a mount table and file owners of its
// own, so the staging steps run without root: it records every call
// (with base cut from the paths, "(fails)" after one that failed) and
// fails the calls named in fail.
type fakeMounts struct {
	// base is cut from the paths in calls.
	base string
	// table is the mount table, in mountinfo's order (a mount stacked on
	// another comes after it).
	table []idmap.MountEntry
	// owners is the owner (uid and gid) of each file of the upper layers
	// by path, which shiftOwners changes.
	owners map[string]uint32
	// fail names the calls that fail: "op" for the first call of op (a
	// method name), "op#n" for its nth, counted in count (failCalls).
	fail  map[string]bool
	calls []string
	count map[string]int
	// during, when set, is called with each call's description before
	// the call does anything.
	during func(desc string)
}

func newFakeMounts(base string, table []idmap.MountEntry, owners map[string]uint32) *fakeMounts {
	return &fakeMounts{base: base, table: table, owners: owners, fail: map[string]bool{}, count: map[string]int{}}
}

// failCalls makes the calls named fail ("op" or "op#n", see fail),
// counting from now on, and no others.
func (f *fakeMounts) failCalls(calls ...string) {
	f.fail, f.count = map[string]bool{}, map[string]int{}
	for _, c := range calls {
		f.fail[c] = true
	}
}

// call records op (described by desc) and returns the failure asked for
// it, if any.
func (f *fakeMounts) call(op, desc string) error {
	f.count[op]++
	desc = strings.ReplaceAll(desc, f.base, "")
	if f.during != nil {
		f.during(desc)
	}
	if f.fail[op+"#"+strconv.Itoa(f.count[op])] || f.count[op] == 1 && f.fail[op] {
		f.calls = append(f.calls, desc+" (fails)")
		return fmt.Errorf("%s: %w", desc, errFakeMount)
	}
	f.calls = append(f.calls, desc)
	return nil
}

// top returns the uppermost mount at path.
func (f *fakeMounts) top(path string) (idmap.MountEntry, bool) {
	return idmap.TopMount(f.table, path)
}

// under returns the mount points in the table below dir.
func (f *fakeMounts) under(dir string) []string {
	var out []string
	for _, m := range f.table {
		if strings.HasPrefix(m.Mountpoint, dir+"/") {
			out = append(out, m.Mountpoint)
		}
	}
	return out
}

func (f *fakeMounts) mountInfo() ([]idmap.MountEntry, error) {
	if err := f.call("mountInfo", "mountinfo"); err != nil {
		return nil, err
	}
	return slices.Clone(f.table), nil
}

func (f *fakeMounts) cloneIDMapped(layer, dst string, ns *os.File) error {
	if err := f.call("cloneIDMapped", "clone "+layer+" "+dst); err != nil {
		return err
	}
	if ns == nil {
		return fmt.Errorf("clone of %s: no user namespace to idmap with", layer)
	}
	f.table = append(f.table, idmap.MountEntry{Root: layer, Mountpoint: dst, FSType: "ext4", Source: "/dev/fake", SuperOptions: "rw"})
	return nil
}

// overlayOptions are the super options mountinfo would show for ov.
func overlayOptions(ov idmap.Overlay) string {
	opts := "rw,lowerdir=" + strings.Join(ov.Lower, ":")
	if len(ov.Data) > 0 {
		opts += "::" + strings.Join(ov.Data, ":")
	}
	if ov.Upper != "" {
		opts += ",upperdir=" + ov.Upper + ",workdir=" + ov.Work
	}
	opts += ",index=off"
	for _, o := range ov.Options {
		opts += "," + o
	}
	return opts
}

// overlayCall describes a mount of an overlay of ov's layers at target.
func overlayCall(verb string, ov idmap.Overlay, target string) string {
	desc := verb + " " + target + " lower=" + strings.Join(ov.Lower, ":")
	if len(ov.Data) > 0 {
		desc += " data=" + strings.Join(ov.Data, ":")
	}
	if ov.Upper != "" {
		desc += " upper=" + ov.Upper
	}
	return desc
}

func (f *fakeMounts) mountOverlay(ov idmap.Overlay, target string) error {
	if err := f.call("mountOverlay", overlayCall("mount overlay", ov, target)); err != nil {
		return err
	}
	f.table = append(f.table, idmap.MountEntry{Root: "/", Mountpoint: target, FSType: "overlay", Source: "overlay", SuperOptions: overlayOptions(ov)})
	return nil
}

// mountView is mountOverlay with the view's mount attributes in its
// description.
func (f *fakeMounts) mountView(ov idmap.Overlay, target string) error {
	if err := f.call("mountView", overlayCall("mount view", ov, target)+" ro,nosuid,nodev"); err != nil {
		return err
	}
	f.table = append(f.table, idmap.MountEntry{Root: "/", Mountpoint: target, FSType: "overlay", Source: "overlay", SuperOptions: overlayOptions(ov)})
	return nil
}

func (f *fakeMounts) bind(src, target string) error {
	if err := f.call("bind", "bind "+src+" "+target); err != nil {
		return err
	}
	m, ok := f.top(src)
	if !ok {
		return fmt.Errorf("bind %s: not a mount point in the fake table", src)
	}
	m.Mountpoint = target
	f.table = append(f.table, m)
	return nil
}

// detach removes the uppermost mount at path, and the mounts on top of
// it below path.
func (f *fakeMounts) detach(path string) error {
	if err := f.call("detach", "detach "+path); err != nil {
		return err
	}
	if !f.detachTop(path) {
		return fmt.Errorf("detach %s: %w", path, unix.EINVAL)
	}
	return nil
}

func (f *fakeMounts) detachTop(path string) bool {
	for i := len(f.table) - 1; i >= 0; i-- {
		if f.table[i].Mountpoint != path {
			continue
		}
		kept := f.table[:i:i]
		for _, m := range f.table[i+1:] {
			if !strings.HasPrefix(m.Mountpoint, path+"/") {
				kept = append(kept, m)
			}
		}
		f.table = kept
		return true
	}
	return false
}

func (f *fakeMounts) unmountAll(path string) error {
	if err := f.call("unmountAll", "unmount "+path); err != nil {
		return err
	}
	for f.detachTop(path) {
	}
	return nil
}

// detachStagingDir detaches every mount at dir with those below it. The
// files of a tmpfs there go with it: dir's real files are removed, as
// the directory under the tmpfs is empty.
func (f *fakeMounts) detachStagingDir(dir string) (bool, error) {
	if err := f.call("detachStagingDir", "detach staging "+dir); err != nil {
		return false, err
	}
	top, whole := f.top(dir)
	for f.detachTop(dir) {
	}
	if top.FSType == "tmpfs" {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return true, err
		}
		for _, e := range entries {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return true, err
			}
		}
	}
	return whole, nil
}

// shiftOwners is described by what it does to the owner of dir itself.
// countFiles counts the files of owners under dir; it is not recorded
// in calls (it changes nothing).
func (f *fakeMounts) countFiles(dir string, limit int) (int, error) {
	n := 0
	for p := range f.owners {
		if p != dir && !strings.HasPrefix(p, dir+"/") {
			continue
		}
		if n++; limit > 0 && n > limit {
			return n, fmt.Errorf("%w: more than %d files", idmap.ErrLayerTooLarge, limit)
		}
	}
	return n, nil
}

func (f *fakeMounts) shiftOwners(dir string, shift func(uint32) (uint32, bool)) (int, error) {
	desc := "shift " + dir
	if id, ok := f.owners[dir]; ok {
		if to, ok := shift(id); ok {
			desc += fmt.Sprintf(" %d->%d", id, to)
		} else {
			desc += fmt.Sprintf(" %d stays", id)
		}
	}
	if err := f.call("shiftOwners", desc); err != nil {
		return 0, err
	}
	n := 0
	for p, id := range f.owners {
		if p != dir && !strings.HasPrefix(p, dir+"/") {
			continue
		}
		if to, ok := shift(id); ok && to != id {
			f.owners[p] = to
			n++
		}
	}
	return n, nil
}
