package idmap

import (
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// TestShiftOwnersFollowsNoSwappedDirectory: while the walk runs, a
// directory of the layer is swapped with a symlink to a host directory
// (a process that can write the layer, racing a pause or resume). No
// file outside the layer may change owner.
func TestShiftOwnersFollowsNoSwappedDirectory(t *testing.T) {
	requireRoot(t)
	base := t.TempDir()
	layer, victim := filepath.Join(base, "upper"), filepath.Join(base, "host-etc")
	for _, d := range []string{layer, victim} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	dir, alt := filepath.Join(layer, "d"), filepath.Join(layer, "d.alt")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		name := "f" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		for _, d := range []string{dir, victim} {
			if err := os.WriteFile(filepath.Join(d, name), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.Symlink(victim, alt); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			_ = unix.Renameat2(unix.AT_FDCWD, dir, unix.AT_FDCWD, alt, unix.RENAME_EXCHANGE)
		}
	}()
	const start = 300000
	toRange := func(id uint32) (uint32, bool) {
		if id < 65536 {
			return id + start, true
		}
		return 0, false
	}
	toContainer := func(id uint32) (uint32, bool) {
		if id >= start && id < start+65536 {
			return id - start, true
		}
		return 0, false
	}
	for i := 0; i < 200; i++ {
		_, _ = ShiftOwners(layer, toRange)
		_, _ = ShiftOwners(layer, toContainer)
	}
	stop.Store(true)
	wg.Wait()
	ents, err := os.ReadDir(victim)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range append(ents, nil) {
		p := victim
		if e != nil {
			p = filepath.Join(victim, e.Name())
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			t.Fatal(err)
		}
		if st.Uid != 0 || st.Gid != 0 {
			t.Errorf("%s outside the layer owned by %d:%d", p, st.Uid, st.Gid)
		}
	}
}
