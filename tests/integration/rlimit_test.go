package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// TestAddressSpaceLimitWithSeccomp runs containers with a 1 GiB RLIMIT_AS
// under the default policy (so with a seccomp filter), through run and
// through create+start. The limit must hold for the user's process, and
// the init must not fail building its filter under it.
func TestAddressSpaceLimitWithSeccomp(t *testing.T) {
	const gib = 1 << 30
	for _, mode := range []string{"run", "create+start"} {
		t.Run(mode, func(t *testing.T) {
			rt := testutil.NewRuntime(t)
			// /tmp is a writable state path: what the container writes there
			// lands in the bundle's rootfs on the host.
			b := testutil.NewBundle(t, "sh", "-c", "{ grep 'Max address space' /proc/self/limits; grep Seccomp: /proc/self/status; } >/tmp/out")
			b.Edit(t, func(s *specs.Spec) {
				s.Process.Rlimits = append(s.Process.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_AS", Soft: gib, Hard: gib})
			})
			id := rt.NewID()
			if mode == "run" {
				rt.MustRun("run", "--bundle", b.Dir, id)
			} else {
				rt.MustRun("create", "--bundle", b.Dir, id)
				rt.MustRun("start", id)
				rt.WaitStatus(id, "stopped", 10*time.Second)
				rt.MustRun("delete", id)
			}
			raw, err := os.ReadFile(filepath.Join(b.Rootfs, "tmp", "out"))
			if err != nil {
				t.Fatalf("the container wrote no output: %v", err)
			}
			out := string(raw)
			fields := strings.Fields(out)
			if len(fields) < 6 || fields[3] != "1073741824" || fields[4] != "1073741824" {
				t.Errorf("limits inside: %q, want RLIMIT_AS 1073741824 soft and hard", out)
			}
			if !strings.Contains(out, "Seccomp:\t2") {
				t.Errorf("no seccomp filter inside: %q", out)
			}
		})
	}
}
