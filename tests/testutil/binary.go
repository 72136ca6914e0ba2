package testutil

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// EnvBinary names the environment variable that holds the path of the
// runtime under test (for example /usr/sbin/runc to check the tests
// themselves against runc).
const EnvBinary = "HARDENED_BIN"

// ModulePath is the import path of the runtime's main package.
const ModulePath = "github.com/hardened-runtime/hardened"

// RequireRoot skips the test unless it runs as root.
func RequireRoot(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("needs root: run as root, e.g. sudo -E go test ./tests/...")
	}
}

// Binary returns the absolute path of the runtime under test, from
// HARDENED_BIN. When HARDENED_BIN is unset the test is skipped with a hint:
// the package's TestMain should call Main, which builds the binary once.
func Binary(tb testing.TB) string {
	tb.Helper()
	bin := os.Getenv(EnvBinary)
	if bin == "" {
		tb.Skipf("%s is not set: set it to the runtime to test (e.g. %s=$(pwd)/hardened or %s=$(which runc)), or call testutil.Main from TestMain to build it", EnvBinary, EnvBinary, EnvBinary)
	}
	abs, err := filepath.Abs(bin)
	if err != nil {
		tb.Fatalf("%s=%q: %v", EnvBinary, bin, err)
	}
	if _, err := os.Stat(abs); err != nil {
		tb.Fatalf("%s=%q: %v", EnvBinary, bin, err)
	}
	return abs
}

// ModuleRoot returns the directory of the module's go.mod, found by walking
// up from the current directory (go test runs in the package directory).
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(data), "module "+ModulePath+"\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("go.mod of %s not found above the current directory", ModulePath)
		}
		dir = parent
	}
}

// BuildBinary builds the runtime with seccomp support into dir and returns
// the binary's path.
func BuildBinary(ctx context.Context, dir string) (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "hardened")
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", "seccomp", "-o", out, ModulePath)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", ModulePath, err, b)
	}
	return out, nil
}

// Main is for a test package's TestMain: when HARDENED_BIN is unset it
// builds the runtime into a temporary directory and sets HARDENED_BIN for
// this test process, so the build happens once per package. setup, if not
// nil, runs after that (start shared daemons there) and returns a teardown
// that runs after the tests; a teardown error (a leak) fails the package.
// Main returns the exit code for os.Exit. A package whose tests remove
// the host's docker0 bridge (the host's own Docker) fails, and so does one
// after which a cgroup (a parent cgroup of an engine, a controller
// directory on a v1 host's /sys/fs/cgroup tmpfs) is left that was not
// there before and holds no process.
func Main(m *testing.M, setup func() (teardown func() error, err error)) (code int) {
	if hostBridge := hasLink("docker0"); hostBridge {
		defer func() {
			if !hasLink("docker0") {
				fmt.Fprintln(os.Stderr, "testutil.Main: the host's docker0 bridge is gone: a test broke the host's Docker")
				fmt.Println("FAIL: host docker0 removed")
				code = 1
			}
		}()
	}
	// Checked after the teardown (deferred first, so run last).
	cgroupsBefore := cgroupTops()
	defer func() {
		if left := cgroupLeftoversSince(cgroupsBefore, 10*time.Second); len(left) > 0 {
			fmt.Fprintf(os.Stderr, "testutil.Main: left in %s since this run started, holding no process (by this run or another on the machine; remove with rmdir, deepest first): %s\n",
				cgroupRoot, strings.Join(left, " "))
			fmt.Println("FAIL: cgroups left")
			code = 1
		}
	}()
	if os.Getenv(EnvBinary) == "" && os.Geteuid() == 0 {
		dir, err := os.MkdirTemp("", "hardened-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "testutil.Main:", err)
			return 1
		}
		defer os.RemoveAll(dir)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		bin, err := BuildBinary(ctx, dir)
		cancel()
		if err != nil {
			fmt.Fprintf(os.Stderr, "testutil.Main: %s is unset and building the runtime failed (set %s to test a prebuilt binary): %v\n", EnvBinary, EnvBinary, err)
			return 1
		}
		os.Setenv(EnvBinary, bin)
	}
	if setup != nil && os.Geteuid() == 0 {
		teardown, err := setup()
		if teardown != nil {
			defer func() {
				if err := teardown(); err != nil {
					fmt.Fprintln(os.Stderr, "testutil.Main: teardown:", err)
					fmt.Println("FAIL: teardown")
					code = 1
				}
			}()
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "testutil.Main: setup:", err)
			return 1
		}
	}
	return m.Run()
}

// RuntimeVersion returns the first line of `<bin> --version`, e.g.
// "runc version 1.1.5+ds1" or "hardened version 0.1.0".
func RuntimeVersion(bin string) string {
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		return ""
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(line)
}

// SkipOnOldRunc skips the test when the binary under test is runc older
// than 1.2 (Debian 12 ships 1.1.5), for a behaviour where that runc is
// known to differ from what hardened must do; reason says how.
func SkipOnOldRunc(tb testing.TB, reason string) {
	tb.Helper()
	v := RuntimeVersion(Binary(tb))
	if strings.HasPrefix(v, "runc version 1.0.") || strings.HasPrefix(v, "runc version 1.1.") {
		tb.Skipf("%s: known difference: %s", v, reason)
	}
}

// EnvPrograms names a directory of the tests' helper programs built
// beforehand (probe, pause): `make test-vm` builds them on the host, as
// its guest has no Go toolchain.
const EnvPrograms = "HARDENED_TEST_PROGRAMS"

// Prebuilt returns the path of helper program name in $HARDENED_TEST_PROGRAMS,
// or "" when that is unset (the caller builds the program itself). A set
// directory without the program is an error.
func Prebuilt(name string) (string, error) {
	dir := os.Getenv(EnvPrograms)
	if dir == "" {
		return "", nil
	}
	path := filepath.Join(dir, name)
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("%s=%s: %w", EnvPrograms, dir, err)
	}
	return path, nil
}
