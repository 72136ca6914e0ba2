package bench

import (
	"fmt"
	"os"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// evictBinaries drops the page cache of each distinct runtime binary so
// that every one is measured loaded the same way: read back from disk by
// the faults of its first execution. A file just written (by go build, or
// by dpkg on install) sits in the page cache in large folios, which the
// kernel (6.18 here) appears to map whole on a fault instead of the 64 KiB
// around it, so executing it makes ~3 MiB more of it resident than the
// same binary read back; a long-installed runc would otherwise be compared
// with a freshly built hardened.
func evictBinaries(tb testing.TB, variants []runtimeUnderTest) {
	tb.Helper()
	done := map[string]bool{}
	for _, rt := range variants {
		if done[rt.bin] {
			continue
		}
		done[rt.bin] = true
		left, err := evictPageCache(rt.bin)
		if err != nil {
			tb.Fatalf("%s: %v", rt.name, err)
		}
		// Pages a running process maps stay cached.
		if left > 0 {
			tb.Logf("%s: %d pages of %s still cached (mapped by a running process?)", rt.name, left, rt.bin)
		}
	}
}

// evictPageCache writes back and drops the cached pages of the file at
// path and returns how many pages of it are still resident.
func evictPageCache(path string) (left int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	// Dirty pages are not dropped: write them back first.
	if err := f.Sync(); err != nil {
		return 0, fmt.Errorf("fsync %s: %w", path, err)
	}
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		return 0, fmt.Errorf("fadvise %s: %w", path, err)
	}
	return residentPages(f)
}

// residentPages counts the pages of f in the page cache (mincore of a
// mapping, which faults nothing in).
func residentPages(f *os.File) (int, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	if st.Size() == 0 {
		return 0, nil
	}
	m, err := unix.Mmap(int(f.Fd()), 0, int(st.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return 0, fmt.Errorf("mmap %s: %w", f.Name(), err)
	}
	defer unix.Munmap(m)
	pages := (len(m) + os.Getpagesize() - 1) / os.Getpagesize()
	vec := make([]byte, pages)
	// x/sys/unix has no mincore wrapper on Linux.
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		return 0, fmt.Errorf("mincore %s: %w", f.Name(), errno)
	}
	n := 0
	for _, v := range vec {
		n += int(v & 1)
	}
	return n, nil
}
