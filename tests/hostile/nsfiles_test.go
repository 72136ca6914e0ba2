package hostile

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// A namespace path of config.json that is not a namespace file is never
// opened for reading: a FIFO would hang the create (no writer ever
// comes), and opening some devices acts (a watchdog arms, a tape
// rewinds). The runtime looks at what the path is without opening it.
func TestNamespacePathFIFO(t *testing.T) {
	rt := testutil.NewRuntime(t)
	fifo := filepath.Join(t.TempDir(), "netns")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	b := testutil.NewBundle(t, "true")
	b.Edit(t, func(s *specs.Spec) { joinsNS(s, specs.NetworkNamespace, fifo) })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := rt.Command(ctx, "run", "--bundle", b.Dir, rt.NewID())
	out, err := testutil.RunToFile(t, cmd)
	if ctx.Err() != nil {
		t.Fatalf("create hung on a FIFO named as a namespace path (killed after 20 s): %s", out)
	}
	if err == nil {
		t.Fatalf("a FIFO joined as a network namespace: %s", out)
	}
}

// A pod's network namespace file swapped, between the check and the
// host-side sysctl writes, for another pod's (also owned by the host's
// user namespace, so the re-check at the write passes; named directly it
// is refused, for the process in it): the sysctls config.json asks for
// must land in the namespace the rules judged and the container joins,
// never in the other pod's. The host side writes through the descriptor
// opened for the check.
func TestPodNetnsSwappedForAnotherPod(t *testing.T) {
	rt := testutil.NewRuntime(t) // its leftover check runs after the cleanup below
	pod, _ := podnetNetns(t)
	victim, victimName := podnetNetns(t)
	other := exec.Command("ip", "netns", "exec", victimName, "sleep", "1000")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Process.Kill(); _ = other.Wait() })
	read := func() string {
		out, err := exec.Command("ip", "netns", "exec", victimName, "cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start").CombinedOutput()
		if err != nil {
			t.Fatalf("read the other pod's sysctl: %v %s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	before := read()
	want := "1000"
	if before == want {
		want = "1001"
	}
	p := nsSwapLoop(t, pod, victim)
	for i := range 30 {
		b := testutil.NewBundle(t)
		b.Edit(t, func(s *specs.Spec) {
			joinsNoSysfs(s)
			podnetJoin(s, p, map[string]string{"net.ipv4.ip_unprivileged_port_start": want})
		})
		runInside(t, rt, b, "true")
		if got := read(); got != before {
			t.Fatalf("run %d: the other pod's net.ipv4.ip_unprivileged_port_start changed from %s to %s", i, before, got)
		}
	}
}
