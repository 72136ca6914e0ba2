package userns

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

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
//
// While the container runs, the engine's path is the container's overlay,
// so the engine sees its mapped (host) owners: docker diff lists every
// file of the image, docker export and commit --pause=false record host
// IDs, and what docker cp or podman cp write lands as host root, nobody
// inside. What would give the engine the owners at rest was measured on
// Linux 6.18 and rejected:
//   - an idmapped mount of the overlay itself: EINVAL (overlayfs does not
//     allow idmapping);
//   - an overlay of the engine's own beside the container's, on the same
//     upperdir (the caller's overlay kept at its path; the container's
//     with idmapped lower and upper layers, which also spares the shift:
//     it mounts when the mounter's fsuid/fsgid are the mapped root, else
//     read-only with EOVERFLOW). The kernel calls it undefined, and each
//     overlay keeps a stale view of what the other changed: after the
//     engine's docker cp the container does not find the file it looked
//     for earlier, nor the engine's copy of a file it had read, and its
//     own copy-up of a directory the engine copied up fails
//     ("Directory not empty", "Stale file handle"); the engine reads
//     stale contents after the container wrote (a docker commit would
//     lose them) (idmap.TestSecondOverlayOnUpperGoesStale);
//   - an engine view whose upper is idmapped in reverse: the same two
//     overlays, the same staleness.
//
// So the one overlay stays coherent, and what the engine wrote is given
// to the container afterwards: at create (the shift) and at every exec
// (AdoptEngineWrites), through the overlay so that its cached inodes
// follow. Between docker cp and the next exec or start, the container's
// own processes see the copied files as nobody's (readable as their mode
// allows). Sysbox has the same limits (nestybox/sysbox#866: a
// sysbox-docker-cp script chowns after the copy). While the container is
// frozen its layer cannot change, and the engine gets a read-only view
// of it at rest (pause.go): docker commit pauses by default. Operators
// who need the engine's exact view of running containers run dockerd
// with --userns-remap and name its user in "remapSubidUsers": the
// engine's mapping and rootfs are kept, nothing is rebuilt, and its
// containers share one range (see hardening.UserNamespace).
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

// Steps of stageOverlay, named to the failure hook of its tests.
const (
	stepRecord = "record"
	stepShift  = "shift"
	stepClone  = "clone"
	stepDetach = "detach"
	stepMount  = "mount"
	stepBind   = "bind"
)

// overlayRebuild rebuilds one container's overlay rootfs (stageOverlay).
type overlayRebuild struct {
	// failAt, when set (by tests only), is asked before each step and
	// its error fails the rebuild there.
	failAt func(step string) error
	// unknown receives the caller's overlay options the rebuild passed
	// through without knowing them; nil to only log them.
	unknown func(opts []string)
	// host changes the mounts and the layer's owners; nil is the
	// kernel's (kernelMounts).
	host hostMounts
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
//
// Nothing is lost on failure: whatever step fails, what the steps before
// it did is undone before the error is returned (the rebuilt overlay and
// the clones unmounted, the container's layer shifted back to container
// IDs, the caller's overlay mounted again at rootfs as it was).
func (b overlayRebuild) stageOverlay(pinned *idmap.Pinned, dir string, ns *os.File, rng idmap.Range) (retErr error) {
	step := func(name string) error {
		if b.failAt == nil {
			return nil
		}
		if err := b.failAt(name); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return nil
	}
	host := b.host
	if host == nil {
		host = kernelMounts{}
	}
	rootfs := pinned.Path
	if err := pinned.Verify(); err != nil {
		return fmt.Errorf("rootfs: %w", err)
	}
	mounts, err := host.mountInfo()
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
	// directory (upperdir is <snapshots>/<n>/fs). Podman's
	// (containers/storage) are absolute short names under overlay/l/,
	// symlinks to the layers' diff directories, which the clones follow.
	bases := []string{filepath.Dir(filepath.Dir(rootfs))}
	if filepath.IsAbs(ov.Upper) {
		bases = append(bases, filepath.Dir(filepath.Dir(ov.Upper)))
	}
	if err := ov.Resolve(bases...); err != nil {
		return fmt.Errorf("rootfs %s: %w", rootfs, err)
	}
	if err := overlayInUse(ov, rng); err != nil {
		return fmt.Errorf("rootfs %s: %w", rootfs, err)
	}
	if len(ov.Unknown) > 0 {
		// The kernel showed them, so it takes them back: the rebuilt
		// overlay keeps the caller's view of the layers. Dropping an
		// option could change that view (whiteouts, redirects), and
		// running without the user namespace would be a weaker container
		// than the policy asks for.
		logrus.Warnf("rootfs %s: overlay options %s not known to the rebuild, passed through unchanged", rootfs, strings.Join(ov.Unknown, ","))
		if b.unknown != nil {
			b.unknown(ov.Unknown)
		}
	}
	var shifted, detached, mounted, bound bool
	staged := filepath.Join(dir, "rootfs")
	defer func() {
		if retErr == nil {
			return
		}
		if err := rollbackOverlay(host, ov, rootfs, dir, staged, rng, shifted, detached, mounted, bound); err != nil {
			logrus.Warnf("rootfs %s: %v", rootfs, err)
			retErr = fmt.Errorf("%w; undoing it: %v", retErr, err)
		}
	}()
	if err := step(stepRecord); err != nil {
		return err
	}
	rec := stageRecord{Target: rootfs, Upper: ov.Upper, Range: rng, Caller: &ov}
	data, _ := json.Marshal(rec)
	if err := spec.WriteFileAtomic(filepath.Join(dir, stageRecordName), data, 0o600); err != nil {
		return err
	}
	if err := step(stepShift); err != nil {
		return err
	}
	if ov.Upper != "" {
		shifted = true
		n, err := host.shiftOwners(ov.Upper, intoRange(rng, staleRange(ov.Upper, rng)))
		if err != nil {
			return err
		}
		logrus.Debugf("rootfs %s: %d files of the container's layer shifted into %s", rootfs, n, rng)
	}
	rebuilt := idmap.Overlay{Upper: ov.Upper, Work: ov.Work, Options: ov.Options}
	clone := func(kind string, layers []string) ([]string, error) {
		var out []string
		for i, l := range layers {
			if err := step(stepClone); err != nil {
				return nil, err
			}
			dst := filepath.Join(dir, kind+strconv.Itoa(i))
			if err := os.Mkdir(dst, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
				return nil, err
			}
			if err := host.cloneIDMapped(l, dst, ns); err != nil {
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
	// Two overlays on one upperdir are undefined behaviour (the kernel
	// warns): the caller's goes before ours is mounted, and comes back
	// should anything after fail.
	if err := step(stepDetach); err != nil {
		return err
	}
	if err := pinned.Verify(); err != nil {
		return fmt.Errorf("rootfs: %w", err)
	}
	if err := host.detach(rootfs); err != nil {
		return fmt.Errorf("detach the overlay at %s: %w", rootfs, err)
	}
	detached = true
	if err := step(stepMount); err != nil {
		return err
	}
	if err := host.mountOverlay(rebuilt, staged); err != nil {
		if len(ov.Unknown) > 0 {
			return fmt.Errorf("%w (with the caller's overlay options %s, which the rebuild does not know)", err, strings.Join(ov.Unknown, ","))
		}
		return err
	}
	mounted = true
	if err := step(stepBind); err != nil {
		return err
	}
	if err := host.bind(staged, rootfs); err != nil {
		return fmt.Errorf("bind the rebuilt rootfs at %s: %w", rootfs, err)
	}
	bound = true
	return nil
}

// AdoptEngineWrites gives container id of root the files its engine
// wrote into its layer while it runs (docker cp and podman cp write as
// host root through the caller's path, which is the container's own
// overlay, so the container would see them as nobody's until its next
// create): idmap.AdoptHostWrites, through the rebuilt overlay. exec calls
// it, so that a file copied in is container root's for the processes
// that docker exec starts and for the container's own from then on. A
// container without a rebuilt overlay has nothing to adopt; a failure is
// logged, never fails the exec. It walks the layer only while it is
// live: it waits for a pause, resume or delete under way to finish, and
// leaves alone the layer of a paused container, at rest (pause.go).
func AdoptEngineWrites(root, id string) {
	adoptEngineWrites(stagingDir(root, id), id, idmap.AdoptHostWrites)
}

// adoptEngineWrites is AdoptEngineWrites for the staging directory dir,
// walking the layer with walk (idmap.AdoptHostWrites; tests wrap it).
func adoptEngineWrites(dir, id string, walk func(upper, root string, rng idmap.Range, limit int) (int, error)) {
	// The walk runs on every exec (health checks too), at the runtime's
	// cost, not the container's: a layer of more files than this, which
	// keeps the walk's time well under a second (tests/bench/README.md),
	// is left to the next start.
	const adoptLimit = 50_000
	data, err := os.ReadFile(filepath.Join(dir, stageRecordName))
	if err != nil {
		return
	}
	var rec stageRecord
	if err := json.Unmarshal(data, &rec); err != nil || rec.Upper == "" || rec.Range.Size == 0 {
		return
	}
	unlock, err := lockStaging(dir, unix.LOCK_SH)
	if err != nil {
		logrus.Warnf("container %s: files the engine wrote into its layer: %v", id, err)
		return
	}
	defer unlock()
	// The container was running when exec looked; since, a pause may
	// have shifted its layer to container IDs (its mark stays until
	// resume shifted it back, also when it was killed midway), or a
	// delete unstaged it (the record went with the staging tmpfs).
	if _, err := os.Lstat(filepath.Join(dir, pausedMark)); !errors.Is(err, os.ErrNotExist) {
		logrus.Debugf("container %s: its layer is at rest (paused), the engine's writes are left to the next exec", id)
		return
	}
	if _, err := os.Lstat(filepath.Join(dir, stageRecordName)); err != nil {
		return
	}
	start := time.Now()
	n, err := walk(rec.Upper, filepath.Join(dir, "rootfs"), rec.Range, adoptLimit)
	if err != nil {
		logrus.Warnf("container %s: files the engine wrote into its layer: %v", id, err)
		return
	}
	logrus.Debugf("container %s: %d files the engine wrote into its layer given to the container, in %v", id, n, time.Since(start))
}

// overlayInUse refuses an overlay whose layers belong to another live
// container (a config.json may name any path as its rootfs, the engine
// path of another container's overlay included): the overlay is one this
// runtime rebuilt (its lower layers are staging clones), or its upperdir
// is owned by a range the host registry holds for another container than
// the one of rng. Rebuilding it would shift that container's files into
// this one's range.
func overlayInUse(ov idmap.Overlay, rng idmap.Range) error {
	for _, l := range append(slices.Clone(ov.Lower), ov.Data...) {
		if strings.HasPrefix(filepath.Clean(l), stagingBase+"/") {
			return fmt.Errorf("the overlay is another container's rootfs, rebuilt by this runtime (layer %s); no policy key allows it", l)
		}
	}
	if ov.Upper == "" {
		return nil
	}
	var st unix.Stat_t
	if err := unix.Lstat(ov.Upper, &st); err != nil {
		return fmt.Errorf("upperdir: %w", err)
	}
	owner := idmap.Range{Start: st.Uid, Size: 1}
	if st.Uid < rng.Size || owner.Overlaps(rng) {
		return nil
	}
	entries, err := idmap.NewHostAllocator(nil, 0).Entries()
	if err != nil {
		return err
	}
	for key, e := range entries {
		for _, held := range e.Holds() {
			if held.Overlaps(owner) && !held.Overlaps(rng) {
				return fmt.Errorf("its upperdir %s is the layer of running container %s (owned by host ID %d of its range %s); no policy key allows it", ov.Upper, key, st.Uid, held)
			}
		}
	}
	return nil
}

// rollbackOverlay undoes a stageOverlay that failed after the steps
// flagged: ours unmounted (at rootfs only while it is still ours), the
// clones in dir unmounted, the container's layer shifted back, and the
// caller's overlay ov mounted at rootfs again when it was detached.
func rollbackOverlay(host hostMounts, ov idmap.Overlay, rootfs, dir, staged string, rng idmap.Range, shifted, detached, mounted, bound bool) error {
	var errs []error
	if bound {
		if mounts, err := host.mountInfo(); err != nil {
			errs = append(errs, err)
		} else if top, ok := idmap.TopMount(mounts, rootfs); ok && stagedUnder(top, dir) {
			if err := host.detach(rootfs); err != nil {
				errs = append(errs, fmt.Errorf("unmount %s: %w", rootfs, err))
			}
		}
	}
	if mounted {
		if err := host.unmountAll(staged); err != nil {
			errs = append(errs, err)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if n := e.Name(); strings.HasPrefix(n, "lower") || strings.HasPrefix(n, "data") {
			if err := host.unmountAll(filepath.Join(dir, n)); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if shifted {
		if _, err := host.shiftOwners(ov.Upper, outOfRange(rng)); err != nil {
			errs = append(errs, err)
		}
	}
	if detached {
		if err := host.mountOverlay(ov, rootfs); err != nil {
			errs = append(errs, fmt.Errorf("the caller's overlay could not be mounted back: %w", err))
		}
	}
	return errors.Join(errs...)
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

// unstage undoes what StageRootfs staged in dir: the rebuilt rootfs
// bound at the caller's path, or the view at rest of a paused container
// there (only while it is still ours: the caller may have mounted its
// own there since), every mount under dir, the
// container's layer shifted back to container IDs, the caller's overlay
// mounted back at its path (where ours was), then the directories.
// A dir that does not exist is not an error.
func unstage(host hostMounts, dir string) error {
	if _, err := os.Lstat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	var rec stageRecord
	if data, err := os.ReadFile(filepath.Join(dir, stageRecordName)); err == nil {
		if err := json.Unmarshal(data, &rec); err != nil {
			return fmt.Errorf("%s: %w", filepath.Join(dir, stageRecordName), err)
		}
	}
	var mounts []idmap.MountEntry
	var err error
	detached := false
	if rec.Target != "" {
		// Not while a pause, resume or exec's adoption changes the
		// layer's owners (pause.go).
		unlock, lockErr := lockStaging(dir, unix.LOCK_EX)
		if lockErr != nil {
			return lockErr
		}
		defer unlock()
		if mounts, err = host.mountInfo(); err != nil {
			return err
		}
		// Ours, or the view at rest of a paused container (pause.go).
		top, ok := idmap.TopMount(mounts, rec.Target)
		switch {
		case ok && (stagedUnder(top, dir) || isRestingView(top, rec)):
			if err := host.detach(rec.Target); err != nil {
				return fmt.Errorf("unmount %s: %w", rec.Target, err)
			}
			detached = true
		default:
			// A pause killed after it detached ours (its mark is
			// there) left the caller's path bare.
			_, err := os.Lstat(filepath.Join(dir, pausedMark))
			detached = err == nil
		}
	}
	// The tmpfs on dir (idmap.MountStagingDir) goes with every mount on
	// it. A dir staged without one (by an earlier version) has its
	// mounts found in mountinfo and unmounted deepest first, each mount
	// point until nothing is left on it.
	whole, err := host.detachStagingDir(dir)
	if err != nil {
		return err
	}
	if !whole {
		if mounts == nil {
			if mounts, err = host.mountInfo(); err != nil {
				return err
			}
		}
		var points []string
		for _, m := range mounts {
			if strings.HasPrefix(m.Mountpoint, dir+"/") {
				points = append(points, m.Mountpoint)
			}
		}
		sort.Sort(sort.Reverse(sort.StringSlice(points)))
		for _, p := range points {
			if err := host.unmountAll(p); err != nil {
				return err
			}
		}
	}
	if rec.Upper != "" && rec.Range.Size > 0 {
		if _, err := os.Stat(rec.Upper); err == nil {
			if _, err := host.shiftOwners(rec.Upper, outOfRange(rec.Range)); err != nil {
				return err
			}
		}
	}
	// The caller unmounts it when it is done (docker stop, containerd's
	// shim); until then its path shows the container's files again. A
	// failure is no reason to keep the container: the engine mounts its
	// rootfs anew on a fresh start.
	if detached && rec.Caller != nil {
		if err := host.mountOverlay(*rec.Caller, rec.Target); err != nil {
			logrus.Warnf("rootfs %s: the caller's overlay could not be mounted back: %v", rec.Target, err)
		}
	}
	// Without the tmpfs dir holds only the rootfs directory made beneath
	// it (StageRootfs): two rmdirs (os.Remove would try an unlink first,
	// a second turn of the per-root directory's lock, which every create
	// and delete of the root takes).
	_ = unix.Rmdir(filepath.Join(dir, "rootfs"))
	if err := unix.Rmdir(dir); err == nil || errors.Is(err, unix.ENOENT) {
		_ = unix.Rmdir(filepath.Dir(dir))
		return nil
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

// joinedRange returns the host IDs a joined user namespace (plan.Join)
// maps from container ID 0, which an overlay rootfs's layer is shifted
// into: the mapping the rules judged (read through the namespace file
// they opened), not one read again by path.
func joinedRange(userns string, f hardening.HostFacts) (*idmap.Range, error) {
	var ms []idmap.Mapping
	found := false
	for path, info := range f.Usernses {
		if path == userns || info.Path == userns {
			ms, found = info.UIDMap, true
			break
		}
	}
	if !found || len(ms) == 0 {
		return nil, fmt.Errorf("user namespace %s: mapping unknown", userns)
	}
	if len(ms) != 1 || ms[0].ContainerID != 0 {
		return nil, fmt.Errorf("user namespace %s: an overlay rootfs needs one mapping from container ID 0, have %v", userns, ms)
	}
	return &ms[0].Host, nil
}

// dockerFiles are the per-container files Docker bind-mounts, found at
// <data-root>/containers/<id>/<name>.
var dockerFiles = map[string]string{"/etc/hosts": "hosts", "/etc/hostname": "hostname", "/etc/resolv.conf": "resolv.conf"}

// podmanFiles are the per-container files Podman bind-mounts from
// <runroot>/overlay-containers/<id>/userdata/<name>.
var podmanFiles = map[string]string{"/etc/hosts": "hosts", "/etc/hostname": "hostname", "/etc/resolv.conf": "resolv.conf", "/run/.containerenv": ".containerenv"}

// isPodmanFile reports whether src, bound at dest, is this container's
// own file in Podman's run root.
func isPodmanFile(dest, src, id string) bool {
	name, ok := podmanFiles[dest]
	userdata := filepath.Dir(src)
	return ok && filepath.Base(src) == name && filepath.Base(userdata) == "userdata" &&
		filepath.Base(filepath.Dir(userdata)) == id && filepath.Base(filepath.Dir(filepath.Dir(userdata))) == "overlay-containers"
}

// podmanRoot returns Podman's storage root when the spec binds this
// container's own /dev/shm from
// <root>/overlay-containers/<id>/userdata/shm, else "".
func podmanRoot(s *specs.Spec, f hardening.HostFacts, id string) string {
	for _, m := range s.Mounts {
		if m.Destination != "/dev/shm" || !spec.IsBind(m) {
			continue
		}
		src := resolvedSource(m, f)
		userdata := filepath.Dir(src)
		dir := filepath.Dir(userdata)
		if filepath.Base(src) == "shm" && filepath.Base(userdata) == "userdata" && filepath.Base(dir) == id && filepath.Base(filepath.Dir(dir)) == "overlay-containers" {
			return filepath.Dir(filepath.Dir(dir))
		}
	}
	return ""
}

// ownPodmanRoot returns Podman's storage root when this container is
// that Podman's own: the spec binds its /dev/shm from
// <root>/overlay-containers/<id>/userdata/shm (podmanRoot), the bundle is
// that userdata directory itself, as Podman passes it (its config.json
// is then Podman's: only root writes there), and the rootfs is an
// overlay mount (Podman's, mounted while it starts or runs the
// container). Only then are Podman's per-container files chowned to the
// container's range, else "": a caller choosing the ID of a Podman
// container, with a config.json of its own, got that container's
// /etc/hosts and resolv.conf to rewrite (see hardening.OwnDockerRoot).
func ownPodmanRoot(s *specs.Spec, f hardening.HostFacts, id string) string {
	root := podmanRoot(s, f, id)
	if root == "" || f.Rootfs == "" || f.RootfsNotOverlayMount || f.Bundle != filepath.Join(root, "overlay-containers", id, "userdata") {
		return ""
	}
	return root
}

func resolvedSource(m specs.Mount, f hardening.HostFacts) string {
	if r, ok := f.MountSources[m.Source]; ok {
		return r
	}
	return filepath.Clean(m.Source)
}

// chownDockerFiles gives Docker's /etc/hosts, /etc/hostname and
// /etc/resolv.conf (and Podman's, with its /run/.containerenv) of this
// container to its mapped root, so that
// container root owns them as without a user namespace. They belong to
// this container alone (hardening.OwnDockerRoot: Docker's only for Docker's own
// container, not for any caller choosing its ID); a chown is safer than an idmapped bind, through
// which container root would act as host root on them. With
// "idmapBindMounts" they are idmapped like every host bind, and so given
// back to host root, which that mount shows as container root.
func chownDockerFiles(s *specs.Spec, f *hardening.HostFacts, id string, rng idmap.Range, idmapped bool) {
	owner := int(rng.Start)
	if idmapped {
		owner = 0
	}
	for _, m := range s.Mounts {
		if !spec.IsBind(m) {
			continue
		}
		src := resolvedSource(m, *f)
		name, ok := dockerFiles[m.Destination]
		switch {
		case ok && f.DockerRoot != "" && src == filepath.Join(f.DockerRoot, "containers", id, name):
		case f.PodmanRoot != "" && isPodmanFile(m.Destination, src, id):
		default:
			continue
		}
		if err := chownChecked(src, owner); err != nil {
			logrus.Warnf("container %s: chown %s to the mapped root: %v", id, src, err)
		}
	}
}

// chownChecked gives the file at the checked path src (symlinks resolved
// when the facts were gathered) to owner. The file is opened once and
// changed through that descriptor, after the opened file was found at src
// itself: a directory on the way swapped for a symlink since the check
// (by whoever owns it, a host user or another container writing to a
// shared rootfs) would otherwise have the chown land on a host file such
// as /etc/hosts. Only a regular file with one link is changed, so that a
// hard link to another file is never given away either.
func chownChecked(src string, owner int) error {
	p, err := idmap.PinPath(src)
	if err != nil {
		return err
	}
	defer p.Close()
	if p.Path != src {
		return fmt.Errorf("resolves to %s, not to itself as when it was checked; left alone", p.Path)
	}
	fd := int(p.File.Fd())
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Nlink != 1 {
		return fmt.Errorf("not a regular file with one link (mode %#o, %d links); left alone", st.Mode, st.Nlink)
	}
	return unix.Fchownat(fd, "", owner, owner, unix.AT_EMPTY_PATH)
}
