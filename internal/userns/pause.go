package userns

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hardened-runtime/hardened/idmap"
)

// While a container is paused, the cgroup freezer holds every process of
// it (those of docker exec too), so its layer cannot change under the
// engine: the engine's path can then show the layer at rest, with
// container IDs, as without a user namespace. docker commit pauses the
// container by default, so it records the owners the container sees;
// docker diff, export and cp out of a paused container see them too.
//
// The view is a read-only overlay of the caller's layers with the
// upperdir as the uppermost lower layer: it never writes to the
// upperdir, so the container's overlay, which stays mounted, finds its
// layer as it left it (a writable second overlay would leave it stale,
// see the top comment of overlay.go). docker cp into a paused container
// fails (read-only file system) instead. The shift back to container
// IDs and into the range again costs one lstat per file of the
// container's layer, at pause and at resume.
//
// The view is mounted read-only, nosuid and nodev: at rest container
// root's files are host root's, so a file the container made set-user-ID
// would be set-user-ID host root at the engine's path while it is
// paused.
//
// The shift costs about 12 µs a file each way on ext4 with a warm cache
// (idmap.BenchmarkShiftOwners), borne by pause and resume, which an
// engine runs with a timeout or a user waits for: a layer of more than
// restingViewLimit files (over a second each way) keeps its live view
// while paused, and pause warns (as a failure of the view does). Its
// files are counted first (about 0.5 µs a file, listing only,
// idmap.CountFiles), so a layer is shifted whole or not at all. Such a
// paused container's engine path shows the mapped owners, as while it
// runs: docker commit records host IDs, as with --pause=false.
//
// A pause killed midway (the engine's timeout, the OOM killer) cannot
// undo what it did; the mark it leaves in the staging directory before
// it starts tells resume (and delete) to finish the way back.
//
// An exec may run while a pause does (engines do not serialize them):
// its adoption of the engine's writes (AdoptEngineWrites) would shift
// files the pause had just shifted to container IDs into the range
// again, and the view at rest (docker commit) would record host IDs for
// them. Pause, resume and delete hold the staging directory's lock
// exclusively (lockStaging), the adoption shared, and it walks only a
// live layer: one without a pause's mark.

// pausedMark names the file of the staging directory present from the
// start of a pause's changes until resume undid them.
const pausedMark = "paused"

// restingViewLimit is the most files of a container's layer that pause
// shifts to show its view at rest (above).
const restingViewLimit = 100_000

// stagingLockName names the file of the staging directory whose flock
// serializes the changes to the owners of the container's layer.
const stagingLockName = "lock"

// lockStaging takes the flock how (unix.LOCK_EX or unix.LOCK_SH) on the
// lock file of the staging directory dir, created when missing, and
// returns what releases it. Callers take it only once they found dir's
// stage record: a runtime in another mount namespace than the create's
// sees the directory beneath the staging tmpfs, which must stay empty.
func lockStaging(dir string, how int) (unlock func(), err error) {
	fd, err := unix.Open(filepath.Join(dir, stagingLockName), unix.O_RDONLY|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	for {
		err = unix.Flock(fd, how)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	return func() { unix.Close(fd) }, nil
}

// ShowLayerAtRest gives the engine's path of container id of root the
// view of its layer at rest (above), after the container was frozen. It
// does nothing for a container whose rootfs was not rebuilt, whose
// caller's path shows something else than the rebuilt overlay, or whose
// caller's overlay has options a read-only view of its layers might show
// differently (redirect_dir, metacopy...). On failure what it did is
// undone (the layer shifted into the container's range again, the
// rebuilt overlay bound at the caller's path) before the error returns.
func ShowLayerAtRest(root, id string) error {
	return showLayerAtRest(kernelMounts{}, stagingDir(root, id), nil)
}

// ShowLiveLayer undoes ShowLayerAtRest before the container is thawed:
// the layer shifted into the container's range, the rebuilt overlay bound
// at the caller's path again. It does nothing unless the caller's path
// shows the view at rest.
func ShowLiveLayer(root, id string) error {
	return showLiveLayer(kernelMounts{}, stagingDir(root, id))
}

// readStageRecord reads dir's stage record; ok is false when there is
// none or it names no upperdir to show.
func readStageRecord(dir string) (rec stageRecord, ok bool, err error) {
	data, err := os.ReadFile(filepath.Join(dir, stageRecordName))
	if errors.Is(err, os.ErrNotExist) {
		return rec, false, nil
	}
	if err != nil {
		return rec, false, err
	}
	if err := json.Unmarshal(data, &rec); err != nil {
		return rec, false, fmt.Errorf("%s: %w", filepath.Join(dir, stageRecordName), err)
	}
	return rec, rec.Target != "" && rec.Upper != "" && rec.Caller != nil && rec.Range.Size > 0, nil
}

// restingView returns the read-only overlay that shows rec's layer at
// rest, and false when the caller's options forbid it: only options that
// do not change how lower layers read are kept (uuid, xino, userxattr)
// or dropped (volatile, fsync: nothing is written).
func restingView(rec stageRecord) (idmap.Overlay, bool) {
	view := idmap.Overlay{Lower: append([]string{rec.Upper}, rec.Caller.Lower...), Data: rec.Caller.Data}
	for _, opt := range rec.Caller.Options {
		key, _, _ := strings.Cut(opt, "=")
		switch key {
		case "uuid", "xino", "userxattr":
			view.Options = append(view.Options, opt)
		case "volatile", "fsync":
		default:
			return view, false
		}
	}
	return view, true
}

// isRestingView reports whether mount m is rec's view at rest: a
// read-only overlay whose uppermost lower layer is rec's upperdir.
func isRestingView(m idmap.MountEntry, rec stageRecord) bool {
	if m.FSType != "overlay" || rec.Upper == "" {
		return false
	}
	ov, err := idmap.ParseOverlayOptions(m.SuperOptions)
	return err == nil && ov.Upper == "" && len(ov.Lower) > 0 && ov.Lower[0] == rec.Upper
}

// showLayerAtRest is ShowLayerAtRest for the staging directory dir, with
// host's mounts; failAt, when set (by tests only), fails the step it
// names.
func showLayerAtRest(host hostMounts, dir string, failAt func(step string) error) error {
	return showLayerAtRestUpTo(host, dir, restingViewLimit, failAt)
}

// showLayerAtRestUpTo is showLayerAtRest for a layer of at most limit
// files: one of more is left live, and the error wraps
// idmap.ErrLayerTooLarge.
func showLayerAtRestUpTo(host hostMounts, dir string, limit int, failAt func(step string) error) (retErr error) {
	step := func(name string) error {
		if failAt == nil {
			return nil
		}
		return failAt(name)
	}
	rec, ok, err := readStageRecord(dir)
	if err != nil || !ok {
		return err
	}
	view, ok := restingView(rec)
	if !ok {
		return nil
	}
	unlock, err := lockStaging(dir, unix.LOCK_EX)
	if err != nil {
		return err
	}
	defer unlock()
	mounts, err := host.mountInfo()
	if err != nil {
		return err
	}
	if top, ok := idmap.TopMount(mounts, rec.Target); !ok || !stagedUnder(top, dir) {
		return nil
	}
	if _, err := host.countFiles(rec.Upper, limit); err != nil {
		if errors.Is(err, idmap.ErrLayerTooLarge) {
			return fmt.Errorf("the engine's path %s keeps showing the live layer (host IDs) while paused, not the layer at rest: %w; shifting its owners would take over a second each way at pause and resume", rec.Target, err)
		}
		return err
	}
	staged := filepath.Join(dir, "rootfs")
	var shifted, detached bool
	defer func() {
		if retErr == nil {
			return
		}
		var errs []error
		if detached {
			if err := host.bind(staged, rec.Target); err != nil {
				errs = append(errs, fmt.Errorf("bind the rebuilt rootfs at %s again: %w", rec.Target, err))
			}
		}
		if shifted {
			if _, err := host.shiftOwners(rec.Upper, intoRange(rec.Range, nil)); err != nil {
				errs = append(errs, err)
			}
		}
		if err := errors.Join(errs...); err != nil {
			retErr = fmt.Errorf("%w; undoing it: %v", retErr, err)
			return
		}
		_ = os.Remove(filepath.Join(dir, pausedMark))
	}()
	if err := os.WriteFile(filepath.Join(dir, pausedMark), nil, 0o600); err != nil {
		return err
	}
	if err := step(stepShift); err != nil {
		return err
	}
	shifted = true
	if _, err := host.shiftOwners(rec.Upper, outOfRange(rec.Range)); err != nil {
		return err
	}
	if err := step(stepDetach); err != nil {
		return err
	}
	if err := host.detach(rec.Target); err != nil {
		return fmt.Errorf("detach the rebuilt rootfs at %s: %w", rec.Target, err)
	}
	detached = true
	if err := step(stepMount); err != nil {
		return err
	}
	return host.mountView(view, rec.Target)
}

// showLiveLayer is ShowLiveLayer for the staging directory dir, with
// host's mounts: it undoes the view at rest, or what a pause killed
// midway left (its mark is there): the layer shifted to container IDs,
// the rebuilt rootfs detached from the caller's path.
func showLiveLayer(host hostMounts, dir string) error {
	rec, ok, err := readStageRecord(dir)
	if err != nil || !ok {
		return err
	}
	unlock, err := lockStaging(dir, unix.LOCK_EX)
	if err != nil {
		return err
	}
	defer unlock()
	mounts, err := host.mountInfo()
	if err != nil {
		return err
	}
	top, mounted := idmap.TopMount(mounts, rec.Target)
	resting := mounted && isRestingView(top, rec)
	mark := filepath.Join(dir, pausedMark)
	if _, err := os.Lstat(mark); err != nil && !resting {
		return nil
	}
	if resting {
		if err := host.detach(rec.Target); err != nil {
			return fmt.Errorf("detach the view at rest at %s: %w", rec.Target, err)
		}
	}
	var errs []error
	if _, err := host.shiftOwners(rec.Upper, intoRange(rec.Range, nil)); err != nil {
		errs = append(errs, err)
	}
	if resting || !mounted || !stagedUnder(top, dir) {
		if err := host.bind(filepath.Join(dir, "rootfs"), rec.Target); err != nil {
			errs = append(errs, fmt.Errorf("bind the rebuilt rootfs at %s again: %w", rec.Target, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := os.Remove(mark); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
