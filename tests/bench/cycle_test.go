package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

func TestMain(m *testing.M) { os.Exit(testutil.Main(m, nil)) }

// runtimeUnderTest is one way of running the cycle: a binary, the
// environment it gets (the hardening policy for ours) and what it does to
// the caller's config.json (Docker's seccomp profile for runc-docker).
type runtimeUnderTest struct {
	name string
	bin  string
	env  []string
	root string
	// edit changes the caller's config.json for this variant.
	edit func(*specs.Spec) error
}

// sample is one create-start-wait-delete.
type sample struct {
	cycle, create time.Duration
	// maxRSS is the peak resident set of the create command (and the
	// runtime processes it waits for), in KiB, as GNU time reports it.
	maxRSS int64
}

// BenchmarkCycle times create, start, wait for exit and delete of a
// busybox `true` container: runc without seccomp ("runc") and with
// Docker's default seccomp profile in config.json ("runc-docker"), hardened
// with mode off and with the default policy; on a busybox rootfs and on one
// with 100,000 more files. The variants run interleaved on the same rootfs
// so that drift on the machine hits all alike. It reports the median cycle
// and create times in ms, each variant's ratio to runc, and the median
// peak memory of create. HARDENED_BENCH_RUNC names the runc binary
// (hack/bench.sh builds the one hardened embeds); without it, the runc in
// PATH. HARDENED_BENCH_BASE names an earlier build of hardened, run as
// two more variants ("base-off", "base-default") in the same rounds: a
// regression is a ratio between builds of one run, not between the
// tables of two hours of this machine (tests/bench/README.md).
func BenchmarkCycle(b *testing.B) {
	testutil.RequireRoot(b)
	runc := os.Getenv("HARDENED_BENCH_RUNC")
	if runc == "" {
		var err error
		if runc, err = exec.LookPath("runc"); err != nil {
			b.Skip("no runc: set HARDENED_BENCH_RUNC or apt-get install runc")
		}
	}
	if _, err := os.Stat("/usr/bin/time"); err != nil {
		b.Skip("GNU time measures peak memory: apt-get install time")
	}
	bin := testutil.Binary(b)
	offPolicy := filepath.Join(b.TempDir(), "off.json")
	if err := os.WriteFile(offPolicy, []byte(`{"mode":"off"}`), 0o644); err != nil {
		b.Fatal(err)
	}
	defaultPolicy := filepath.Join(b.TempDir(), "default.json")
	if err := os.WriteFile(defaultPolicy, []byte(`{}`), 0o644); err != nil {
		b.Fatal(err)
	}
	variants := []runtimeUnderTest{
		{name: "runc", bin: runc},
		{name: "runc-docker", bin: runc, edit: withDockerProfile},
		{name: "hardened-off", bin: bin, env: []string{"HARDENED_POLICY=" + offPolicy}},
		{name: "hardened-default", bin: bin, env: []string{"HARDENED_POLICY=" + defaultPolicy}},
	}
	if base := os.Getenv("HARDENED_BENCH_BASE"); base != "" {
		if base == bin {
			b.Fatal("HARDENED_BENCH_BASE names the binary under test")
		}
		variants = append(variants,
			runtimeUnderTest{name: "base-off", bin: base, env: []string{"HARDENED_POLICY=" + offPolicy}},
			runtimeUnderTest{name: "base-default", bin: base, env: []string{"HARDENED_POLICY=" + defaultPolicy}})
	}
	for _, size := range []struct {
		name  string
		files int
	}{{"busybox", 0}, {"100k-files", 100000}} {
		b.Run(size.name, func(b *testing.B) {
			bundle := testutil.NewBundle(b, "/bin/true")
			if size.files > 0 {
				addFiles(b, bundle.Rootfs, size.files)
			}
			runCycles(b, variants, bundle.Dir)
		})
	}
}

// memoryRuns is how many traced creates per variant give the memory split.
const memoryRuns = 5

// runCycles runs b.N rounds of every variant, each round in one order, and
// reports the figures.
func runCycles(b *testing.B, variants []runtimeUnderTest, bundleDir string) {
	// hardened's default policy rewrites config.json; every variant gets
	// its own copy of the caller's config over the shared rootfs.
	bundles := make([]string, len(variants))
	for i := range variants {
		variants[i].root = tempRoot(b)
		bundles[i] = copyBundle(b, bundleDir, variants[i].edit)
	}
	if os.Getenv("HARDENED_BENCH_KEEP_PAGECACHE") == "" {
		evictBinaries(b, variants)
	}
	samples := make([][]sample, len(variants))
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		for i, rt := range variants {
			s, err := cycle(rt, bundles[i], fmt.Sprintf("bench-%d-%d", i, n))
			if err != nil {
				b.Fatalf("%s: %v", rt.name, err)
			}
			samples[i] = append(samples[i], s)
		}
	}
	b.StopTimer()
	// Memory at exit, after the timed rounds: tracing slows a command.
	atExit := make([]memoryAtExit, len(variants))
	for i, rt := range variants {
		m, err := measureCreates(rt, bundles[i], fmt.Sprintf("mem-%d", i), memoryRuns)
		if err != nil {
			b.Fatalf("%s: %v", rt.name, err)
		}
		atExit[i] = m
	}
	var table strings.Builder
	fmt.Fprintf(&table, "%d interleaved runs each; medians (memory at exit: %d creates, traced)\n%-18s %9s %7s %10s %7s %12s %12s %12s\n",
		b.N, memoryRuns, "variant", "cycle ms", "/runc", "create ms", "/runc", "create maxRSS", "at exit anon", "file")
	base, baseCreate := medianOf(samples[0], cycleOf), medianOf(samples[0], createOf)
	for i, rt := range variants {
		c, cr := medianOf(samples[i], cycleOf), medianOf(samples[i], createOf)
		rss := medianRSS(samples[i])
		fmt.Fprintf(&table, "%-18s %9.1f %7.2f %10.1f %7.2f %9d KiB %8d KiB %8d KiB\n", rt.name, ms(c), float64(c)/float64(base), ms(cr), float64(cr)/float64(baseCreate), rss, atExit[i].anon, atExit[i].file)
		b.ReportMetric(ms(c), rt.name+"-ms")
		b.ReportMetric(float64(rss), rt.name+"-maxrss-KiB")
		b.ReportMetric(float64(atExit[i].anon), rt.name+"-anon-KiB")
		if i > 0 {
			b.ReportMetric(float64(c)/float64(base), rt.name+"/runc")
		}
	}
	// The table goes to stdout: the testing package cuts a benchmark's
	// log after a few lines.
	fmt.Printf("%s (%s; runc: %s)\n%s\n", b.Name(), runtime.Version(), runcVersion(variants[0].bin), table.String())
}

// runcVersion is the first line of runc --version.
func runcVersion(bin string) string {
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		return bin
	}
	first, _, _ := strings.Cut(string(out), "\n")
	return bin + ", " + first
}

// rootsDir holds the state roots: HARDENED_BENCH_ROOTS, by default
// /dev/shm, a tmpfs like the /run every client keeps its runtime roots on
// (runc's /run/runc, Docker's /run/docker/runtime-runc, containerd's
// /run/containerd/runc).
func rootsDir() string {
	if d := os.Getenv("HARDENED_BENCH_ROOTS"); d != "" {
		return d
	}
	return "/dev/shm"
}

// tempRoot is a state root under rootsDir. The runtime binary must not
// live under it: libcontainer seals /proc/self/exe with an overlay of the
// binary's directory and the state directory, and when those overlap it
// copies the whole binary into a memfd on every create instead.
func tempRoot(tb testing.TB) string {
	tb.Helper()
	dir, err := os.MkdirTemp(rootsDir(), "hardened-bench-root-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// withDockerProfile puts Docker's default seccomp profile, evaluated
// against the process's bounding set as dockerd does, into the spec.
func withDockerProfile(s *specs.Spec) error {
	p, err := seccomp.GetDefaultProfile(s)
	if err != nil {
		return err
	}
	s.Linux.Seccomp = p
	return nil
}

// cycle runs one create-start-wait-delete and returns how long it took.
func cycle(rt runtimeUnderTest, bundle, id string) (sample, error) {
	pidFile := filepath.Join(rt.root, id+".pid")
	start := time.Now()
	rss, err := runMeasured(rt, "create", "--bundle", bundle, "--pid-file", pidFile, id)
	if err != nil {
		return sample{}, err
	}
	s := sample{create: time.Since(start), maxRSS: rss}
	raw, err := os.ReadFile(pidFile)
	if err != nil {
		return s, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		return s, err
	}
	// A pidfd lets us wait for a process that is not our child.
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return s, fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	defer unix.Close(pidfd)
	if err := run(rt, "start", id); err != nil {
		return s, err
	}
	fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
	for {
		if _, err := unix.Poll(fds, 10_000); err != unix.EINTR {
			break
		}
	}
	if err := run(rt, "delete", id); err != nil {
		return s, err
	}
	s.cycle = time.Since(start)
	return s, nil
}

// run runs one runtime command. Its output goes to a file, not a pipe: a
// created container's init inherits the runtime's stdio and would hold a
// pipe open until the container exits.
func run(rt runtimeUnderTest, args ...string) error {
	return runWith(rt, nil, args...)
}

// runMeasured runs one runtime command under GNU time and returns its
// peak resident set in KiB. The rusage that wait4 gives this process is no
// use: Go starts children with vfork, and the kernel carries the high-water
// mark of the address space a process had before execve (this test's) into
// its maxrss. GNU time forks from its own small address space.
func runMeasured(rt runtimeUnderTest, args ...string) (int64, error) {
	out, err := os.CreateTemp(rt.root, "rss-")
	if err != nil {
		return 0, err
	}
	out.Close()
	defer os.Remove(out.Name())
	if err := runWith(rt, []string{"/usr/bin/time", "-f", "%M", "-o", out.Name()}, args...); err != nil {
		return 0, err
	}
	raw, err := os.ReadFile(out.Name())
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64)
}

func runWith(rt runtimeUnderTest, wrapper []string, args ...string) error {
	out, err := os.CreateTemp(rt.root, "out-")
	if err != nil {
		return err
	}
	defer os.Remove(out.Name())
	defer out.Close()
	argv := append(append(append([]string{}, wrapper...), rt.bin, "--root", rt.root), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), rt.env...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		msg, _ := os.ReadFile(out.Name())
		return fmt.Errorf("%s %s: %w: %s", rt.name, strings.Join(args, " "), err, msg)
	}
	return nil
}

// copyBundle makes a bundle that shares the rootfs but has its own
// config.json (changed by edit when not nil), so that one runtime's
// rewrite does not reach another. The bundle is a tmpfs of its own, like
// the /run where containerd, Docker (through containerd) and CRI-O keep
// their bundles: a config.json that a runtime rewrites is synced there at
// the cost of a tmpfs, not of this machine's ext4 /tmp. The shared rootfs
// is bind-mounted at the bundle's rootfs, as an engine mounts an image
// there: the host-rootfs rule refuses a plain directory outside the
// bundle, and any rootfs in /dev (so not under rootsDir's /dev/shm).
func copyBundle(tb testing.TB, src string, edit func(*specs.Spec) error) string {
	tb.Helper()
	dst := tb.TempDir()
	if err := unix.Mount("tmpfs", dst, "tmpfs", 0, "mode=0755"); err != nil {
		tb.Fatal(err)
	}
	// Detached last, with the rootfs bind below it if that stays.
	tb.Cleanup(func() { _ = unix.Unmount(dst, unix.MNT_DETACH) })
	raw, err := os.ReadFile(filepath.Join(src, "config.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(raw, &s); err != nil {
		tb.Fatal(err)
	}
	if !filepath.IsAbs(s.Root.Path) {
		own := filepath.Join(dst, "rootfs")
		if err := os.Mkdir(own, 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := unix.Mount(filepath.Join(src, s.Root.Path), own, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { _ = unix.Unmount(own, unix.MNT_DETACH) })
		s.Root.Path = "rootfs"
	}
	if edit != nil {
		if err := edit(&s); err != nil {
			tb.Fatal(err)
		}
	}
	out, err := json.MarshalIndent(&s, "", "\t")
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dst, "config.json"), out, 0o644); err != nil {
		tb.Fatal(err)
	}
	return dst
}

func cycleOf(s sample) time.Duration  { return s.cycle }
func createOf(s sample) time.Duration { return s.create }

// medianOf is the median of f over the samples ss.
func medianOf[S any](ss []S, f func(S) time.Duration) time.Duration {
	ds := make([]time.Duration, len(ss))
	for i, s := range ss {
		ds[i] = f(s)
	}
	return median(ds)
}

func medianRSS(ss []sample) int64 {
	rs := make([]int64, len(ss))
	for i, s := range ss {
		rs[i] = s.maxRSS
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i] < rs[j] })
	return rs[len(rs)/2]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
