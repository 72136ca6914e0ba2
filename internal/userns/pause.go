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

// ShowLayerAtRest gives the engine's path of container id of root the
// view of its layer at rest (above), after the container was frozen. It
// does nothing for a container whose rootfs was not rebuilt, whose
// caller's path shows something else than the rebuilt overlay, or whose
// caller's overlay has options a read-only view of its layers might show
// differently (redirect_dir, metacopy...). On failure what it did is
// undone (the layer shifted into the container's range again, the
// rebuilt overlay bound at the caller's path) before the error returns.
func ShowLayerAtRest(root, id string) error {
	return showLayerAtRest(stagingDir(root, id), nil)
}

// ShowLiveLayer undoes ShowLayerAtRest before the container is thawed:
// the layer shifted into the container's range, the rebuilt overlay bound
// at the caller's path again. It does nothing unless the caller's path
// shows the view at rest.
func ShowLiveLayer(root, id string) error {
	return showLiveLayer(stagingDir(root, id))
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

// showLayerAtRest is ShowLayerAtRest for the staging directory dir;
// failAt, when set (by tests only), fails the step it names.
func showLayerAtRest(dir string, failAt func(step string) error) (retErr error) {
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
	mounts, err := idmap.ReadMountInfo()
	if err != nil {
		return err
	}
	if top, ok := idmap.TopMount(mounts, rec.Target); !ok || !stagedUnder(top, dir) {
		return nil
	}
	staged := filepath.Join(dir, "rootfs")
	var shifted, detached bool
	defer func() {
		if retErr == nil {
			return
		}
		var errs []error
		if detached {
			if err := bindNoFollow(staged, rec.Target); err != nil {
				errs = append(errs, fmt.Errorf("bind the rebuilt rootfs at %s again: %w", rec.Target, err))
			}
		}
		if shifted {
			if _, err := idmap.ShiftOwners(rec.Upper, intoRange(rec.Range, nil)); err != nil {
				errs = append(errs, err)
			}
		}
		if err := errors.Join(errs...); err != nil {
			retErr = fmt.Errorf("%w; undoing it: %v", retErr, err)
		}
	}()
	if err := step(stepShift); err != nil {
		return err
	}
	shifted = true
	if _, err := idmap.ShiftOwners(rec.Upper, outOfRange(rec.Range)); err != nil {
		return err
	}
	if err := step(stepDetach); err != nil {
		return err
	}
	if err := unix.Unmount(rec.Target, unix.MNT_DETACH|unix.UMOUNT_NOFOLLOW); err != nil {
		return fmt.Errorf("detach the rebuilt rootfs at %s: %w", rec.Target, err)
	}
	detached = true
	if err := step(stepMount); err != nil {
		return err
	}
	return idmap.MountOverlay(view, rec.Target)
}

// showLiveLayer is ShowLiveLayer for the staging directory dir.
func showLiveLayer(dir string) error {
	rec, ok, err := readStageRecord(dir)
	if err != nil || !ok {
		return err
	}
	mounts, err := idmap.ReadMountInfo()
	if err != nil {
		return err
	}
	if top, ok := idmap.TopMount(mounts, rec.Target); !ok || !isRestingView(top, rec) {
		return nil
	}
	if err := unix.Unmount(rec.Target, unix.MNT_DETACH|unix.UMOUNT_NOFOLLOW); err != nil {
		return fmt.Errorf("detach the view at rest at %s: %w", rec.Target, err)
	}
	var errs []error
	if _, err := idmap.ShiftOwners(rec.Upper, intoRange(rec.Range, nil)); err != nil {
		errs = append(errs, err)
	}
	if err := bindNoFollow(filepath.Join(dir, "rootfs"), rec.Target); err != nil {
		errs = append(errs, fmt.Errorf("bind the rebuilt rootfs at %s again: %w", rec.Target, err))
	}
	return errors.Join(errs...)
}
