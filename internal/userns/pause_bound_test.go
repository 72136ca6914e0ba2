package userns

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hardened-runtime/hardened/idmap"
)

// TestShowLayerAtRestBounded: pause shifts a layer of at most the limit's
// files to show it at rest; one of more is left live, whole (no owner
// shifted, nothing detached, no pause mark), and the error says the
// engine's path keeps the live layer; resume then has nothing to undo.
func TestShowLayerAtRestBounded(t *testing.T) {
	// The fake layer: the upperdir, root-file and user-file.
	const files = 3
	for _, c := range []struct {
		limit    int
		tooLarge bool
	}{{files, false}, {files - 1, true}} {
		o := newFakeOverlay(t, "docker")
		if err := o.rebuild(""); err != nil {
			t.Fatal(err)
		}
		o.host.calls = nil
		err := showLayerAtRestUpTo(o.host, o.dir, c.limit, nil)
		if !c.tooLarge {
			if err != nil {
				t.Fatalf("pause of a layer of %d files, limit %d: %v", files, c.limit, err)
			}
			o.checkCalls(t, "pause", []string{callMountInfo, callShiftOut, callDetach, callMountView})
			o.checkOwners(t, 0)
			continue
		}
		if !errors.Is(err, idmap.ErrLayerTooLarge) || !strings.Contains(err.Error(), "keeps showing the live layer") {
			t.Fatalf("pause of a layer of %d files, limit %d: %v, want idmap.ErrLayerTooLarge saying the live layer stays", files, c.limit, err)
		}
		o.checkCalls(t, "pause of a layer past the limit", []string{callMountInfo})
		o.checkOwners(t, fakeRange.Start)
		o.checkStaged(t)
		if _, err := os.Lstat(filepath.Join(o.dir, pausedMark)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("pause mark after a pause that left the layer live: %v", err)
		}
		o.host.calls = nil
		if err := showLiveLayer(o.host, o.dir); err != nil {
			t.Fatal(err)
		}
		o.checkCalls(t, "resume", []string{callMountInfo})
		o.checkOwners(t, fakeRange.Start)
	}
}
