//go:build linux && cgo && prefault

package prefault

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The constructor's call maps a whole file-backed mapping that nothing has
// touched: resident goes from nothing to all of it.
func TestPopulateMapsAFileMapping(t *testing.T) {
	path := filepath.Join(t.TempDir(), "text")
	const size = 4 << 20
	if err := os.WriteFile(path, make([]byte, size), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ|unix.PROT_EXEC, unix.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	if rss := residentKiB(t, m); rss != 0 {
		t.Fatalf("fresh mapping: %d KiB resident before anything touched it", rss)
	}
	if err := populate(m); err != nil {
		t.Skipf("MADV_POPULATE_READ not supported here: %v", err)
	}
	if rss := residentKiB(t, m); rss != size/1024 {
		t.Errorf("after populate: %d KiB resident of %d", rss, size/1024)
	}
}

// residentKiB returns the Rss of the mapping that starts at m.
func residentKiB(t *testing.T, m []byte) int {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	start := fmt.Sprintf("%x-", uintptr(unsafe.Pointer(unsafe.SliceData(m))))
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 0 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":") {
			in = strings.HasPrefix(fields[0], start)
			continue
		}
		if in && len(fields) >= 2 && fields[0] == "Rss:" {
			n, _ := strconv.Atoi(fields[1])
			return n
		}
	}
	t.Fatalf("mapping at %s not in /proc/self/smaps", start)
	return 0
}
