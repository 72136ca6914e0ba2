package testutil

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// EnvCRITools names the directory hack/cri-tools.sh printed (containerd
// 2.x with its shim and ctr, crictl, the reference runc). When it is unset
// CRIToolsDir runs the script, which builds on first use.
const EnvCRITools = "HARDENED_CRI_TOOLS"

// EnvCRIPause names a static pause binary (tests/cri/pause); when it is
// unset the CRI suite builds one.
const EnvCRIPause = "HARDENED_CRI_PAUSE"

// Images every private CRI containerd holds: no registry is reachable,
// both are built here and imported with `ctr -n k8s.io images import`.
const (
	CRIPauseImage   = "docker.io/hardened-test/pause:3.10"
	CRIBusyboxImage = "docker.io/" + BusyboxImage
)

// criNamespace is the containerd namespace of the CRI plugin.
const criNamespace = "k8s.io"

// debianCNIBinDir is where Debian's containernetworking-plugins puts the
// plugins.
const debianCNIBinDir = "/usr/lib/cni"

// CRIContainerd is one containerd build the CRI suite runs against.
type CRIContainerd struct {
	// Name is short, for test names: "1.6" (Debian) or "2.4".
	Name string
	// Containerd and Ctr are the binaries.
	Containerd, Ctr string
	// ShimDir, if set, is put first in containerd's PATH: the directory
	// of its own containerd-shim-runc-v2.
	ShimDir string
	// ConfigVersion is the config.toml version it reads: 2 (1.x) or 3
	// (2.x, where the CRI plugin is split and renamed).
	ConfigVersion int
}

// PodUserNamespaces reports whether this containerd runs `hostUsers:
// false` pods (CRI userns_options): 2.x does, 1.6 does not.
func (cc CRIContainerd) PodUserNamespaces() bool { return cc.ConfigVersion >= 3 }

// CRIContainerds returns Debian's containerd 1.6 and the containerd 2.x
// hack/cri-tools.sh built into tools.
func CRIContainerds(tools string) []CRIContainerd {
	return []CRIContainerd{
		{Name: "1.6", Containerd: "/usr/bin/containerd", Ctr: "/usr/bin/ctr", ConfigVersion: 2},
		{Name: "2.4", Containerd: filepath.Join(tools, "containerd"), Ctr: filepath.Join(tools, "ctr"), ShimDir: tools, ConfigVersion: 3},
	}
}

// CRIToolsDir returns $HARDENED_CRI_TOOLS, or runs hack/cri-tools.sh
// (a few minutes on first use, then cached) and returns the directory it
// printed.
func CRIToolsDir(ctx context.Context) (string, error) {
	if d := os.Getenv(EnvCRITools); d != "" {
		return d, nil
	}
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, filepath.Join(root, "hack", "cri-tools.sh"))
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("hack/cri-tools.sh: %w\n%s", err, stderr.String())
	}
	return strings.TrimSpace(string(out)), nil
}

// BuildPause builds the pause program (tests/cri/pause) statically into
// dir (or copies it from $HARDENED_TEST_PROGRAMS) and returns its path.
func BuildPause(ctx context.Context, dir string) (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "pause")
	if path, err := Prebuilt("pause"); path != "" || err != nil {
		if err != nil {
			return "", err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return "", err
		}
		return out, os.WriteFile(out, data, 0o755)
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w", "-o", out, ModulePath+"/tests/cri/pause")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build tests/cri/pause: %w\n%s", err, b)
	}
	return out, nil
}

// CRIOptions says what a private CRI containerd runs.
type CRIOptions struct {
	Containerd CRIContainerd
	// Crictl is the crictl binary.
	Crictl string
	// Handlers maps each RuntimeClass handler name to the runtime binary
	// registered for it (runc-v2 shim, options.BinaryName).
	Handlers map[string]string
	// Policy, if set, is the runtime's policy file, passed as
	// HARDENED_POLICY in containerd's environment, which the shims and
	// the runtime inherit.
	Policy string
	// Pause is the static pause binary of the sandbox image.
	Pause string
}

// CRI is a private containerd with the CRI plugin on: its own root,
// state, socket, runtime roots, CNI configuration and host-local IPAM
// directory, pods on a bridge of its own (no iptables rules, no masquerade)
// and cgroups under a parent of its own. Stop (at the test's cleanup)
// removes every pod and fails the test on whatever is left behind.
type CRI struct {
	Opts    CRIOptions
	Dir     string // everything of this daemon lives below
	Address string // its gRPC socket, CRI and ctr
	Log     string
	Bridge  *Bridge
	// CgroupParent is every pod's cgroup parent (cgroupfs driver).
	CgroupParent string
	network      string // the CNI network name
	d            *daemon
	tb           testing.TB

	mu   sync.Mutex
	pods map[string]bool // pod sandbox IDs run through RunPod, not yet removed
	ids  []string        // every sandbox and container ID seen
}

// StartCRI starts a private CRI containerd for the test, imports the
// pause and busybox images, and stops it (Stop) at the test's cleanup.
func StartCRI(tb testing.TB, opts CRIOptions) *CRI {
	tb.Helper()
	RequireRoot(tb)
	for _, bin := range []string{opts.Containerd.Containerd, opts.Containerd.Ctr, opts.Crictl, filepath.Join(debianCNIBinDir, "bridge")} {
		if _, err := os.Stat(bin); err != nil {
			tb.Fatalf("CRI suite: %v (make cri builds containerd 2.x and crictl; apt-get install containerd containernetworking-plugins)", err)
		}
	}
	dir, err := os.MkdirTemp("", "hardened-cri-")
	if err != nil {
		tb.Fatal(err)
	}
	// Traversable: a pod with a user namespace of its own reaches its
	// rootfs, under the state directory, as an unprivileged host ID.
	if err := os.Chmod(dir, 0o711); err != nil {
		tb.Fatal(err)
	}
	suffix := randomHex(4)
	c := &CRI{
		Opts:         opts,
		Dir:          dir,
		Address:      filepath.Join(dir, "containerd.sock"),
		Log:          filepath.Join(dir, "containerd.log"),
		CgroupParent: "/hardened-cri-" + suffix,
		network:      "hardened-cri-" + suffix,
		tb:           tb,
		pods:         map[string]bool{},
	}
	tb.Cleanup(c.Stop)
	if c.Bridge, err = NewBridge(); err != nil {
		tb.Fatalf("CRI bridge: %v", err)
	}
	if err := c.writeConfigs(); err != nil {
		tb.Fatal(err)
	}
	env := []string{}
	if opts.Containerd.ShimDir != "" {
		env = append(env, "PATH="+opts.Containerd.ShimDir+":"+os.Getenv("PATH"))
	}
	if opts.Policy != "" {
		env = append(env, "HARDENED_POLICY="+opts.Policy)
	}
	c.d, err = startDaemon("containerd "+opts.Containerd.Name, c.Log, env,
		opts.Containerd.Containerd, "--config", filepath.Join(dir, "config.toml"))
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err = c.d.waitReady(ctx, func(ctx context.Context) error {
		if _, errOut, exit := c.Crictl(ctx, "info"); exit != 0 {
			return fmt.Errorf("crictl info: %s", strings.TrimSpace(errOut))
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	pause, err := os.ReadFile(opts.Pause)
	if err != nil {
		tb.Fatal(err)
	}
	var archive bytes.Buffer
	if err := WritePauseOCIArchive(&archive, CRIPauseImage, pause); err != nil {
		tb.Fatal(err)
	}
	if err := c.importImage(ctx, &archive); err != nil {
		tb.Fatal(err)
	}
	archive.Reset()
	if err := WriteBusyboxOCIArchive(&archive, CRIBusyboxImage); err != nil {
		tb.Fatal(err)
	}
	if err := c.importImage(ctx, &archive); err != nil {
		tb.Fatal(err)
	}
	return c
}

// RuntimeRoot is the state root containerd's shim passes as --root to
// the handler's runtime (options.Root + "/k8s.io").
func (c *CRI) RuntimeRoot(handler string) string {
	return filepath.Join(c.Dir, "runtime", handler, criNamespace)
}

func (c *CRI) writeConfigs() error {
	cniConf := filepath.Join(c.Dir, "cni", "net.d")
	ipamDir := filepath.Join(c.Dir, "cni", "ipam")
	for _, d := range []string{cniConf, ipamDir, filepath.Join(c.Dir, "logs")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	// The bridge exists with the gateway address (NewBridge): the plugin
	// only attaches veths, so it neither assigns addresses on the host
	// nor turns on forwarding (isGateway false), and adds no rules.
	prefix := strings.TrimSuffix(c.Bridge.CIDR, ".1/24")
	conflist, err := json.MarshalIndent(map[string]any{
		"cniVersion": "1.0.0",
		"name":       c.network,
		"plugins": []any{map[string]any{
			"type":        "bridge",
			"bridge":      c.Bridge.Name,
			"isGateway":   false,
			"ipMasq":      false,
			"hairpinMode": false,
			"ipam": map[string]any{
				"type":    "host-local",
				"dataDir": ipamDir,
				"ranges":  [][]map[string]string{{{"subnet": prefix + ".0/24", "gateway": prefix + ".1", "rangeStart": prefix + ".2"}}},
				"routes":  []map[string]string{{"dst": "0.0.0.0/0"}},
			},
		}},
	}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(cniConf, "10-"+c.network+".conflist"), conflist, 0o644); err != nil {
		return err
	}

	handlers := make([]string, 0, len(c.Opts.Handlers))
	for h := range c.Opts.Handlers {
		handlers = append(handlers, h)
	}
	sort.Strings(handlers)
	if len(handlers) == 0 {
		return fmt.Errorf("CRI containerd: no runtime handler")
	}
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "version = %d\nroot = %q\nstate = %q\n", c.Opts.Containerd.ConfigVersion,
		filepath.Join(c.Dir, "root"), filepath.Join(c.Dir, "state"))
	// NRI (2.x) would listen on the host-wide /var/run/nri/nri.sock.
	if c.Opts.Containerd.ConfigVersion >= 3 {
		cfg.WriteString("disabled_plugins = [\"io.containerd.nri.v1.nri\"]\n")
	}
	fmt.Fprintf(&cfg, "\n[grpc]\n  address = %q\n\n[ttrpc]\n  address = %q\n\n[plugins.\"io.containerd.internal.v1.opt\"]\n  path = %q\n",
		c.Address, c.Address+".ttrpc", filepath.Join(c.Dir, "opt"))
	// The runtime part: the same keys in both versions, under different
	// tables (the snapshotter moved to the images plugin in 2.x). No
	// AppArmor profile loaded into the host's kernel, no SELinux.
	runtime := func(table, snapshotter string) {
		fmt.Fprintf(&cfg, "  restrict_oom_score_adj = true\n  netns_mounts_under_state_dir = true\n  disable_apparmor = true\n  enable_selinux = false\n")
		fmt.Fprintf(&cfg, "\n[%s.containerd]\n  default_runtime_name = %q\n%s", table, handlers[0], snapshotter)
		for _, h := range handlers {
			fmt.Fprintf(&cfg, "\n[%s.containerd.runtimes.%s]\n  runtime_type = \"io.containerd.runc.v2\"\n", table, h)
			fmt.Fprintf(&cfg, "\n[%s.containerd.runtimes.%s.options]\n  BinaryName = %q\n  Root = %q\n", table, h,
				c.Opts.Handlers[h], filepath.Dir(c.RuntimeRoot(h)))
		}
	}
	switch c.Opts.Containerd.ConfigVersion {
	case 2:
		const table = `plugins."io.containerd.grpc.v1.cri"`
		fmt.Fprintf(&cfg, "\n[%s]\n  sandbox_image = %q\n  stream_server_address = \"127.0.0.1\"\n  stream_server_port = \"0\"\n", table, CRIPauseImage)
		runtime(table, "  snapshotter = \"overlayfs\"\n")
		fmt.Fprintf(&cfg, "\n[%s.cni]\n  bin_dir = %q\n  conf_dir = %q\n  max_conf_num = 1\n", table, debianCNIBinDir, cniConf)
	case 3:
		fmt.Fprintf(&cfg, "\n[plugins.\"io.containerd.cri.v1.images\"]\n  snapshotter = \"overlayfs\"\n")
		fmt.Fprintf(&cfg, "\n[plugins.\"io.containerd.cri.v1.images\".pinned_images]\n  sandbox = %q\n", CRIPauseImage)
		fmt.Fprintf(&cfg, "\n[plugins.\"io.containerd.grpc.v1.cri\"]\n  stream_server_address = \"127.0.0.1\"\n  stream_server_port = \"0\"\n")
		const table = `plugins."io.containerd.cri.v1.runtime"`
		fmt.Fprintf(&cfg, "\n[%s]\n  cdi_spec_dirs = []\n", table)
		runtime(table, "")
		fmt.Fprintf(&cfg, "\n[%s.cni]\n  bin_dirs = [%q]\n  conf_dir = %q\n  max_conf_num = 1\n", table, debianCNIBinDir, cniConf)
	default:
		return fmt.Errorf("CRI containerd %s: config version %d", c.Opts.Containerd.Name, c.Opts.Containerd.ConfigVersion)
	}
	if err := os.WriteFile(filepath.Join(c.Dir, "config.toml"), []byte(cfg.String()), 0o644); err != nil {
		return err
	}
	crictlConf := fmt.Sprintf("runtime-endpoint: unix://%s\nimage-endpoint: unix://%s\ntimeout: 60\ndebug: false\npull-image-on-create: false\ndisable-pull-on-run: true\n", c.Address, c.Address)
	return os.WriteFile(filepath.Join(c.Dir, "crictl.yaml"), []byte(crictlConf), 0o644)
}

func (c *CRI) importImage(ctx context.Context, archive *bytes.Buffer) error {
	cmd := exec.CommandContext(ctx, c.Opts.Containerd.Ctr, "-a", c.Address, "-n", criNamespace, "images", "import", "-")
	cmd.Stdin = archive
	if _, errOut, exit := runCapture(ctx, cmd); exit != 0 {
		return fmt.Errorf("ctr -n k8s.io images import: exit %d: %s", exit, errOut)
	}
	return nil
}

// Crictl runs crictl against this containerd.
func (c *CRI) Crictl(ctx context.Context, args ...string) (stdout, stderr string, exit int) {
	cmd := exec.CommandContext(ctx, c.Opts.Crictl, append([]string{"--config", filepath.Join(c.Dir, "crictl.yaml")}, args...)...)
	return runCapture(ctx, cmd)
}

// crictl runs crictl with a two-minute bound and returns its trimmed
// stdout, or an error holding the command and its stderr.
func (c *CRI) crictl(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, errOut, exit := c.Crictl(ctx, args...)
	if exit != 0 {
		return out, fmt.Errorf("crictl %s: exit %d: %s", strings.Join(args, " "), exit, strings.TrimSpace(errOut))
	}
	return strings.TrimSpace(out), nil
}

// Stop removes every pod left, checks for leaks (failing the test on
// each), stops containerd, kills its shims if any remain, detaches the
// mounts under Dir, deletes the bridge and the pods' cgroups, and
// removes Dir. It runs at the test's cleanup, also after a failure.
func (c *CRI) Stop() {
	tb := c.tb
	if c.d != nil {
		select {
		case <-c.d.done:
			tb.Errorf("containerd %s exited during the test (%v); log:\n%s", c.Opts.Containerd.Name, c.d.err, tail(c.Log, 30))
		default:
			c.trackPods()
			c.mu.Lock()
			pods := make([]string, 0, len(c.pods))
			for id := range c.pods {
				pods = append(pods, id)
			}
			c.mu.Unlock()
			for _, id := range pods {
				c.StopPod(id)
				if _, err := c.crictl("rmp", "--force", id); err != nil {
					tb.Errorf("cleanup: %v", err)
					continue
				}
				c.mu.Lock()
				delete(c.pods, id)
				c.mu.Unlock()
			}
			c.mu.Lock()
			ids := append([]string(nil), c.ids...)
			c.mu.Unlock()
			for _, left := range c.leaks(ids) {
				tb.Errorf("cleanup: %s", left)
			}
		}
		if err := c.d.stop(30 * time.Second); err != nil {
			tb.Errorf("cleanup: %v", err)
		}
		for _, pid := range c.processesOf() {
			tb.Errorf("cleanup: process %d (%s) of containerd %s left after it stopped", pid, cmdline(pid), c.Opts.Containerd.Name)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	for _, pid := range c.cgroupPids() {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	if mounts, err := UnmountUnder(c.Dir); err != nil {
		tb.Errorf("cleanup: unmount under %s: %v (%v)", c.Dir, err, mounts)
	}
	c.removeCgroups()
	if dirs := c.cgroupDirs(); len(dirs) > 0 {
		for _, d := range dirs {
			if _, err := os.Stat(d); err == nil {
				tb.Errorf("cleanup: cgroup %s could not be removed", d)
			}
		}
	}
	if c.Bridge != nil {
		if err := c.Bridge.Remove(); err != nil {
			tb.Errorf("cleanup: %v", err)
		}
	}
	if err := os.RemoveAll(c.Dir); err != nil {
		tb.Errorf("cleanup: %v", err)
	}
}

// processesOf returns live processes whose command line names this
// daemon's directory (its shims name the socket).
func (c *CRI) processesOf() []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if strings.Contains(cmdline(pid), c.Dir) && alive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// cmdline returns a process's command line with spaces between the
// arguments.
func cmdline(pid int) string {
	data, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return strings.TrimSpace(strings.ReplaceAll(string(data), "\x00", " "))
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
