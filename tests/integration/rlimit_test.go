package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// TestAddressSpaceLimitWithSeccomp runs containers with an RLIMIT_AS under
// the default policy (so with a seccomp filter), through run and through
// create+start: 1 GiB, under what a Go init reserves (set after the exec),
// and 8 GiB (set before it). The limit must hold for the user's process,
// and the init must neither fail building its filter nor run out of
// address space before it execs.
func TestAddressSpaceLimitWithSeccomp(t *testing.T) {
	for _, tc := range []struct {
		mode  string
		limit uint64
	}{{"run", 1 << 30}, {"create+start", 1 << 30}, {"run", 8 << 30}, {"create+start", 8 << 30}} {
		mode, limit := tc.mode, tc.limit
		t.Run(fmt.Sprintf("%s/%d", mode, limit), func(t *testing.T) {
			rt := testutil.NewRuntime(t)
			// /tmp is a writable state path: what the container writes there
			// lands in the bundle's rootfs on the host.
			// A limit under the init's own size is tightened at the
			// init's execve, before the program runs (internal/create/rlimit.go):
			// read at once, it must already be the one asked for.
			b := testutil.NewBundle(t, "sh", "-c", "{ grep 'Max address space' /proc/self/limits; grep Seccomp: /proc/self/status; } >/tmp/out")
			b.Edit(t, func(s *specs.Spec) {
				s.Process.Rlimits = append(s.Process.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_AS", Soft: limit, Hard: limit})
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
			want := strconv.FormatUint(limit, 10)
			fields := strings.Fields(out)
			if len(fields) < 6 || fields[3] != want || fields[4] != want {
				t.Errorf("limits inside: %q, want RLIMIT_AS %s soft and hard", out, want)
			}
			if !strings.Contains(out, "Seccomp:\t2") {
				t.Errorf("no seccomp filter inside: %q", out)
			}
		})
	}
}
