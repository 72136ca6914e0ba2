package hostile

import (
	"context"
	"path/filepath"
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
