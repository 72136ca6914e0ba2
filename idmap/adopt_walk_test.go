package idmap

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestAdoptHostWritesStaysInLayer swaps a directory of the container's
// layer for a symlink to a host directory, over and over, while the walk
// runs: the walk must never list what is behind the symlink (it did,
// through os.Open following it, and so spent its file budget on the
// host's directory and read it as host root).
func TestAdoptHostWritesStaysInLayer(t *testing.T) {
	requireRoot(t)
	rng := Range{Start: 1 << 21, Size: DefaultRangeSize}
	upper, root := t.TempDir(), t.TempDir()
	hostDir := t.TempDir() // same filesystem as upper
	for i := range 400 {
		if err := os.WriteFile(filepath.Join(hostDir, "h"+strconv.Itoa(i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Ten directories (sorted before "z" so the walk descends into them
	// after reading the layer's top), each swapped with a symlink.
	for i := range 10 {
		d := filepath.Join(upper, "a"+strconv.Itoa(i))
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(hostDir, d+".link"); err != nil {
			t.Fatal(err)
		}
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			for i := range 10 {
				d := filepath.Join(upper, "a"+strconv.Itoa(i))
				_ = unix.Renameat2(unix.AT_FDCWD, d, unix.AT_FDCWD, d+".link", unix.RENAME_EXCHANGE)
			}
		}
	}()
	defer func() { stop.Store(true); wg.Wait() }()
	deadline := time.Now().Add(3 * time.Second)
	for runs := 0; time.Now().Before(deadline); runs++ {
		// The layer has 20 entries; 100 is never reached inside it.
		if _, err := AdoptHostWrites(upper, root, rng, 100); errors.Is(err, ErrLayerTooLarge) {
			t.Fatalf("run %d: the walk followed a symlink of the layer to the host: %v", runs, err)
		}
	}
}

// TestAdoptHostWritesLeavesDevices: a device node in the container's
// layer (written by the engine, e.g. docker cp -a of an archive holding
// one) stays host root's: given to container root, only the device cgroup
// would stand between it and the device. Whiteouts (0/0 character
// devices the overlay makes as its mounter, host root) are not looked up.
func TestAdoptHostWritesLeavesDevices(t *testing.T) {
	requireRoot(t)
	rng := Range{Start: 1 << 21, Size: DefaultRangeSize}
	upper, root := rebuiltOverlay(t, rng)
	null := filepath.Join(root, "null")
	if err := unix.Mknod(null, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(root, "lowerFile")); err != nil { // a whiteout in upper
		t.Fatal(err)
	}
	n, err := AdoptHostWrites(upper, root, rng, 0)
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("changed %d files, want 1 (f)", n)
	}
	if u, g, _ := owner(t, null); u != 0 || g != 0 {
		t.Errorf("device node given to the container: %d:%d", u, g)
	}
	if u, _, _ := owner(t, filepath.Join(root, "f")); u != rng.Start {
		t.Errorf("f: owner %d, want %d", u, rng.Start)
	}
}

// TestAdoptHostWritesLowRange: a range starting below its size (a joined
// user namespace mapping container root to host ID 1000) makes the
// container's own files look like host writes: nothing is walked.
func TestAdoptHostWritesLowRange(t *testing.T) {
	requireRoot(t)
	rng := Range{Start: 1000, Size: DefaultRangeSize}
	upper, root := t.TempDir(), t.TempDir()
	f := filepath.Join(upper, "container-root-file")
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(f, 1000, 1000); err != nil {
		t.Fatal(err)
	}
	// root stands for the overlay: the same inode at the same path.
	if err := os.Link(f, filepath.Join(root, "container-root-file")); err != nil {
		t.Fatal(err)
	}
	if _, err := AdoptHostWrites(upper, root, rng, 0); err == nil {
		t.Error("a range overlapping the host IDs below its size was walked")
	}
	if u, _, _ := owner(t, f); u != 1000 {
		t.Errorf("the container root's file became %d's", u)
	}
}
