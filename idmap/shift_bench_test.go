package idmap

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// shiftBenchLayer makes a layer of dirs directories of files files each
// under a fresh directory of the test's temporary directory (the disk
// Docker's layers are on, on most hosts) and returns it.
func shiftBenchLayer(b *testing.B, dirs, files int) string {
	b.Helper()
	requireRoot(b)
	root := filepath.Join(b.TempDir(), "upper")
	for d := 0; d < dirs; d++ {
		dir := filepath.Join(root, fmt.Sprintf("d%d", d))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		for f := 0; f < files; f++ {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d", f)), nil, 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	return root
}

// BenchmarkShiftOwners measures the owner shift of pause and resume (and
// create and delete) per file of the container's layer: one shift into a
// range and one back per iteration (reported as µs/file, both ways).
func BenchmarkShiftOwners(b *testing.B) {
	const dirs, files = 100, 200
	root := shiftBenchLayer(b, dirs, files)
	rng := Range{Start: 3_000_000_000, Size: 65536}
	into := func(id uint32) (uint32, bool) {
		if id < rng.Size {
			return rng.Start + id, true
		}
		return 0, false
	}
	back := func(id uint32) (uint32, bool) {
		if id >= rng.Start && uint64(id) < rng.End() {
			return id - rng.Start, true
		}
		return 0, false
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, shift := range []func(uint32) (uint32, bool){into, back} {
			if n, err := ShiftOwners(root, shift); err != nil || n != dirs*files+dirs+1 {
				b.Fatalf("shifted %d (%v), want %d", n, err, dirs*files+dirs+1)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*2*(dirs*files+dirs+1)), "µs/file")
}

// BenchmarkCountFiles measures the count that comes before a bounded
// shift (pause), per file.
func BenchmarkCountFiles(b *testing.B) {
	const dirs, files = 100, 200
	root := shiftBenchLayer(b, dirs, files)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if n, err := CountFiles(root, 0); err != nil || n != dirs*files+dirs+1 {
			b.Fatalf("counted %d (%v), want %d", n, err, dirs*files+dirs+1)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*(dirs*files+dirs+1)), "µs/file")
}
