// Package integration drives the runtime's command line directly, as
// containerd's shim does, against real containers. It needs root.
//
//	HARDENED_BIN=/path/to/hardened go test ./tests/integration -count=1 -v
//
// Without HARDENED_BIN the runtime is built from this module first.
package integration

import (
	"os"
	"testing"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

func TestMain(m *testing.M) {
	os.Exit(testutil.Main(m, nil))
}
