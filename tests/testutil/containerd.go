package testutil

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// CtrNamespace is the containerd namespace the tests use. containerd
// makes a parent cgroup of that name for its containers (cgroupfs) in
// every hierarchy and never removes it: a test that starts a containerd
// of its own calls RemoveCgroupLeftovers(tb, CtrNamespace).
const CtrNamespace = "hardened-test"

// Containerd is a private containerd (Debian's) with its own root, state
// and socket, and the CRI plugin off.
type Containerd struct {
	Dir     string // everything of this daemon lives below
	Address string // gRPC socket, for ctr -a
	Log     string
	d       *daemon
	cgroups cgroupLeftovers
}

// NewContainerd starts a private containerd and waits until it answers.
func NewContainerd(ctx context.Context) (*Containerd, error) {
	if _, err := exec.LookPath("containerd"); err != nil {
		return nil, fmt.Errorf("containerd: %w (apt-get install containerd)", err)
	}
	dir, err := os.MkdirTemp("", "hardened-containerd-")
	if err != nil {
		return nil, err
	}
	c := &Containerd{Dir: dir, Address: filepath.Join(dir, "containerd.sock"), Log: filepath.Join(dir, "containerd.log"),
		cgroups: noteCgroupLeftovers(CtrNamespace)}
	config := fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = %q

[ttrpc]
  address = %q

[plugins."io.containerd.internal.v1.opt"]
  path = %q
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), c.Address, c.Address+".ttrpc", filepath.Join(dir, "opt"))
	cfgPath := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o644); err != nil {
		return nil, err
	}
	c.d, err = startDaemon("containerd", c.Log, nil, "containerd", "--config", cfgPath)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	err = c.d.waitReady(ctx, func(ctx context.Context) error {
		_, errOut, exit := c.Run(ctx, "version")
		if exit != 0 {
			return fmt.Errorf("ctr version: %s", strings.TrimSpace(errOut))
		}
		return nil
	})
	if err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// StartContainerd is NewContainerd for one test, stopped at its cleanup.
func StartContainerd(tb testing.TB) *Containerd {
	tb.Helper()
	return startForTest(tb, 60*time.Second, NewContainerd)
}

// Command returns a ctr command for this daemon in CtrNamespace.
func (c *Containerd) Command(ctx context.Context, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ctr", append([]string{"-a", c.Address, "-n", CtrNamespace}, args...)...)
}

// Run runs ctr and returns its output and exit code.
func (c *Containerd) Run(ctx context.Context, args ...string) (stdout, stderr string, exit int) {
	return runCapture(ctx, c.Command(ctx, args...))
}

// RuncRoot is the state root to pass to ctr run --runc-root, private to
// this daemon.
func (c *Containerd) RuncRoot() string { return filepath.Join(c.Dir, "runc") }

// ImportBusybox imports the busybox OCI archive as
// docker.io/<BusyboxImage> unless present, and returns that name.
func (c *Containerd) ImportBusybox(ctx context.Context) (string, error) {
	name := "docker.io/" + BusyboxImage
	if out, _, exit := c.Run(ctx, "images", "ls", "-q"); exit == 0 && strings.Contains(out, name) {
		return name, nil
	}
	var archive bytes.Buffer
	if err := WriteBusyboxOCIArchive(&archive, name); err != nil {
		return "", err
	}
	cmd := c.Command(ctx, "images", "import", "-")
	cmd.Stdin = &archive
	if _, errOut, exit := runCapture(ctx, cmd); exit != 0 {
		return "", fmt.Errorf("ctr images import: exit %d: %s", exit, errOut)
	}
	if out, _, _ := c.Run(ctx, "images", "ls", "-q"); !strings.Contains(out, name) {
		return "", fmt.Errorf("ctr images import: %s not listed after import: %q", name, out)
	}
	return name, nil
}

// CtrImportBusybox is ImportBusybox for a test.
func CtrImportBusybox(tb testing.TB, c *Containerd) string { return importBusyboxForTest(tb, c) }

// Close kills and deletes every task and container, stops containerd,
// detaches mounts left under Dir and removes Dir.
func (c *Containerd) Close() error {
	var errs []string
	if c.d != nil {
		select {
		case <-c.d.done:
		default:
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			out, _, _ := c.Run(ctx, "containers", "ls", "-q")
			for _, id := range strings.Fields(out) {
				c.Run(ctx, "tasks", "kill", "-s", "KILL", id)
				c.Run(ctx, "tasks", "delete", "-f", id)
				if _, errOut, exit := c.Run(ctx, "containers", "rm", id); exit != 0 {
					errs = append(errs, fmt.Sprintf("ctr containers rm %s: %s", id, strings.TrimSpace(errOut)))
				}
			}
			cancel()
		}
		if err := c.d.stop(30 * time.Second); err != nil {
			errs = append(errs, err.Error())
		}
	}
	errs = append(errs, releaseDaemonDir("containerd stopped", c.Dir, c.cgroups)...)
	if len(errs) > 0 {
		return fmt.Errorf("containerd cleanup: %s", strings.Join(errs, "; "))
	}
	return nil
}
