// Package packaging tests hardened the way an operator installs it: the
// Debian package `make deb` builds (lintian, dpkg -i, a container through
// the installed binary, dpkg --purge), and `hardened install` /
// `uninstall` against a real dockerd and containerd with configuration
// files holding other settings. Needs root; installs and purges the
// package "hardened" on this machine.
//
//	go test ./tests/packaging -count=1 -v
package packaging

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

func TestMain(m *testing.M) {
	os.Exit(testutil.Main(m, nil))
}

// run runs a command with a timeout and returns stdout, stderr and the
// exit code (-1 when it could not run to an exit).
func run(t *testing.T, timeout time.Duration, name string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	code := 0
	if err != nil {
		code = -1
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
	}
	return out.String(), errOut.String(), code
}

// mustRun is run that fails the test unless the command exits 0.
func mustRun(t *testing.T, timeout time.Duration, name string, args ...string) string {
	t.Helper()
	out, errOut, code := run(t, timeout, name, args...)
	if code != 0 {
		t.Fatalf("%s %s: exit %d\nstdout: %s\nstderr: %s", name, strings.Join(args, " "), code, out, errOut)
	}
	return out
}
