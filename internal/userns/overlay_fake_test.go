package userns

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/hardened-runtime/hardened/idmap"
)

// fakeRange is the container's range in the tests with fakeMounts.
var fakeRange = idmap.Range{Start: 3_000_000_000, Size: 65536}

// fakeOverlay is an engine's overlay rootfs in fakeMounts' table: its
// layers and the staging directory are real directories (the rebuild
// reads and writes them), its mounts and the owners of its upper layer's
// files are the fake's.
type fakeOverlay struct {
	host                *fakeMounts
	merged, upper, dir  string
	caller              idmap.Overlay
	pinned              *idmap.Pinned
	ns                  *os.File
	restingOwners       map[string]uint32
	unknownOptionsNoted []string
}

// fakeLayouts are the overlays the tests rebuild: Docker's (two lower
// layers), Podman's options (uuid, volatile), a metacopy overlay with a
// data-only layer, and one with an option the rebuild does not know.
var fakeLayouts = map[string]struct {
	data    bool
	options string
}{
	"docker":   {},
	"podman":   {options: ",uuid=on,volatile"},
	"metacopy": {data: true, options: ",redirect_dir=on,metacopy=on"},
	"unknown":  {options: ",frobnicate=7"},
}

func newFakeOverlay(t *testing.T, layout string) *fakeOverlay {
	t.Helper()
	l, ok := fakeLayouts[layout]
	if !ok {
		t.Fatalf("no layout %q", layout)
	}
	base := t.TempDir()
	p := func(name string) string { return filepath.Join(base, name) }
	for _, d := range []string{"l1", "l2", "d1", "diff", "work", "merged", "stage", "stage/rootfs"} {
		if err := os.Mkdir(p(d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	opts := "rw,lowerdir=" + p("l1") + ":" + p("l2")
	if l.data {
		opts += "::" + p("d1")
	}
	opts += ",upperdir=" + p("diff") + ",workdir=" + p("work") + l.options
	caller, err := idmap.ParseOverlayOptions(opts)
	if err != nil {
		t.Fatal(err)
	}
	resting := map[string]uint32{p("diff"): 0, p("diff/root-file"): 0, p("diff/user-file"): 1000}
	owners := map[string]uint32{}
	for k, v := range resting {
		owners[k] = v
	}
	// The staging directory on a tmpfs of its own, as StageRootfs
	// mounts it (idmap.MountStagingDir).
	table := []idmap.MountEntry{
		{Root: "/", Mountpoint: "/", FSType: "ext4", Source: "/dev/fake", SuperOptions: "rw"},
		{Root: "/", Mountpoint: p("merged"), FSType: "overlay", Source: "overlay", SuperOptions: opts},
		{Root: "/", Mountpoint: p("stage"), FSType: "tmpfs", Source: "tmpfs", SuperOptions: "rw,size=1024k,mode=711"},
	}
	pinned, err := idmap.PinDir(p("merged"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pinned.Close() })
	ns, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	return &fakeOverlay{
		host: newFakeMounts(base, table, owners), merged: p("merged"), upper: p("diff"), dir: p("stage"),
		caller: caller, pinned: pinned, ns: ns, restingOwners: resting,
	}
}

// withoutStagingTmpfs takes the tmpfs off the staging directory, as an
// earlier version staged without one.
func (o *fakeOverlay) withoutStagingTmpfs() {
	o.host.table = slices.DeleteFunc(o.host.table, func(m idmap.MountEntry) bool { return m.Mountpoint == o.dir })
}

// rebuild runs the overlay rebuild with the fake, failing at step (a
// failAt step name) when set.
func (o *fakeOverlay) rebuild(step string) error {
	b := overlayRebuild{host: o.host, unknown: func(opts []string) { o.unknownOptionsNoted = opts }}
	if step != "" {
		b.failAt = func(s string) error {
			if s == step {
				return errFakeMount
			}
			return nil
		}
	}
	return b.stageOverlay(o.pinned, o.dir, o.ns, fakeRange)
}

// checkOwners fails unless the upper layer's files are owned as at rest
// shifted by base.
func (o *fakeOverlay) checkOwners(t *testing.T, base uint32) {
	t.Helper()
	for p, id := range o.restingOwners {
		if got := o.host.owners[p]; got != base+id {
			t.Errorf("%s: owner %d, want %d", p, got, base+id)
		}
	}
}

// checkCallerBack fails unless the top mount at the caller's path is the
// caller's overlay, nothing is mounted in the staging directory, and the
// upper layer's files have their owners at rest.
func (o *fakeOverlay) checkCallerBack(t *testing.T) {
	t.Helper()
	top, ok := o.host.top(o.merged)
	if !ok || top.FSType != "overlay" {
		t.Fatalf("%s: not an overlay mount point (%+v)", o.merged, top)
	}
	ov, err := idmap.ParseOverlayOptions(top.SuperOptions)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ov.Lower, o.caller.Lower) || !reflect.DeepEqual(ov.Data, o.caller.Data) || ov.Upper != o.caller.Upper || ov.Work != o.caller.Work {
		t.Errorf("top mount at %s: %s, want the caller's layers", o.merged, top.SuperOptions)
	}
	if left := o.host.under(o.dir); len(left) > 0 {
		t.Errorf("left mounted: %v", left)
	}
	o.checkOwners(t, 0)
}

// checkStaged fails unless the rebuilt overlay is bound at the caller's
// path, mounted in the staging directory on the clones of every layer,
// the upper layer shifted into the range and the stage record names
// what unstage needs.
func (o *fakeOverlay) checkStaged(t *testing.T) {
	t.Helper()
	staged := filepath.Join(o.dir, "rootfs")
	for _, at := range []string{o.merged, staged} {
		top, ok := o.host.top(at)
		if !ok || !stagedUnder(top, o.dir) {
			t.Errorf("%s: %+v, want the rebuilt overlay", at, top)
			continue
		}
		ov, _ := idmap.ParseOverlayOptions(top.SuperOptions)
		if len(ov.Lower) != len(o.caller.Lower) || len(ov.Data) != len(o.caller.Data) || ov.Upper != o.upper || !reflect.DeepEqual(ov.Options, o.caller.Options) {
			t.Errorf("%s: %s, want the caller's layers cloned, its upper layer and options", at, top.SuperOptions)
		}
	}
	for i, l := range append(append([]string{}, o.caller.Lower...), o.caller.Data...) {
		clone := filepath.Join(o.dir, "lower"+string(rune('0'+i)))
		if i >= len(o.caller.Lower) {
			clone = filepath.Join(o.dir, "data"+string(rune('0'+i-len(o.caller.Lower))))
		}
		if top, ok := o.host.top(clone); !ok || top.Root != l {
			t.Errorf("%s: %+v, want the clone of %s", clone, top, l)
		}
	}
	o.checkOwners(t, fakeRange.Start)
	data, err := os.ReadFile(filepath.Join(o.dir, stageRecordName))
	if err != nil {
		t.Fatal(err)
	}
	var rec stageRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Target != o.merged || rec.Upper != o.upper || rec.Range != fakeRange || rec.Caller == nil || !reflect.DeepEqual(*rec.Caller, o.caller) {
		t.Errorf("stage record %s, want target %s, upper %s, range %v, the caller's overlay %+v", data, o.merged, o.upper, fakeRange, o.caller)
	}
}

// checkUnstaged fails unless the staging directory is gone.
func (o *fakeOverlay) checkUnstaged(t *testing.T) {
	t.Helper()
	if _, err := os.Lstat(o.dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("staging directory %s: %v, want it removed", o.dir, err)
	}
}

// checkCalls fails unless the fake saw want since the last check.
func (o *fakeOverlay) checkCalls(t *testing.T, what string, want []string) {
	t.Helper()
	if !reflect.DeepEqual(o.host.calls, want) {
		t.Errorf("%s: calls\n\t%s\nwant\n\t%s", what, strings.Join(o.host.calls, "\n\t"), strings.Join(want, "\n\t"))
	}
	o.host.calls = nil
}

// The calls of a rebuild of the docker layout, in order, and those of
// its undoing.
const (
	callMountInfo   = "mountinfo"
	callShiftIn     = "shift /diff 0->3000000000"
	callShiftOut    = "shift /diff 3000000000->0"
	callClone1      = "clone /l1 /stage/lower0"
	callClone2      = "clone /l2 /stage/lower1"
	callDetach      = "detach /merged"
	callMountStaged = "mount overlay /stage/rootfs lower=/stage/lower0:/stage/lower1 upper=/diff"
	callBind        = "bind /stage/rootfs /merged"
	callUnmount     = "unmount /stage/rootfs"
	callUnmount1    = "unmount /stage/lower0"
	callUnmount2    = "unmount /stage/lower1"
	callDetachAll   = "detach staging /stage"
	callMountCaller = "mount overlay /merged lower=/l1:/l2 upper=/diff"
	callMountView   = "mount view /merged lower=/diff:/l1:/l2 ro,nosuid,nodev"
)

// TestStageOverlaySteps fails the overlay rebuild at each step (by its
// failure hook or a failing host call) and checks the exact calls that
// undo it and what is left: the caller's overlay at its path, its upper
// layer at rest, nothing mounted in the staging directory; then that
// unstage, which create runs next on failure, leaves it so too.
func TestStageOverlaySteps(t *testing.T) {
	for _, c := range []struct {
		name string
		// step fails by the rebuild's failAt hook, failCall by the fake.
		step, failCall string
		want           []string
	}{
		{name: "mountinfo", failCall: "mountInfo", want: []string{callMountInfo + " (fails)"}},
		{name: "record", step: stepRecord, want: []string{callMountInfo}},
		{name: "shift hook", step: stepShift, want: []string{callMountInfo}},
		{name: "shift", failCall: "shiftOwners", want: []string{callMountInfo, callShiftIn + " (fails)",
			"shift /diff 0 stays"}},
		{name: "clone hook", step: stepClone, want: []string{callMountInfo, callShiftIn,
			callShiftOut}},
		{name: "clone", failCall: "cloneIDMapped", want: []string{callMountInfo, callShiftIn, callClone1 + " (fails)",
			callUnmount1, callShiftOut}},
		{name: "clone#2", failCall: "cloneIDMapped#2", want: []string{callMountInfo, callShiftIn, callClone1, callClone2 + " (fails)",
			callUnmount1, callUnmount2, callShiftOut}},
		{name: "detach hook", step: stepDetach, want: []string{callMountInfo, callShiftIn, callClone1, callClone2,
			callUnmount1, callUnmount2, callShiftOut}},
		{name: "detach", failCall: "detach", want: []string{callMountInfo, callShiftIn, callClone1, callClone2, callDetach + " (fails)",
			callUnmount1, callUnmount2, callShiftOut}},
		{name: "mount hook", step: stepMount, want: []string{callMountInfo, callShiftIn, callClone1, callClone2, callDetach,
			callUnmount1, callUnmount2, callShiftOut, callMountCaller}},
		{name: "mount", failCall: "mountOverlay", want: []string{callMountInfo, callShiftIn, callClone1, callClone2, callDetach, callMountStaged + " (fails)",
			callUnmount1, callUnmount2, callShiftOut, callMountCaller}},
		{name: "bind hook", step: stepBind, want: []string{callMountInfo, callShiftIn, callClone1, callClone2, callDetach, callMountStaged,
			callUnmount, callUnmount1, callUnmount2, callShiftOut, callMountCaller}},
		{name: "bind", failCall: "bind", want: []string{callMountInfo, callShiftIn, callClone1, callClone2, callDetach, callMountStaged, callBind + " (fails)",
			callUnmount, callUnmount1, callUnmount2, callShiftOut, callMountCaller}},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := newFakeOverlay(t, "docker")
			if c.failCall != "" {
				o.host.failCalls(c.failCall)
			}
			err := o.rebuild(c.step)
			if !errors.Is(err, errFakeMount) {
				t.Fatalf("rebuild failing at %s: %v, want the injected failure", c.name, err)
			}
			if strings.Contains(err.Error(), "undoing it") {
				t.Errorf("rebuild failing at %s: %v, want it undone without error", c.name, err)
			}
			o.checkCalls(t, "rebuild", c.want)
			o.checkCallerBack(t)
			o.host.failCalls()
			if err := unstage(o.host, o.dir); err != nil {
				t.Fatal(err)
			}
			o.checkCallerBack(t)
			o.checkUnstaged(t)
		})
	}
}

// TestStageOverlayUndoFails: when undoing a failed rebuild fails too,
// both failures are returned.
func TestStageOverlayUndoFails(t *testing.T) {
	o := newFakeOverlay(t, "docker")
	o.host.failCalls("bind", "mountOverlay#2")
	err := o.rebuild("")
	if !errors.Is(err, errFakeMount) || !strings.Contains(err.Error(), "undoing it") || !strings.Contains(err.Error(), "the caller's overlay could not be mounted back") {
		t.Fatalf("rebuild failing at bind and at mounting the caller's overlay back: %v, want both failures", err)
	}
	o.checkCalls(t, "rebuild", []string{callMountInfo, callShiftIn, callClone1, callClone2, callDetach, callMountStaged, callBind + " (fails)",
		callUnmount, callUnmount1, callUnmount2, callShiftOut, callMountCaller + " (fails)"})
	if top, ok := o.host.top(o.merged); ok {
		t.Errorf("%s: %+v mounted, want nothing", o.merged, top)
	}
	o.checkOwners(t, 0)
}

// TestStageOverlayLayouts rebuilds each layout and unstages it: the
// rebuilt overlay bound at the caller's path, the clones, the shift and
// the stage record, then the caller's overlay back.
func TestStageOverlayLayouts(t *testing.T) {
	for layout := range fakeLayouts {
		t.Run(layout, func(t *testing.T) {
			o := newFakeOverlay(t, layout)
			if err := o.rebuild(""); err != nil {
				t.Fatal(err)
			}
			o.checkStaged(t)
			if want := fakeLayouts[layout].options == ",frobnicate=7"; want != reflect.DeepEqual(o.unknownOptionsNoted, []string{"frobnicate=7"}) {
				t.Errorf("options noted as unknown: %v", o.unknownOptionsNoted)
			}
			if layout == "docker" {
				o.checkCalls(t, "rebuild", []string{callMountInfo, callShiftIn, callClone1, callClone2, callDetach, callMountStaged, callBind})
			}
			o.host.calls = nil
			if err := unstage(o.host, o.dir); err != nil {
				t.Fatal(err)
			}
			if layout == "docker" {
				o.checkCalls(t, "unstage", []string{callMountInfo, callDetach, callDetachAll, callShiftOut, callMountCaller})
			}
			o.checkCallerBack(t)
			o.checkUnstaged(t)
		})
	}
}

// TestUnstageSteps fails unstage of a rebuilt overlay at each call, on
// the staging tmpfs and on a directory staged without one: the error is
// returned (but for mounting the caller's overlay back, which only
// warns), and a second unstage, as the next delete runs it, leaves
// nothing staged. What it cannot redo is in the table: the caller's
// overlay comes back at its path only when the first unstage failed
// before it detached the rebuilt one (the second finds nothing of ours
// there and leaves the path to the caller, which mounts its rootfs anew
// on the next start); the upper layer is shifted back unless the stage
// record went with the tmpfs before the shift failed (the next create
// shifts the layer from that stale range: staleRange).
func TestUnstageSteps(t *testing.T) {
	for _, c := range []struct {
		legacy           bool
		failCall         string
		want             []string
		callerBack, rest bool
	}{
		{false, "mountInfo", []string{callMountInfo + " (fails)"}, true, true},
		{false, "detach", []string{callMountInfo, callDetach + " (fails)"}, true, true},
		{false, "detachStagingDir", []string{callMountInfo, callDetach, callDetachAll + " (fails)"}, false, true},
		{false, "shiftOwners", []string{callMountInfo, callDetach, callDetachAll, callShiftOut + " (fails)"}, false, false},
		{false, "mountOverlay", []string{callMountInfo, callDetach, callDetachAll, callShiftOut, callMountCaller + " (fails)"}, false, true},
		{true, "", []string{callMountInfo, callDetach, callDetachAll, callUnmount, callUnmount2, callUnmount1, callShiftOut, callMountCaller}, true, true},
		{true, "unmountAll", []string{callMountInfo, callDetach, callDetachAll, callUnmount + " (fails)"}, false, true},
		{true, "unmountAll#3", []string{callMountInfo, callDetach, callDetachAll, callUnmount, callUnmount2, callUnmount1 + " (fails)"}, false, true},
		{true, "shiftOwners", []string{callMountInfo, callDetach, callDetachAll, callUnmount, callUnmount2, callUnmount1, callShiftOut + " (fails)"}, false, true},
	} {
		name := "tmpfs/"
		if c.legacy {
			name = "legacy/"
		}
		name += c.failCall
		t.Run(name, func(t *testing.T) {
			o := newFakeOverlay(t, "docker")
			if c.legacy {
				o.withoutStagingTmpfs()
			}
			if err := o.rebuild(""); err != nil {
				t.Fatal(err)
			}
			o.host.calls = nil
			o.host.failCalls(c.failCall)
			err := unstage(o.host, o.dir)
			if c.failCall == "" || c.failCall == "mountOverlay" {
				if err != nil {
					t.Fatalf("unstage failing at %q: %v, want no error", c.failCall, err)
				}
			} else if !errors.Is(err, errFakeMount) {
				t.Fatalf("unstage failing at %s: %v, want the injected failure", c.failCall, err)
			}
			o.checkCalls(t, "unstage", c.want)
			o.host.failCalls()
			if err := unstage(o.host, o.dir); err != nil {
				t.Fatal(err)
			}
			o.checkUnstaged(t)
			if left := o.host.under(o.dir); len(left) > 0 {
				t.Errorf("left mounted: %v", left)
			}
			if _, ok := o.host.top(o.dir); ok {
				t.Errorf("%s: still a mount point", o.dir)
			}
			if c.rest {
				o.checkOwners(t, 0)
			} else {
				o.checkOwners(t, fakeRange.Start)
			}
			if c.callerBack {
				o.checkCallerBack(t)
			} else if top, ok := o.host.top(o.merged); ok {
				t.Errorf("%s: %+v mounted, want nothing", o.merged, top)
			}
		})
	}
}

// TestUnstageNothing: a staging directory that does not exist is no
// error and no call; one without a record (a plain clone) is detached
// with its tmpfs, or unmounted mount by mount without one, and removed;
// the caller's path is left alone.
func TestUnstageNothing(t *testing.T) {
	o := newFakeOverlay(t, "docker")
	if err := unstage(o.host, filepath.Join(o.dir, "gone")); err != nil {
		t.Fatal(err)
	}
	o.checkCalls(t, "unstage of nothing", nil)
	for _, legacy := range []bool{false, true} {
		o := newFakeOverlay(t, "docker")
		want := []string{callDetachAll}
		if legacy {
			o.withoutStagingTmpfs()
			want = append(want, callMountInfo, callUnmount)
		}
		callers := slices.Clone(o.host.table)
		o.host.table = append(o.host.table, idmap.MountEntry{Root: "/", Mountpoint: filepath.Join(o.dir, "rootfs"), FSType: "ext4"})
		if err := unstage(o.host, o.dir); err != nil {
			t.Fatal(err)
		}
		o.checkCalls(t, "unstage of a clone", want)
		o.checkUnstaged(t)
		if !reflect.DeepEqual(slices.DeleteFunc(callers, func(m idmap.MountEntry) bool { return m.Mountpoint == o.dir }), o.host.table) {
			t.Errorf("mounts left %+v, want the caller's alone", o.host.table)
		}
	}
}

// TestShowLayerAtRestSteps fails pause's view at rest at each step: the
// rebuilt overlay stays bound at the caller's path (bound there again if
// it was detached) and the layer in the container's range; without a
// failure the caller's path shows the view at rest and the layer has its
// owners at rest.
func TestShowLayerAtRestSteps(t *testing.T) {
	for _, c := range []struct {
		name, step, failCall string
		want                 []string
	}{
		{name: "mountinfo", failCall: "mountInfo", want: []string{callMountInfo + " (fails)"}},
		{name: "shift hook", step: stepShift, want: []string{callMountInfo}},
		{name: "shift", failCall: "shiftOwners", want: []string{callMountInfo, callShiftOut + " (fails)",
			"shift /diff 3000000000 stays"}},
		{name: "detach hook", step: stepDetach, want: []string{callMountInfo, callShiftOut,
			callShiftIn}},
		{name: "detach", failCall: "detach", want: []string{callMountInfo, callShiftOut, callDetach + " (fails)",
			callShiftIn}},
		{name: "mount hook", step: stepMount, want: []string{callMountInfo, callShiftOut, callDetach,
			callBind, callShiftIn}},
		{name: "mount", failCall: "mountView", want: []string{callMountInfo, callShiftOut, callDetach, callMountView + " (fails)",
			callBind, callShiftIn}},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := newFakeOverlay(t, "docker")
			if err := o.rebuild(""); err != nil {
				t.Fatal(err)
			}
			o.host.calls = nil
			o.host.failCalls(c.failCall)
			var failAt func(string) error
			if c.step != "" {
				failAt = func(s string) error {
					if s == c.step {
						return errFakeMount
					}
					return nil
				}
			}
			err := showLayerAtRest(o.host, o.dir, failAt)
			if !errors.Is(err, errFakeMount) || strings.Contains(err.Error(), "undoing it") {
				t.Fatalf("pause failing at %s: %v, want the injected failure alone", c.name, err)
			}
			o.checkCalls(t, "pause", c.want)
			o.checkStaged(t)
			// Resume finds nothing to undo.
			o.host.failCalls()
			if err := showLiveLayer(o.host, o.dir); err != nil {
				t.Fatal(err)
			}
			o.checkCalls(t, "resume", []string{callMountInfo})
			o.checkStaged(t)
		})
	}
}

// TestPauseResume: pause shows the view at rest at the caller's path,
// resume the rebuilt overlay again (each with its exact calls); a
// failure of resume is returned and leaves what it could not undo; a
// delete while paused unstages the view too.
func TestPauseResume(t *testing.T) {
	for _, c := range []struct {
		failCall string
		want     []string
		// bound: the rebuilt overlay is at the caller's path after
		// resume; shifted: the layer in the container's range.
		bound, shifted bool
	}{
		{"", []string{callMountInfo, callDetach, callShiftIn, callBind}, true, true},
		{"mountInfo", []string{callMountInfo + " (fails)"}, false, false},
		{"detach", []string{callMountInfo, callDetach + " (fails)"}, false, false},
		{"shiftOwners", []string{callMountInfo, callDetach, callShiftIn + " (fails)", callBind}, true, false},
		{"bind", []string{callMountInfo, callDetach, callShiftIn, callBind + " (fails)"}, false, true},
	} {
		name := c.failCall
		if name == "" {
			name = "none"
		}
		t.Run(name, func(t *testing.T) {
			o := newFakeOverlay(t, "docker")
			if err := o.rebuild(""); err != nil {
				t.Fatal(err)
			}
			o.host.calls = nil
			if err := showLayerAtRest(o.host, o.dir, nil); err != nil {
				t.Fatal(err)
			}
			o.checkCalls(t, "pause", []string{callMountInfo, callShiftOut, callDetach, callMountView})
			o.checkOwners(t, 0)
			rec, _, _ := readStageRecord(o.dir)
			if top, ok := o.host.top(o.merged); !ok || !isRestingView(top, rec) || strings.Contains(top.SuperOptions, "upperdir=") {
				t.Fatalf("%s while paused: %+v, want the read-only view at rest", o.merged, top)
			}
			o.host.failCalls(c.failCall)
			err := showLiveLayer(o.host, o.dir)
			if c.failCall == "" && err != nil || c.failCall != "" && !errors.Is(err, errFakeMount) {
				t.Fatalf("resume failing at %q: %v", c.failCall, err)
			}
			o.checkCalls(t, "resume", c.want)
			top, _ := o.host.top(o.merged)
			if bound := stagedUnder(top, o.dir); bound != c.bound {
				t.Errorf("%s after resume: %+v, want the rebuilt overlay: %v", o.merged, top, c.bound)
			}
			if c.shifted {
				o.checkOwners(t, fakeRange.Start)
			} else {
				o.checkOwners(t, 0)
			}
			if c.failCall == "" {
				o.checkStaged(t)
			}
			// Delete, while paused or not, unstages whatever is there.
			o.host.failCalls()
			if err := unstage(o.host, o.dir); err != nil {
				t.Fatal(err)
			}
			o.checkUnstaged(t)
			if left := o.host.under(o.dir); len(left) > 0 {
				t.Errorf("left mounted: %v", left)
			}
			o.checkOwners(t, 0)
			if c.bound || isRestingView(top, rec) {
				o.checkCallerBack(t)
			}
		})
	}
}

// TestShowLayerAtRestSkips: pause does nothing, and calls nothing that
// changes the host, for a container without a rebuilt overlay, with
// options a read-only view might show differently, or whose caller's
// path shows something else than the rebuilt overlay; resume does
// nothing unless the view at rest is there.
func TestShowLayerAtRestSkips(t *testing.T) {
	o := newFakeOverlay(t, "docker")
	if err := showLayerAtRest(o.host, o.dir, nil); err != nil {
		t.Fatal(err)
	}
	o.checkCalls(t, "pause without a stage record", nil)

	o = newFakeOverlay(t, "metacopy")
	if err := o.rebuild(""); err != nil {
		t.Fatal(err)
	}
	o.host.calls = nil
	if err := showLayerAtRest(o.host, o.dir, nil); err != nil {
		t.Fatal(err)
	}
	o.checkCalls(t, "pause of a metacopy overlay", nil)
	o.checkStaged(t)

	o = newFakeOverlay(t, "docker")
	if err := o.rebuild(""); err != nil {
		t.Fatal(err)
	}
	o.host.calls = nil
	if err := showLiveLayer(o.host, o.dir); err != nil {
		t.Fatal(err)
	}
	o.checkCalls(t, "resume of a running container", []string{callMountInfo})
	// The caller mounted something of its own on the path.
	o.host.table = append(o.host.table, idmap.MountEntry{Root: "/", Mountpoint: o.merged, FSType: "tmpfs"})
	if err := showLayerAtRest(o.host, o.dir, nil); err != nil {
		t.Fatal(err)
	}
	o.checkCalls(t, "pause under the caller's own mount", []string{callMountInfo})
	o.checkOwners(t, fakeRange.Start)
}
