package create

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/opencontainers/runc/libcontainer/specconv"
	"github.com/sirupsen/logrus"

	"github.com/hardened-runtime/hardened/hardening"
	"github.com/hardened-runtime/hardened/spec"
)

// newBenchBundle writes runc's example config (as `runc spec` makes it)
// and a rootfs with the usual state directories under dir.
func newBenchBundle(tb testing.TB, dir string) []byte {
	tb.Helper()
	for _, d := range []string{"tmp", "var/tmp", "var/log", "var/lib", "var/cache", "run", "home", "usr"} {
		if err := os.MkdirAll(filepath.Join(dir, "rootfs", d), 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	raw, err := json.Marshal(specconv.Example())
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, spec.ConfigName), raw, 0o644); err != nil {
		tb.Fatal(err)
	}
	return raw
}

// BenchmarkHardenBundle measures what hardening adds to a container start:
// load the policy file, load the bundle, run every rule, and write
// config.json (with config.json.orig kept). Bundles of Docker and
// containerd live on /run, a tmpfs in production; on disk the two fsyncs
// dominate.
func BenchmarkHardenBundle(b *testing.B) {
	logrus.SetOutput(io.Discard)
	dirs := map[string]string{"disk": b.TempDir()}
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		shm, err := os.MkdirTemp("/dev/shm", "hardened-bench-")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(shm) })
		dirs["tmpfs"] = shm
	}
	for name, dir := range dirs {
		b.Run(name, func(b *testing.B) {
			raw := newBenchBundle(b, dir)
			policyPath := filepath.Join(dir, "policy.json")
			// No runtime root stages nothing: the user namespace (which
			// needs a staged ID range) is off, and a bundle on /dev/shm is
			// allowed its rootfs there.
			pol := fmt.Sprintf(`{"level":"baseline","pidsLimit":4096,"userNamespace":{"enabled":false},"allowRootfs":[%q]}`, filepath.Join(dir, "rootfs"))
			if err := os.WriteFile(policyPath, []byte(pol), 0o644); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				if err := os.WriteFile(filepath.Join(dir, spec.ConfigName), raw, 0o644); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				pol, err := hardening.LoadPolicy(policyPath)
				if err != nil {
					b.Fatal(err)
				}
				bundle, err := spec.LoadBundle(dir)
				if err != nil {
					b.Fatal(err)
				}
				c := &creation{opts: Options{ID: "bench", PolicyPath: policyPath}, pol: pol, bundle: bundle}
				if err := c.harden(); err != nil {
					b.Fatal(err)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, spec.OriginalConfigName)); err != nil {
				b.Fatalf("no config.json.orig: the bundle was not rewritten: %v", err)
			}
		})
	}
}
