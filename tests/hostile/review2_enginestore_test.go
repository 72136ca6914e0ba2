package hostile

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// TestHostileRootfsInEngineStore: root.path names a layer in Docker's
// store (/var/lib/docker/overlay2/<layer>/diff: an image's or another
// container's files), a plain directory, not the engine's overlay mount.
// The idmapped rootfs would make container root host root on that layer
// (read its secrets, write its state directories): refused by name. The
// store is a tmpfs on /var/lib in a mount namespace of the test's own,
// so the host's /var/lib is not touched.
func TestHostileRootfsInEngineStore(t *testing.T) {
	rt := testutil.NewRuntime(t)
	b := testutil.NewBundle(t, "cat", "/layer-secret")
	layer := "/var/lib/docker/overlay2/review2layer/diff"
	b.Spec.Root.Path = layer
	b.Write(t)
	script := strings.Join([]string{
		"set -e",
		"mount -t tmpfs -o mode=0755 review2 /var/lib",
		"mkdir -p " + filepath.Dir(layer),
		"cp -a " + b.Rootfs + " " + layer,
		"echo another-container > " + layer + "/layer-secret",
		"chmod 0600 " + layer + "/layer-secret",
		`exec "$@"`,
	}, "\n")
	args := append([]string{"-m", "--propagation", "private", "sh", "-c", script, "sh", rt.Bin}, rt.Global()...)
	args = append(args, "run", "--bundle", b.Dir, rt.NewID())
	cmd := exec.CommandContext(context.Background(), "unshare", args...)
	cmd.Env = append(os.Environ(), "HARDENED_AUDIT_LOG="+rt.Audit)
	out, err := cmd.CombinedOutput()
	if strings.Contains(string(out), "another-container") {
		t.Fatalf("the container read the layer's secret: %s", out)
	}
	if err == nil {
		t.Fatalf("a rootfs in the engine's layer store ran: %s", out)
	}
	for _, want := range []string{"lies in the engine store /var/lib/docker/overlay2", "rule host-rootfs", `"allowRootfs": ["` + layer + `"]`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("refusal %q does not hold %q", out, want)
		}
	}
}

// TestHostileRootfsInEngineStoreMergedRuns: the engine's own overlay mount
// in its store (<layer>/merged, as Docker mounts it, its layer store
// giving that layer to this container ID) is a rootfs as before: the
// container runs and reads its files.
func TestHostileRootfsInEngineStoreMergedRuns(t *testing.T) {
	rt := testutil.NewRuntime(t)
	b := testutil.NewBundle(t, "cat", "/layer-file")
	id := rt.NewID()
	dir := "/var/lib/docker/overlay2/review2layer"
	record := "/var/lib/docker/image/overlay2/layerdb/mounts/" + id
	b.Spec.Root.Path = dir + "/merged"
	b.Write(t)
	script := strings.Join([]string{
		"set -e",
		"mount -t tmpfs -o mode=0755 review2 /var/lib",
		"mkdir -p " + dir + "/diff " + dir + "/work " + dir + "/merged",
		"cp -a " + b.Rootfs + " " + dir + "/lower",
		"echo engine-layer > " + dir + "/diff/layer-file",
		"mkdir -p " + record,
		"echo review2layer > " + record + "/mount-id",
		"mount -t overlay overlay -o lowerdir=" + dir + "/lower,upperdir=" + dir + "/diff,workdir=" + dir + "/work " + dir + "/merged",
		`exec "$@"`,
	}, "\n")
	args := append([]string{"-m", "--propagation", "private", "sh", "-c", script, "sh", rt.Bin}, rt.Global()...)
	args = append(args, "run", "--bundle", b.Dir, id)
	cmd := exec.CommandContext(context.Background(), "unshare", args...)
	cmd.Env = append(os.Environ(), "HARDENED_AUDIT_LOG="+rt.Audit)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "engine-layer") {
		t.Errorf("the engine's merged overlay as rootfs: %v: %s", err, out)
	}
}
