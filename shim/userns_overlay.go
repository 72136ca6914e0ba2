package shim

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/hardened-runtime/hardened/hardening"
	"github.com/hardened-runtime/hardened/idmap"
	"github.com/hardened-runtime/hardened/spec"
)

// An overlay rootfs (Docker's .../overlay2/<id>/merged, containerd's
// bundle/rootfs) cannot be idmapped: the kernel refuses MOUNT_ATTR_IDMAP
// on overlayfs. It is rebuilt instead, in the staging directory:
//
//	lower<N>, data<N>  idmapped clones of the overlay's lower layers (0700)
//	rootfs             a new overlay of those, on the same upperdir/workdir
//	stage.json         what delete needs to undo it (stageRecord)
//
// The caller's overlay at its rootfs path is detached and the new one
// bound there instead, so that what the caller does with that path (docker
// cp, docker diff, docker commit) sees the container's files. The
// upperdir holds the container's own writes with container IDs at rest,
// as without a user namespace (so docker commit and export record the
// image's owners); at create they are shifted into the container's range
// and at delete back. That costs one lstat per file of the container's
// layer, not of the image.
const stageRecordName = "stage.json"

// stageRecord is written before the caller's rootfs is touched.
type stageRecord struct {
	// Target is the caller's rootfs path, where the rebuilt overlay is
	// bound.
	Target string `json:"target"`
	// Upper is the overlay's upperdir, whose owners are shifted into
	// Range while the container exists; empty for a read-only overlay.
	Upper string      `json:"upper,omitempty"`
	Range idmap.Range `json:"range"`
	// Caller is the caller's own overlay (paths resolved), detached from
	// Target at create and mounted there again at delete: an engine may
	// start the container again without mounting its rootfs anew
	// (docker restart keeps its mount).
	Caller *idmap.Overlay `json:"caller,omitempty"`
}

// stageOverlay rebuilds the overlay mounted at rootfs from idmapped lower
// layers in dir (see above), with the mapping of the user namespace ns
// whose container IDs 0..rng.Size-1 are rng.
//
// The overlay is found by the checked path of the pinned rootfs, and
// that path is verified to still name the pinned directory (an overlay's
// root has a device of its own) right before the caller's overlay is
// detached and again before the rebuilt one is bound there, by a lookup
// that follows no symlink.
func stageOverlay(pinned *idmap.Pinned, dir string, ns *os.File, rng idmap.Range) error {
	rootfs := pinned.Path
	if err := pinned.Verify(); err != nil {
		return fmt.Errorf("rootfs: %w", err)
	}
	mounts, err := idmap.ReadMountInfo()
	if err != nil {
		return err
	}
	top, ok := idmap.TopMount(mounts, rootfs)
	if !ok || top.FSType != "overlay" {
		return fmt.Errorf("rootfs %s is on an overlayfs but is not its mount point; cannot rebuild it from idmapped layers", rootfs)
	}
	ov, err := idmap.ParseOverlayOptions(top.SuperOptions)
	if err != nil {
		return fmt.Errorf("rootfs %s: %w", rootfs, err)
	}
	// Docker's relative paths are relative to its overlay2 directory
	// (rootfs is <overlay2>/<id>/merged), containerd's to the snapshots
	// directory (upperdir is <snapshots>/<n>/fs).
	bases := []string{filepath.Dir(filepath.Dir(rootfs))}
	if filepath.IsAbs(ov.Upper) {
		bases = append(bases, filepath.Dir(filepath.Dir(ov.Upper)))
	}
	if err := ov.Resolve(bases...); err != nil {
		return fmt.Errorf("rootfs %s: %w", rootfs, err)
	}
	rec := stageRecord{Target: rootfs, Upper: ov.Upper, Range: rng, Caller: &ov}
	data, _ := json.Marshal(rec)
	if err := spec.WriteFileAtomic(filepath.Join(dir, stageRecordName), data, 0o600); err != nil {
		return err
	}
	if ov.Upper != "" {
		n, err := idmap.ShiftOwners(ov.Upper, intoRange(rng, staleRange(ov.Upper, rng)))
		if err != nil {
			return err
		}
		logrus.Debugf("rootfs %s: %d files of the container's layer shifted into %s", rootfs, n, rng)
	}
	rebuilt := idmap.Overlay{Upper: ov.Upper, Work: ov.Work, Options: ov.Options}
	clone := func(kind string, layers []string) ([]string, error) {
		var out []string
		for i, l := range layers {
			dst := filepath.Join(dir, kind+strconv.Itoa(i))
			if err := os.Mkdir(dst, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
				return nil, err
			}
			if err := idmap.CloneIDMapped(l, dst, ns); err != nil {
				return nil, err
			}
			out = append(out, dst)
		}
		return out, nil
	}
	if rebuilt.Lower, err = clone("lower", ov.Lower); err != nil {
		return err
	}
	if rebuilt.Data, err = clone("data", ov.Data); err != nil {
		return err
	}
	staged := filepath.Join(dir, "rootfs")
	// Two overlays on one upperdir are undefined behaviour (the kernel
	// warns): the caller's goes before ours is mounted, and comes back
	// should ours fail.
	if err := pinned.Verify(); err != nil {
		return fmt.Errorf("rootfs: %w", err)
	}
	if err := unix.Unmount(rootfs, unix.MNT_DETACH|unix.UMOUNT_NOFOLLOW); err != nil {
		return fmt.Errorf("detach the overlay at %s: %w", rootfs, err)
	}
	if err := idmap.MountOverlay(rebuilt, staged); err != nil {
		if rerr := idmap.MountOverlay(ov, rootfs); rerr != nil {
			logrus.Warnf("rootfs %s: the caller's overlay could not be mounted back: %v", rootfs, rerr)
		}
		return err
	}
	if err := bindNoFollow(staged, rootfs); err != nil {
		return fmt.Errorf("bind the rebuilt rootfs at %s: %w", rootfs, err)
	}
	return nil
}

// bindNoFollow binds the mount at src (a path of ours) onto target,
// looked up without following any symlink.
func bindNoFollow(src, target string) error {
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
	return unix.MoveMount(from, "", to, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH)
}

// intoRange maps IDs at rest (container IDs 0..Size-1) into rng, and so
// do IDs of stale, the range of an earlier run whose delete never shifted
// them back. Other IDs stay.
func intoRange(rng idmap.Range, stale *idmap.Range) func(uint32) (uint32, bool) {
	return func(id uint32) (uint32, bool) {
		switch {
		case id < rng.Size:
			return rng.Start + id, true
		case stale != nil && uint64(id) >= uint64(stale.Start) && uint64(id) < stale.End():
			return rng.Start + (id - stale.Start), true
		}
		return 0, false
	}
}

// staleRange returns the range an upperdir was left in: its root
// directory is owned by container root, so a root owned by neither a
// container ID nor rng's root names that range's start.
func staleRange(upper string, rng idmap.Range) *idmap.Range {
	var st unix.Stat_t
	if err := unix.Lstat(upper, &st); err != nil || st.Uid < rng.Size || st.Uid == rng.Start || st.Uid != st.Gid {
		return nil
	}
	r := idmap.Range{Start: st.Uid, Size: rng.Size}
	if r.Validate() != nil || r.Overlaps(rng) {
		return nil
	}
	return &r
}

// outOfRange maps rng's IDs back to container IDs.
func outOfRange(rng idmap.Range) func(uint32) (uint32, bool) {
	return func(id uint32) (uint32, bool) {
		if uint64(id) >= uint64(rng.Start) && uint64(id) < rng.End() {
			return id - rng.Start, true
		}
		return 0, false
	}
}

// unstage undoes what stageRootfs staged in dir: the rebuilt rootfs
// bound at the caller's path (only while it is still ours: the caller may
// have mounted its own there since), every mount under dir, the
// container's layer shifted back to container IDs, the caller's overlay
// mounted back at its path (where ours was), then the directories.
// A dir that does not exist is not an error.
func unstage(dir string) error {
	if _, err := os.Lstat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	var rec stageRecord
	if data, err := os.ReadFile(filepath.Join(dir, stageRecordName)); err == nil {
		if err := json.Unmarshal(data, &rec); err != nil {
			return fmt.Errorf("%s: %w", filepath.Join(dir, stageRecordName), err)
		}
	}
	mounts, err := idmap.ReadMountInfo()
	if err != nil {
		return err
	}
	detached := false
	if rec.Target != "" {
		if top, ok := idmap.TopMount(mounts, rec.Target); ok && stagedUnder(top, dir) {
			if err := unix.Unmount(rec.Target, unix.MNT_DETACH|unix.UMOUNT_NOFOLLOW); err != nil {
				return fmt.Errorf("unmount %s: %w", rec.Target, err)
			}
			detached = true
		}
	}
	// Deepest first, each mount point until nothing is left on it.
	var points []string
	for _, m := range mounts {
		if strings.HasPrefix(m.Mountpoint, dir+"/") {
			points = append(points, m.Mountpoint)
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(points)))
	for _, p := range points {
		if err := idmap.Unmount(p); err != nil {
			return err
		}
	}
	if rec.Upper != "" && rec.Range.Size > 0 {
		if _, err := os.Stat(rec.Upper); err == nil {
			if _, err := idmap.ShiftOwners(rec.Upper, outOfRange(rec.Range)); err != nil {
				return err
			}
		}
	}
	// The caller unmounts it when it is done (docker stop, containerd's
	// shim); until then its path shows the container's files again. A
	// failure is no reason to keep the container: the engine mounts its
	// rootfs anew on a fresh start.
	if detached && rec.Caller != nil {
		if err := idmap.MountOverlay(*rec.Caller, rec.Target); err != nil {
			logrus.Warnf("rootfs %s: the caller's overlay could not be mounted back: %v", rec.Target, err)
		}
	}
	// os.Remove, never RemoveAll: should a mount still be there, removing
	// must fail rather than delete the image's files.
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Name() == stageRecordName {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	if err := os.Remove(filepath.Join(dir, stageRecordName)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	// The per-root directory goes with the root's last container (it
	// fails, harmlessly, while others remain).
	_ = os.Remove(filepath.Dir(dir))
	return nil
}

// stagedUnder reports whether mount m is (a bind of) an overlay rebuilt
// in dir: its lower layers are there.
func stagedUnder(m idmap.MountEntry, dir string) bool {
	if m.FSType != "overlay" {
		return false
	}
	ov, err := idmap.ParseOverlayOptions(m.SuperOptions)
	return err == nil && strings.HasPrefix(ov.Lower[0], dir+"/")
}

// joinedRange returns the host IDs a joined user namespace maps from
// container ID 0, which an overlay rootfs's layer is shifted into.
func joinedRange(userns string) (*idmap.Range, error) {
	proc := filepath.Dir(filepath.Dir(userns))
	ms, err := idmap.ReadIDMap(filepath.Join(proc, "uid_map"))
	if err != nil {
		return nil, err
	}
	if len(ms) != 1 || ms[0].ContainerID != 0 {
		return nil, fmt.Errorf("user namespace %s: an overlay rootfs needs one mapping from container ID 0, have %v", userns, ms)
	}
	return &ms[0].Host, nil
}

// dockerFiles are the per-container files Docker bind-mounts, found at
// <data-root>/containers/<id>/<name>.
var dockerFiles = map[string]string{"/etc/hosts": "hosts", "/etc/hostname": "hostname", "/etc/resolv.conf": "resolv.conf"}

// dockerRoot returns Docker's data root when the spec binds this
// container's own /etc/hosts from <data-root>/containers/<id>/hosts,
// else "".
func dockerRoot(s *specs.Spec, f hardening.HostFacts, id string) string {
	for _, m := range s.Mounts {
		if m.Destination != "/etc/hosts" || !isBind(m) {
			continue
		}
		src := resolvedSource(m, f)
		dir := filepath.Dir(src)
		if filepath.Base(src) == "hosts" && filepath.Base(dir) == id && filepath.Base(filepath.Dir(dir)) == "containers" {
			return filepath.Dir(filepath.Dir(dir))
		}
	}
	return ""
}

func resolvedSource(m specs.Mount, f hardening.HostFacts) string {
	if r, ok := f.MountSources[m.Source]; ok {
		return r
	}
	return filepath.Clean(m.Source)
}

// chownDockerFiles gives Docker's /etc/hosts, /etc/hostname and
// /etc/resolv.conf of this container to its mapped root, so that
// container root owns them as without a user namespace. They belong to
// this container alone; a chown is safer than an idmapped bind, through
// which container root would act as host root on them. With
// "idmapBindMounts" they are idmapped like every host bind, and so given
// back to host root, which that mount shows as container root.
func chownDockerFiles(s *specs.Spec, f *hardening.HostFacts, id string, rng idmap.Range, idmapped bool) {
	owner := int(rng.Start)
	if idmapped {
		owner = 0
	}
	if f.DockerRoot == "" {
		return
	}
	for _, m := range s.Mounts {
		name, ok := dockerFiles[m.Destination]
		if !ok || !isBind(m) {
			continue
		}
		src := resolvedSource(m, *f)
		if src != filepath.Join(f.DockerRoot, "containers", id, name) {
			continue
		}
		if err := unix.Lchown(src, owner, owner); err != nil {
			logrus.Warnf("container %s: chown %s to the mapped root: %v", id, src, err)
		}
	}
}
