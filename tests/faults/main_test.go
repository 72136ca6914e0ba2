// Package faults kills the runtime with SIGKILL at random points of
// create, run, exec and delete, and the container's init, concurrently,
// also on a full and on a read-only --root, and checks after each
// injection that delete --force leaves nothing behind: no state, create
// lock, ID range, staged rootfs, mount, cgroup or temporary file, and no
// torn file. It needs root.
//
//	HARDENED_BIN=/path/to/hardened go test ./tests/faults -count=1 -v
//
// FAULTS_INJECTIONS sets how many kills TestFaultsKill makes (default 120).
package faults

import (
	"os"
	"testing"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

func TestMain(m *testing.M) {
	os.Exit(testutil.Main(m, nil))
}
