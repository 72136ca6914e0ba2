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

// Podman is Debian's podman with a private storage root, run root, tmp
// dir, volume path and configuration (CONTAINERS_CONF,
// CONTAINERS_STORAGE_CONF), so that the host's podman and its images are
// untouched. The runtime under test is registered as "hardened" by the
// runtime itself (`hardened install podman --config`), the way a user
// does it. Podman has no daemon: Close removes the containers, volumes
// and images and everything under Dir.
type Podman struct {
	Dir     string // everything of this podman lives below
	Runtime string // path registered as the "hardened" runtime
	env     []string
	cgroups cgroupLeftovers
}

// PodmanRunArgs returns the flags every test container needs on these
// machines: the hardened runtime and no network of Podman's (it would
// add bridges and iptables rules to the host). The ulimits, which Podman
// sets from its own limits and a host without CAP_SYS_RESOURCE cannot
// raise, come from containers.conf.
func PodmanRunArgs() []string { return []string{"--runtime", "hardened", "--network", "none"} }

// NewPodman prepares a private podman whose "hardened" runtime is
// runtimePath, and imports the busybox image into it.
func NewPodman(ctx context.Context, runtimePath string) (*Podman, error) {
	if _, err := exec.LookPath("podman"); err != nil {
		return nil, fmt.Errorf("podman: %w (apt-get install podman)", err)
	}
	dir, err := os.MkdirTemp("", "hardened-podman-")
	if err != nil {
		return nil, err
	}
	p := &Podman{Dir: dir, Runtime: runtimePath, cgroups: noteCgroupLeftovers("libpod_parent")}
	storage := fmt.Sprintf("[storage]\ndriver = \"overlay\"\ngraphroot = %q\nrunroot = %q\n",
		filepath.Join(dir, "root"), filepath.Join(dir, "run"))
	conf := fmt.Sprintf(`# private configuration of a test podman
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]

[network]
network_backend = "cni"
network_config_dir = %q

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = %q
tmp_dir = %q
`, filepath.Join(dir, "cni"), filepath.Join(dir, "events.log"), filepath.Join(dir, "tmp"))
	files := map[string]string{"storage.conf": storage, "containers.conf": conf}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	p.env = []string{
		"CONTAINERS_CONF=" + filepath.Join(dir, "containers.conf"),
		"CONTAINERS_STORAGE_CONF=" + filepath.Join(dir, "storage.conf"),
	}
	// Registered as a user would.
	install := exec.CommandContext(ctx, runtimePath, "install", "podman", "--config", filepath.Join(dir, "containers.conf"), "--path", runtimePath)
	if out, err := install.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("hardened install podman: %v: %s", err, out)
	}
	if err := p.importBusybox(ctx); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// StartPodman is NewPodman for one test, closed at its cleanup; a failed
// close (a leak) fails the test.
func StartPodman(tb testing.TB, runtimePath string) *Podman {
	tb.Helper()
	return startForTest(tb, 2*time.Minute, func(ctx context.Context) (*Podman, error) {
		return NewPodman(ctx, runtimePath)
	})
}

// Command returns a podman command of this private podman.
func (p *Podman) Command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "podman", args...)
	cmd.Env = append(os.Environ(), p.env...)
	return cmd
}

// Run runs podman and returns its output and exit code.
func (p *Podman) Run(ctx context.Context, args ...string) (stdout, stderr string, exit int) {
	return runCapture(ctx, p.Command(ctx, args...))
}

// importBusybox imports the busybox rootfs as BusyboxImage (CMD sh, a
// PATH), from the tarball testutil builds: no registry.
func (p *Podman) importBusybox(ctx context.Context) error {
	tarball, err := BusyboxTarball(p.Dir)
	if err != nil {
		return err
	}
	_, errOut, exit := p.Run(ctx, "import", "--change", `CMD ["sh"]`, "--change", "ENV "+imagePath, tarball, BusyboxImage)
	if exit != 0 {
		return fmt.Errorf("podman import: exit %d: %s", exit, errOut)
	}
	return nil
}

// AddBridgeNetwork defines a CNI network of this podman, a bridge of its
// own (no masquerading, no port mapping: no iptables rule on the host)
// whose addresses host-local keeps under Dir, and returns its name. The
// bridge is deleted when the test ends.
func (p *Podman) AddBridgeNetwork(tb testing.TB) string {
	tb.Helper()
	suffix := filepath.Base(p.Dir)
	suffix = suffix[len(suffix)-6:]
	name, bridge := "ht-net-"+suffix, "htpm"+suffix
	subnet := 10 + int(suffix[0])%200
	conf := fmt.Sprintf(`{
  "cniVersion": "0.4.0",
  "name": %q,
  "plugins": [
    {
      "type": "bridge", "bridge": %q, "isGateway": true, "ipMasq": false,
      "ipam": {"type": "host-local", "dataDir": %q,
        "ranges": [[{"subnet": "10.214.%d.0/24", "gateway": "10.214.%d.1"}]]}
    }
  ]
}
`, name, bridge, filepath.Join(p.Dir, "cni-ipam"), subnet, subnet)
	if err := os.MkdirAll(filepath.Join(p.Dir, "cni"), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(p.Dir, "cni", name+".conflist"), []byte(conf), 0o644); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if _, err := os.Stat("/sys/class/net/" + bridge); err == nil {
			if out, err := exec.Command("ip", "link", "del", bridge).CombinedOutput(); err != nil {
				tb.Errorf("ip link del %s: %v: %s", bridge, err, out)
			}
		}
	})
	return name
}

// Close removes every container, volume and image of this podman and
// its directory, and returns what was left behind: mounts under Dir,
// staging directories of its containers under /run/hardened-idmap.
func (p *Podman) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var errs []string
	ids, _, _ := p.Run(ctx, "ps", "-aq", "--no-trunc")
	if _, errOut, exit := p.Run(ctx, "rm", "-af", "-t", "2"); exit != 0 {
		errs = append(errs, "podman rm -af: "+strings.TrimSpace(errOut))
	}
	if _, errOut, exit := p.Run(ctx, "volume", "rm", "-af"); exit != 0 {
		errs = append(errs, "podman volume rm -af: "+strings.TrimSpace(errOut))
	}
	if _, errOut, exit := p.Run(ctx, "rmi", "-af"); exit != 0 {
		errs = append(errs, "podman rmi -af: "+strings.TrimSpace(errOut))
	}
	for _, id := range strings.Fields(ids) {
		if left, _ := filepath.Glob(filepath.Join("/run/hardened-idmap", "*", id)); len(left) > 0 {
			errs = append(errs, fmt.Sprintf("staging directory left: %v", left))
		}
	}
	// containers/storage bind-mounts its overlay directory onto itself
	// (private); it is its own, not a container's.
	errs = append(errs, releaseDaemonDir("podman rm -af", p.Dir, p.cgroups, filepath.Join(p.Dir, "root", "overlay"), filepath.Join(p.Dir, "run"))...)
	if len(errs) > 0 {
		return fmt.Errorf("podman cleanup: %s", strings.Join(errs, "; "))
	}
	return nil
}
