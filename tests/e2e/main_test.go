// Package e2e runs the runtime under test behind Debian's Docker 20.10 and
// containerd, the way users reach it: `docker run --runtime=hardened` and
// `ctr run --runc-binary`. One private dockerd and one private containerd
// serve the whole package; each test uses its own containers. Needs root.
//
//	HARDENED_BIN=/path/to/hardened go test ./tests/e2e -count=1 -v
package e2e

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"testing"
	"time"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// The daemons shared by the tests of this package, set by TestMain.
var (
	dockerd    *testutil.Dockerd
	containerd *testutil.Containerd
)

func TestMain(m *testing.M) {
	os.Exit(testutil.Main(m, setup))
}

func setup() (func() error, error) {
	bin := os.Getenv(testutil.EnvBinary)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var err error
	if dockerd, err = testutil.NewDockerd(ctx, bin); err != nil {
		return nil, err
	}
	if containerd, err = testutil.NewContainerd(ctx); err != nil {
		return dockerd.Close, err
	}
	return func() error { return errors.Join(dockerd.Close(), containerd.Close()) }, nil
}

// uniqueName returns a container name unique to this run.
func uniqueName(prefix string) string {
	return fmt.Sprintf("ht-%s-%08x", prefix, rand.Uint32())
}
