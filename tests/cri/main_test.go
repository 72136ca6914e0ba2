// Package cri runs pods through containerd's CRI plugin, as the kubelet
// drives it, with the runtime under test registered as a RuntimeClass
// handler (runc-v2 shim, options.BinaryName): Debian's containerd 1.6 and
// containerd 2.x built by hack/cri-tools.sh, crictl, Debian's CNI bridge
// plugin and a pause image built here. The reference runc (go.mod's
// version, the libcontainer the runtime embeds) runs the same scenarios
// as the standard to meet. Run with `make cri` (root).
package cri

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

func TestMain(m *testing.M) {
	os.Exit(testutil.Main(m, setup))
}

// setup finds (or builds) containerd 2.x, crictl and the reference runc,
// and builds the pause program, publishing them in the environment for
// the tests (EnvCRITools, EnvCRIPause).
func setup() (func() error, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	tools, err := testutil.CRIToolsDir(ctx)
	if err != nil {
		return nil, err
	}
	os.Setenv(testutil.EnvCRITools, tools)
	if os.Getenv(testutil.EnvCRIPause) != "" {
		return nil, nil
	}
	dir, err := os.MkdirTemp("", "hardened-cri-pause-")
	if err != nil {
		return nil, err
	}
	teardown := func() error { return os.RemoveAll(dir) }
	pause, err := testutil.BuildPause(ctx, dir)
	if err != nil {
		return teardown, fmt.Errorf("pause image: %w", err)
	}
	os.Setenv(testutil.EnvCRIPause, pause)
	return teardown, nil
}
