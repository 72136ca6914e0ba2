package testutil

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// DebianImageName is the image DebianImage imports into a dockerd.
const DebianImageName = "hardened-test/debian:bookworm"

// EnvCache names the directory (outside the repository) where built
// rootfs tarballs are kept between runs; DefaultCacheDir when unset.
const EnvCache = "HARDENED_CACHE"

// DefaultCacheDir is the cache directory when HARDENED_CACHE is unset.
const DefaultCacheDir = "/var/cache/hardened-tests"

// EnvDebianMirror overrides DebianMirror (e.g. a local mirror or proxy).
const EnvDebianMirror = "HARDENED_DEBIAN_MIRROR"

// DebianMirror is the Debian mirror debootstrap downloads from.
const DebianMirror = "http://deb.debian.org/debian"

// debianSuite and debianVariant are what debootstrap builds.
const (
	debianSuite   = "bookworm"
	debianVariant = "minbase"
)

// DebianPackages returns the packages the Debian image holds on top of
// debootstrap's minbase: real programs for the workload tests.
func DebianPackages() []string {
	return []string{"nginx-light", "postgresql", "python3", "procps"}
}

// debianBuildTimeout bounds debootstrap (measured: a few minutes on a
// fresh machine; most of it is downloading ~60 MB of packages).
const debianBuildTimeout = 15 * time.Minute

// CacheDir returns $HARDENED_CACHE or DefaultCacheDir.
func CacheDir() string {
	if d := os.Getenv(EnvCache); d != "" {
		return d
	}
	return DefaultCacheDir
}

// DebianTarballName is the cache file name for the Debian rootfs: it
// changes with the suite, variant and package list, so editing
// DebianPackages rebuilds.
func DebianTarballName() string {
	h := sha256.Sum256([]byte(debianSuite + "\n" + debianVariant + "\n" + strings.Join(DebianPackages(), ",")))
	return fmt.Sprintf("debian-%s-%s.tar", debianSuite, hex.EncodeToString(h[:])[:16])
}

// DebianTarball returns the path of a tarball of a Debian bookworm rootfs
// made by `debootstrap --variant=minbase --include=<DebianPackages>`, built
// into CacheDir on first use and reused afterwards. Concurrent callers
// (test packages run in parallel) wait for one build. log receives
// progress lines (nil for none). A missing debootstrap or an unreachable
// mirror is an error that says so.
func DebianTarball(ctx context.Context, log func(format string, args ...any)) (string, error) {
	if log == nil {
		log = func(string, ...any) {}
	}
	dir := CacheDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("debian image cache: %w", err)
	}
	out := filepath.Join(dir, DebianTarballName())
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	// One build at a time: hold an exclusive lock on a file beside it.
	lock, err := os.OpenFile(out+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", fmt.Errorf("debian image cache: %w", err)
	}
	defer lock.Close()
	for {
		if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("debian image: waiting for another build of %s: %w", out, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
	defer unix.Flock(int(lock.Fd()), unix.LOCK_UN)
	if _, err := os.Stat(out); err == nil {
		return out, nil // another process built it meanwhile
	}
	if err := buildDebianTarball(ctx, out, log); err != nil {
		return "", err
	}
	return out, nil
}

// buildDebianTarball runs debootstrap into a scratch directory beside out
// and tars the result into out (written under a temporary name, then
// renamed, so a cut-short build never leaves a truncated cache file).
func buildDebianTarball(ctx context.Context, out string, log func(string, ...any)) error {
	debootstrap, err := exec.LookPath("debootstrap")
	if err != nil {
		return fmt.Errorf("debian image: debootstrap not found (apt-get install debootstrap, or run hack/install-deps.sh): %w", err)
	}
	mirror := DebianMirror
	if m := os.Getenv(EnvDebianMirror); m != "" {
		mirror = m
	}
	if err := checkMirror(ctx, mirror); err != nil {
		return err
	}
	scratch, err := os.MkdirTemp(filepath.Dir(out), ".debootstrap-")
	if err != nil {
		return fmt.Errorf("debian image: %w", err)
	}
	root := filepath.Join(scratch, "root")
	defer func() {
		// debootstrap mounts /proc and /sys in the target while packages
		// configure; a build that fails halfway can leave them.
		UnmountUnder(scratch)
		os.RemoveAll(scratch)
	}()
	bctx, cancel := context.WithTimeout(ctx, debianBuildTimeout)
	defer cancel()
	start := time.Now()
	log("debian image: debootstrap %s from %s into %s (first run only; cached as %s)", debianSuite, mirror, root, out)
	cmd := exec.CommandContext(bctx, debootstrap,
		"--variant="+debianVariant,
		"--include="+strings.Join(DebianPackages(), ","),
		debianSuite, root, mirror)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive", "LC_ALL=C")
	cmd.WaitDelay = 10 * time.Second
	output, err := cmd.CombinedOutput()
	if err != nil {
		msg := string(output)
		if b, rerr := os.ReadFile(filepath.Join(root, "debootstrap", "debootstrap.log")); rerr == nil {
			msg += "\n--- debootstrap.log (tail) ---\n" + tailLines(string(b), 30)
		}
		if bctx.Err() != nil {
			err = fmt.Errorf("%w (timed out after %s)", err, debianBuildTimeout)
		}
		return fmt.Errorf("debian image: debootstrap %s from %s failed: %v\n%s", debianSuite, mirror, err, tailLines(msg, 60))
	}
	log("debian image: debootstrap took %s", time.Since(start).Round(time.Second))
	// What a container does not need: downloaded packages and indexes.
	for _, glob := range []string{"var/cache/apt/archives/*.deb", "var/lib/apt/lists/*_Packages", "var/lib/apt/lists/*Release*"} {
		files, _ := filepath.Glob(filepath.Join(root, glob))
		for _, f := range files {
			os.Remove(f)
		}
	}
	tmp := out + ".tmp"
	// Docker provides /dev, /proc and /sys: leave out what debootstrap put
	// there (device nodes), keep the directories.
	tarCmd := exec.CommandContext(bctx, "tar", "-C", root, "--numeric-owner", "--xattrs",
		"--exclude=./dev/*", "--exclude=./proc/*", "--exclude=./sys/*",
		"-cf", tmp, ".")
	if b, err := tarCmd.CombinedOutput(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("debian image: tar %s: %v\n%s", root, err, b)
	}
	if err := os.Rename(tmp, out); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("debian image: %w", err)
	}
	st, _ := os.Stat(out)
	log("debian image: built in %s, %d MB", time.Since(start).Round(time.Second), st.Size()>>20)
	return nil
}

// checkMirror fails with a clear message when the mirror cannot serve the
// suite's release file (no network, proxy needed, mirror down).
func checkMirror(ctx context.Context, mirror string) error {
	url := strings.TrimRight(mirror, "/") + "/dists/" + debianSuite + "/Release"
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodHead, url, nil)
	if err != nil {
		return fmt.Errorf("debian image: mirror %q: %w", mirror, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("debian image: the Debian mirror is unreachable, so the image cannot be built "+
			"(set %s to a reachable mirror, or put a prebuilt %s into %s): %w",
			EnvDebianMirror, DebianTarballName(), CacheDir(), err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("debian image: mirror %s answered %s for %s (set %s to a working mirror)", mirror, resp.Status, url, EnvDebianMirror)
	}
	return nil
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// ImportDebian imports the Debian rootfs (built or taken from the cache)
// as DebianImageName unless the daemon has it, and returns the name.
func (dd *Dockerd) ImportDebian(ctx context.Context, log func(string, ...any)) (string, error) {
	if _, _, exit := dd.Run(ctx, "image", "inspect", DebianImageName); exit == 0 {
		return DebianImageName, nil
	}
	tarball, err := DebianTarball(ctx, log)
	if err != nil {
		return "", err
	}
	_, errOut, exit := dd.Run(ctx, "import", "-c", `CMD ["bash"]`, "-c", "ENV "+imagePath, "-c", "ENV LANG=C.UTF-8", tarball, DebianImageName)
	if exit != 0 {
		return "", fmt.Errorf("docker import %s: exit %d: %s", tarball, exit, errOut)
	}
	return DebianImageName, nil
}

// DebianImage is ImportDebian for a test: it fails the test (never skips)
// when the image cannot be made, e.g. because the mirror is unreachable.
// The image stays in the daemon for the package's other tests; the daemon's
// data root goes with the daemon.
func DebianImage(tb testing.TB, dd *Dockerd) string {
	tb.Helper()
	RequireRoot(tb)
	ctx, cancel := context.WithTimeout(context.Background(), debianBuildTimeout+5*time.Minute)
	defer cancel()
	img, err := dd.ImportDebian(ctx, tb.Logf)
	if err != nil {
		tb.Fatal(err)
	}
	return img
}
