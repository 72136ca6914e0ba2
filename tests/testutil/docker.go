package testutil

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// BusyboxImage is the image DockerImportBusybox and CtrImportBusybox make.
const BusyboxImage = "hardened-test/busybox:latest"

// imagePath is the PATH the imported image sets (`docker import` sets none).
const imagePath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Dockerd is a private dockerd (Debian's docker.io) with its own data root,
// exec root, socket and containerd (dockerd starts one under its exec
// root), registering the runtime under test as "hardened".
type Dockerd struct {
	Dir     string // everything of this daemon lives below
	Host    string // unix://Dir/docker.sock, for docker -H
	Runtime string // path registered as the "hardened" runtime
	Log     string // dockerd's output
	d       *daemon
	bridge  *Bridge
	cgroups cgroupLeftovers
}

// DockerCgroupParent is the parent cgroup dockerd (cgroupfs driver, the
// default on a v1 host) makes in every hierarchy and never removes.
const DockerCgroupParent = "docker"

// NewDockerd starts a private dockerd and waits until it answers. Close
// stops it. Its default network is a bridge of its own (NewBridge), never
// the host's docker0, and iptables are off (the host's stay untouched).
func NewDockerd(ctx context.Context, runtimePath string) (*Dockerd, error) {
	return NewDockerdArgs(ctx, runtimePath)
}

// NewDockerdArgs is NewDockerd with more dockerd flags (--exec-opt
// native.cgroupdriver=systemd).
func NewDockerdArgs(ctx context.Context, runtimePath string, more ...string) (*Dockerd, error) {
	if _, err := exec.LookPath("dockerd"); err != nil {
		return nil, fmt.Errorf("dockerd: %w (apt-get install docker.io)", err)
	}
	dir, err := os.MkdirTemp("", "hardened-dockerd-")
	if err != nil {
		return nil, err
	}
	if slices.ContainsFunc(more, func(a string) bool { return strings.HasPrefix(a, "--userns-remap") }) {
		// dockerd refuses a data root whose parents the remapped root
		// cannot traverse.
		if err := os.Chmod(dir, 0o711); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	cfg := map[string]any{
		"runtimes": map[string]any{"hardened": map[string]any{"path": runtimePath}},
	}
	data, _ := json.MarshalIndent(cfg, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "daemon.json"), data, 0o644); err != nil {
		return nil, err
	}
	bridge, err := NewBridge()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	dd := &Dockerd{
		bridge:  bridge,
		cgroups: noteCgroupLeftovers(DockerCgroupParent),
		Dir:     dir,
		Host:    "unix://" + filepath.Join(dir, "docker.sock"),
		Runtime: runtimePath,
		Log:     filepath.Join(dir, "dockerd.log"),
	}
	dd.d, err = startDaemon("dockerd", dd.Log, nil, append([]string{
		"dockerd",
		"--config-file", filepath.Join(dir, "daemon.json"),
		"--data-root", filepath.Join(dir, "data"),
		"--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "docker.pid"),
		"-H", dd.Host,
		"--storage-driver=overlay2",
	}, append(bridge.DockerdArgs(), more...)...)...)
	if err != nil {
		bridge.Remove()
		os.RemoveAll(dir)
		return nil, err
	}
	err = dd.d.waitReady(ctx, func(ctx context.Context) error {
		_, errOut, exit := runCapture(ctx, dd.Command(ctx, "version", "--format", "{{.Server.Version}}"))
		if exit != 0 {
			return fmt.Errorf("docker version: %s", strings.TrimSpace(errOut))
		}
		return nil
	})
	if err != nil {
		dd.Close()
		return nil, err
	}
	return dd, nil
}

// StartDockerd is NewDockerd for one test, stopped at its cleanup.
func StartDockerd(tb testing.TB, runtimePath string) *Dockerd {
	tb.Helper()
	return StartDockerdArgs(tb, runtimePath)
}

// StartDockerdArgs is NewDockerdArgs for one test, stopped at its cleanup.
func StartDockerdArgs(tb testing.TB, runtimePath string, more ...string) *Dockerd {
	tb.Helper()
	return startForTest(tb, 90*time.Second, func(ctx context.Context) (*Dockerd, error) {
		return NewDockerdArgs(ctx, runtimePath, more...)
	})
}

// startForTest starts a test daemon with start, which must be ready within
// timeout, and stops it when the test ends; a failed stop (a leak) fails
// the test.
func startForTest[D interface{ Close() error }](tb testing.TB, timeout time.Duration, start func(context.Context) (D, error)) D {
	tb.Helper()
	RequireRoot(tb)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	d, err := start(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := d.Close(); err != nil {
			tb.Error(err)
		}
	})
	return d
}

// Command returns a docker client command talking to this daemon, with a
// private client config.
func (dd *Dockerd) Command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "docker", append([]string{"-H", dd.Host}, args...)...)
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+filepath.Join(dd.Dir, "client"), "DOCKER_CLI_HINTS=false")
	return cmd
}

// Run runs the docker client with a timeout and returns its output and
// exit code.
func (dd *Dockerd) Run(ctx context.Context, args ...string) (stdout, stderr string, exit int) {
	return runCapture(ctx, dd.Command(ctx, args...))
}

// Close removes every container, stops dockerd (and with it its
// containerd), detaches any mount left under Dir and removes Dir. It
// returns what went wrong, leftover mounts included.
func (dd *Dockerd) Close() error {
	var errs []string
	if dd.d != nil {
		select {
		case <-dd.d.done:
		default:
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			out, _, _ := dd.Run(ctx, "ps", "-aq")
			if ids := strings.Fields(out); len(ids) > 0 {
				if _, errOut, exit := dd.Run(ctx, append([]string{"rm", "-f"}, ids...)...); exit != 0 {
					errs = append(errs, "docker rm -f: "+strings.TrimSpace(errOut))
				}
			}
			cancel()
		}
		if err := dd.d.stop(30 * time.Second); err != nil {
			errs = append(errs, err.Error())
		}
		// dockerd stops its containerd; give a straggler a moment.
		killPidFile(filepath.Join(dd.Dir, "exec", "containerd", "containerd.pid"), dd.Dir, 10*time.Second)
	}
	// dockerd bind-mounts its data root onto itself to make it shared
	// (the host's / is private here). dockerd 20.10 usually removes that on
	// shutdown but, after longer runs, was seen to leave it: it is
	// dockerd's own, not a container's, so it is removed without a report.
	logTail := tail(dd.Log, 40) // read before the directory goes
	errs = append(errs, releaseDaemonDir("dockerd stopped", dd.Dir, dd.cgroups, filepath.Join(dd.Dir, "data"))...)
	if dd.bridge != nil {
		if err := dd.bridge.Remove(); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		errs = append(errs, "dockerd log:\n"+logTail)
	}
	if len(errs) > 0 {
		return fmt.Errorf("dockerd cleanup: %s", strings.Join(errs, "; "))
	}
	return nil
}

// ImportBusybox imports the busybox rootfs as BusyboxImage (CMD sh, a
// PATH) unless it exists, and returns the image name.
func (dd *Dockerd) ImportBusybox(ctx context.Context) (string, error) {
	if _, _, exit := dd.Run(ctx, "image", "inspect", BusyboxImage); exit == 0 {
		return BusyboxImage, nil
	}
	tarball, err := BusyboxTarball(dd.Dir)
	if err != nil {
		return "", err
	}
	_, errOut, exit := dd.Run(ctx, "import", "-c", `CMD ["sh"]`, "-c", "ENV "+imagePath, tarball, BusyboxImage)
	if exit != 0 {
		return "", fmt.Errorf("docker import: exit %d: %s", exit, errOut)
	}
	return BusyboxImage, nil
}

// DockerImportBusybox is ImportBusybox for a test.
func DockerImportBusybox(tb testing.TB, dd *Dockerd) string { return importBusyboxForTest(tb, dd) }

// busyboxImporter is a daemon (dockerd, containerd) that can import the
// busybox image.
type busyboxImporter interface {
	ImportBusybox(ctx context.Context) (string, error)
}

// importBusyboxForTest imports the busybox image into d within a minute
// and returns its name; a failure fails the test.
func importBusyboxForTest(tb testing.TB, d busyboxImporter) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	img, err := d.ImportBusybox(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	return img
}
