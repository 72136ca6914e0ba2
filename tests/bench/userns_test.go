package bench

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// addFiles puts n empty files into rootfs/data, 1,000 per directory.
func addFiles(tb testing.TB, rootfs string, n int) {
	tb.Helper()
	for i := 0; i < n; i++ {
		dir := filepath.Join(rootfs, "data", strconv.Itoa(i/1000))
		if i%1000 == 0 {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				tb.Fatal(err)
			}
		}
		f, err := os.Create(filepath.Join(dir, strconv.Itoa(i)))
		if err != nil {
			tb.Fatal(err)
		}
		f.Close()
	}
}

// BenchmarkUsernsCreate times `create` (hardening, ID range allocation,
// idmapped rootfs mount, libcontainer create up to the init waiting to
// start) with user namespaces on, for a rootfs of about 1,000 files and
// one of about 100,000, interleaved. Beside it, the cost the idmapped
// mount avoids: `chown -R` of the same rootfs to a mapped range. Each
// create is followed by an untimed delete.
func BenchmarkUsernsCreate(b *testing.B) {
	testutil.RequireRoot(b)
	bin := testutil.Binary(b)
	pol := filepath.Join(b.TempDir(), "policy.json")
	if err := os.WriteFile(pol, []byte(`{"userNamespace": {"enabled": true}}`), 0o644); err != nil {
		b.Fatal(err)
	}
	sizes := []struct {
		name  string
		files int
	}{{"1k", 1000}, {"100k", 100000}}
	bundles := make([]*testutil.Bundle, len(sizes))
	for i, sz := range sizes {
		bundles[i] = testutil.NewBundle(b, "/bin/true")
		addFiles(b, bundles[i].Rootfs, sz.files-countFiles(b, bundles[i].Rootfs))
	}
	rt := runtimeUnderTest{name: "hardened-userns", bin: bin, env: []string{"HARDENED_POLICY=" + pol}, root: b.TempDir()}
	create := make([][]time.Duration, len(sizes))
	chown := make([][]time.Duration, len(sizes))
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		for i, sz := range sizes {
			id := fmt.Sprintf("userns-%s-%d", sz.name, n)
			start := time.Now()
			if err := run(rt, "create", "--bundle", bundles[i].Dir, id); err != nil {
				b.Fatal(err)
			}
			create[i] = append(create[i], time.Since(start))
			if err := run(rt, "delete", "--force", id); err != nil {
				b.Fatal(err)
			}
			// chown -R to a mapped range and back, timing the first.
			start = time.Now()
			if out, err := exec.Command("chown", "-R", "1879048192:1879048192", bundles[i].Rootfs).CombinedOutput(); err != nil {
				b.Fatalf("chown: %v: %s", err, out)
			}
			chown[i] = append(chown[i], time.Since(start))
			if out, err := exec.Command("chown", "-R", "0:0", bundles[i].Rootfs).CombinedOutput(); err != nil {
				b.Fatalf("chown back: %v: %s", err, out)
			}
		}
	}
	b.StopTimer()
	for i, sz := range sizes {
		b.ReportMetric(float64(median(create[i]).Microseconds())/1000, "create-"+sz.name+"-ms")
		b.ReportMetric(float64(median(chown[i]).Microseconds())/1000, "chown-R-"+sz.name+"-ms")
	}
	b.ReportMetric(float64(median(create[1]))/float64(median(create[0])), "create-100k/1k")
}

func countFiles(tb testing.TB, dir string) int {
	tb.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(string, os.DirEntry, error) error { n++; return nil })
	if err != nil {
		tb.Fatal(err)
	}
	return n
}
