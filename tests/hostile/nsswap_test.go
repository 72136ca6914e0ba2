package hostile

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// A namespace file swapped between the check and the join: the spec joins
// a bind-mounted namespace file P that holds a related container's
// network namespace (allowed), while the attacker keeps mounting the
// host's network namespace over P and taking it off again. Whatever P
// was when the rules looked, the container must end up in the namespace
// they judged: never the host's. The runtime opens each namespace path
// once and has the init join that descriptor.
func TestJoinSwappedNamespaceFile(t *testing.T) {
	rt := testutil.NewRuntime(t)
	_, pid := joinsTarget(t, rt, nil, "")
	related, err := os.Readlink(nsPath(pid, specs.NetworkNamespace))
	if err != nil {
		t.Fatal(err)
	}
	host, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	p := nsSwapLoop(t, nsPath(pid, specs.NetworkNamespace), "/proc/self/ns/net")
	joined, refused := 0, 0
	for i := range 30 {
		b := testutil.NewBundle(t)
		b.Edit(t, func(s *specs.Spec) {
			joinsNoSysfs(s)
			joinsNS(s, specs.NetworkNamespace, p)
		})
		out, exit := runInside(t, rt, b, "readlink /proc/self/ns/net")
		got := strings.TrimSpace(out)
		switch {
		case exit != 0:
			refused++
		case got == host:
			t.Fatalf("run %d: the container is in the host's network namespace %s (checked: the related container's %s or refused)", i, host, related)
		case got != related:
			t.Fatalf("run %d: the container is in %s, neither the related container's %s nor refused", i, got, related)
		default:
			joined++
		}
	}
	t.Logf("30 runs: %d joined the related namespace, %d refused (the host's was checked)", joined, refused)
	if joined == 0 {
		t.Errorf("no run joined the related namespace: the swap loop leaves no window to test")
	}
}

// nsSwapLoop makes a file bind-mounted on the namespace file base and,
// until the end of the test, keeps mounting the namespace file other
// over it and taking it off again (200 µs each way); it returns the
// file's path. Everything is unmounted at the end.
func nsSwapLoop(t *testing.T, base, other string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "netns")
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(base, p, "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if unix.Mount(other, p, "", unix.MS_BIND, "") == nil {
				time.Sleep(200 * time.Microsecond)
				_ = unix.Unmount(p, unix.MNT_DETACH)
			}
			time.Sleep(200 * time.Microsecond)
		}
	}()
	t.Cleanup(func() {
		close(stop)
		wg.Wait()
		for unix.Unmount(p, unix.MNT_DETACH) == nil {
		}
	})
	return p
}
