package bench

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

func TestMain(m *testing.M) { os.Exit(testutil.Main(m, nil)) }

// runtimeUnderTest is one way of running the cycle: a binary and the
// environment it gets (the hardening policy for ours).
type runtimeUnderTest struct {
	name string
	bin  string
	env  []string
	root string
}

// BenchmarkCycle times create, start, wait for exit and delete of a
// busybox `true` container, interleaving runc and hardened on the same
// bundle so that drift on the machine hits both alike. It reports the
// median of each in ms and each hardened variant's ratio to runc.
func BenchmarkCycle(b *testing.B) {
	testutil.RequireRoot(b)
	runc, err := exec.LookPath("runc")
	if err != nil {
		b.Skip("Debian's runc is not installed: apt-get install runc")
	}
	bin := testutil.Binary(b)
	bundle := testutil.NewBundle(b, "/bin/true")
	offPolicy := filepath.Join(b.TempDir(), "off.json")
	if err := os.WriteFile(offPolicy, []byte(`{"mode":"off"}`), 0o644); err != nil {
		b.Fatal(err)
	}
	// config.json is rewritten by hardened's default policy; runc and the
	// "off" variant must see the caller's config, so each gets a copy.
	runtimes := []runtimeUnderTest{
		{name: "runc", bin: runc},
		{name: "hardened-off", bin: bin, env: []string{"HARDENED_POLICY=" + offPolicy}},
		{name: "hardened-default", bin: bin},
	}
	bundles := make([]string, len(runtimes))
	for i := range runtimes {
		runtimes[i].root = b.TempDir()
		bundles[i] = copyBundle(b, bundle.Dir)
	}
	samples := make([][]time.Duration, len(runtimes))
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		for i, rt := range runtimes {
			d, err := cycle(rt, bundles[i], fmt.Sprintf("bench-%d-%d", i, n))
			if err != nil {
				b.Fatalf("%s: %v", rt.name, err)
			}
			samples[i] = append(samples[i], d)
		}
	}
	b.StopTimer()
	base := median(samples[0])
	for i, rt := range runtimes {
		m := median(samples[i])
		b.ReportMetric(float64(m.Microseconds())/1000, rt.name+"-ms")
		if i > 0 {
			b.ReportMetric(float64(m)/float64(base), rt.name+"/runc")
		}
	}
}

// cycle runs one create-start-wait-delete and returns how long it took.
func cycle(rt runtimeUnderTest, bundle, id string) (time.Duration, error) {
	pidFile := filepath.Join(rt.root, id+".pid")
	start := time.Now()
	if err := run(rt, "create", "--bundle", bundle, "--pid-file", pidFile, id); err != nil {
		return 0, err
	}
	raw, err := os.ReadFile(pidFile)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		return 0, err
	}
	// A pidfd lets us wait for a process that is not our child.
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return 0, fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	defer unix.Close(pidfd)
	if err := run(rt, "start", id); err != nil {
		return 0, err
	}
	fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
	for {
		if _, err := unix.Poll(fds, 10_000); err != unix.EINTR {
			break
		}
	}
	if err := run(rt, "delete", id); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// run runs one runtime command. Its output goes to a file, not a pipe: a
// created container's init inherits the runtime's stdio and would hold a
// pipe open until the container exits.
func run(rt runtimeUnderTest, args ...string) error {
	out, err := os.CreateTemp(rt.root, "out-")
	if err != nil {
		return err
	}
	defer os.Remove(out.Name())
	defer out.Close()
	cmd := exec.Command(rt.bin, append([]string{"--root", rt.root}, args...)...)
	cmd.Env = append(os.Environ(), rt.env...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		msg, _ := os.ReadFile(out.Name())
		return fmt.Errorf("%s %s: %w: %s", rt.name, strings.Join(args, " "), err, msg)
	}
	return nil
}

// copyBundle makes a bundle that shares the rootfs but has its own
// config.json, so that one runtime's rewrite does not reach another.
func copyBundle(tb testing.TB, src string) string {
	tb.Helper()
	dst := tb.TempDir()
	if err := os.Chmod(dst, 0o755); err != nil {
		tb.Fatal(err)
	}
	cfg, err := os.ReadFile(filepath.Join(src, "config.json"))
	if err != nil {
		tb.Fatal(err)
	}
	abs := strings.Replace(string(cfg), `"path": "rootfs"`, `"path": "`+filepath.Join(src, "rootfs")+`"`, 1)
	if abs == string(cfg) {
		tb.Fatal("bundle config has no relative rootfs path to rewrite")
	}
	if err := os.WriteFile(filepath.Join(dst, "config.json"), []byte(abs), 0o644); err != nil {
		tb.Fatal(err)
	}
	return dst
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
