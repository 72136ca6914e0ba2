package shim

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/hardened-runtime/hardened/spec"
)

// readCallerFile reads a file the caller named on the command line (exec
// --process), at most limit bytes: a regular file (spec.ReadRegularFile:
// no symlink, no FIFO or device, checked before it is opened), or one of
// the caller's own anonymous pipes named /dev/fd/N or /proc/self/fd/N, as
// a shell's <(...) passes it and runc reads it. Such a pipe is the
// caller's: no one else can have planted it, and its writer is the
// caller's. A named FIFO stays refused (it could block the runtime).
func readCallerFile(path string, limit int64) ([]byte, error) {
	fd, ok := inheritedFD(path)
	if !ok {
		return spec.ReadRegularFile(path, limit)
	}
	target, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil || !strings.HasPrefix(target, "pipe:[") {
		return spec.ReadRegularFile(path, limit)
	}
	if limit <= 0 {
		limit = spec.DefaultMaxConfigSize
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is more than the %d bytes allowed (policy key \"maxConfigSize\"): %w", path, limit, spec.ErrTooLarge)
	}
	return data, nil
}

// inheritedFD returns N for a path /dev/fd/N or /proc/self/fd/N, N > 2.
func inheritedFD(path string) (int, bool) {
	for _, prefix := range []string{"/dev/fd/", "/proc/self/fd/"} {
		if rest, ok := strings.CutPrefix(path, prefix); ok {
			n, err := strconv.Atoi(rest)
			return n, err == nil && n > 2
		}
	}
	return 0, false
}
