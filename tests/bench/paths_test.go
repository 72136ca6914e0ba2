package bench

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	hardenedspec "github.com/hardened-runtime/hardened/spec"
	"github.com/hardened-runtime/hardened/tests/testutil"
)

// pathSample is one container through one path: its wall time and the CPU
// (user + system) of the runtime's processes and the container's.
type pathSample struct {
	wall time.Duration
	cpu  time.Duration
}

// BenchmarkPaths times the ways engines start a busybox `true` container,
// b.N interleaved rounds of every variant (runc 1.5.2 plain and with
// Docker's profile, hardened mode off and default, and runc given the
// config.json the default policy writes: runcHardened), on a directory
// rootfs and on an overlay mount of it (as Docker and containerd give
// one):
//
//   - run: one `run` process (create, start, wait, delete inside it);
//   - sequence: create, start, `state` polled until stopped, delete, as
//     containerd's shim and dockerd call the runtime;
//
// each with its CPU time per container: getrusage(RUSAGE_CHILDREN) of this
// process around the container, µs resolution, which holds the runtime's
// commands, their children and the container's init (this process is a
// child subreaper for the benchmark, so an init that create leaves behind
// is reaped here and counted). Then the concurrency scenario: N = 1, 8 and
// 50 loops of `run` in parallel, HARDENED_BENCH_CONC_OPS containers per N
// and variant (default 2*b.N, at least N), in two interleaved halves;
// throughput and p50/p99 latency. /proc/loadavg is printed with every
// table: the machine is shared.
func BenchmarkPaths(b *testing.B) {
	testutil.RequireRoot(b)
	if probeRound(b) {
		return
	}
	variants := benchVariants(b)
	bundle := testutil.NewBundle(b, "/bin/true")
	for i := range variants {
		variants[i].root = tempRoot(b)
	}
	b.Cleanup(removeBenchCgroups)
	// Made before this process becomes a subreaper: the init that create
	// leaves would otherwise be reaped, and counted, in a timed container.
	paths := append(variants[:len(variants):len(variants)],
		runcHardened(b, variants[0], variants[len(variants)-1], bundle.Dir))
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		b.Fatal(err)
	}
	defer unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
	if os.Getenv("HARDENED_BENCH_KEEP_PAGECACHE") == "" {
		evictBinaries(b, variants)
	}
	var tables strings.Builder
	for _, kind := range []string{"directory", "overlay"} {
		bundles := make([]string, len(paths))
		var err error
		for i := range paths {
			bundles[i] = copyBundle(b, bundle.Dir, paths[i].edit)
			if kind == "overlay" && err == nil {
				err = overlayRootfs(b, bundles[i], bundle.Rootfs)
			}
		}
		if err != nil {
			tables.WriteString(kind + " rootfs: skipped: " + err.Error() + "\n")
			continue
		}
		tables.WriteString(kind + " rootfs: " + pathTable(b, paths, bundles, kind))
	}
	conc := concurrency(b, paths, bundle.Dir)
	fmt.Printf("%s (%s; runc: %s)\n%s\n%s\n", b.Name(), runtime.Version(), runcVersion(variants[0].bin), tables.String(), conc)
}

// overlayRootfs makes the rootfs of bundle an overlay mount over lower
// (its own upper and work directories), as Docker and containerd give
// one, and points config.json at it. An overlay that cannot be mounted
// here is an error returned, not a failed benchmark.
func overlayRootfs(b *testing.B, bundle, lower string) error {
	b.Helper()
	dir := b.TempDir()
	upper, work, merged := filepath.Join(dir, "upper"), filepath.Join(dir, "work"), filepath.Join(dir, "merged")
	for _, d := range []string{dir, upper, work, merged} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.Chmod(d, 0o755); err != nil {
			b.Fatal(err)
		}
	}
	if err := unix.Mount("overlay", merged, "overlay", 0, "lowerdir="+lower+",upperdir="+upper+",workdir="+work); err != nil {
		return fmt.Errorf("overlay: %w", err)
	}
	b.Cleanup(func() { _ = unix.Unmount(merged, unix.MNT_DETACH) })
	path := filepath.Join(bundle, "config.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(raw, &s); err != nil {
		b.Fatal(err)
	}
	// runc-hardened's binds of the writable paths come from the rootfs.
	for i, m := range s.Mounts {
		if rest, ok := strings.CutPrefix(m.Source, s.Root.Path+"/"); ok {
			s.Mounts[i].Source = filepath.Join(merged, rest)
		}
	}
	s.Root.Path = merged
	out, err := json.MarshalIndent(&s, "", "\t")
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		b.Fatal(err)
	}
	return nil
}

// pathTable runs b.N interleaved rounds of `run` and the engine sequence
// of every variant on its bundle and returns their table.
func pathTable(b *testing.B, variants []runtimeUnderTest, bundles []string, kind string) string {
	paths := []struct {
		name string
		do   func(rt runtimeUnderTest, bundle, id string) error
	}{{"run", runOnce}, {"sequence", engineSequence}}
	samples := make([][][]pathSample, len(paths))
	for p := range paths {
		samples[p] = make([][]pathSample, len(variants))
	}
	loadBefore := loadAvg()
	for n := 0; n < b.N; n++ {
		for p, path := range paths {
			// The order of the variants rotates so that none is always
			// first after another path's burst.
			for k := range variants {
				i := (k + n) % len(variants)
				id := fmt.Sprintf("%s-p%d-%d-%d", kind[:3], p, i, n)
				if err := freshConfig(bundles[i], id); err != nil {
					b.Fatal(err)
				}
				s, err := measure(func() error { return path.do(variants[i], bundles[i], id) })
				if err != nil {
					b.Fatalf("%s rootfs, %s %s: %v", kind, path.name, variants[i].name, err)
				}
				samples[p][i] = append(samples[p][i], s)
			}
		}
	}
	var table strings.Builder
	fmt.Fprintf(&table, "%d interleaved rounds; medians; load %s -> %s\n%-18s", b.N, loadBefore, loadAvg(), "variant")
	for _, path := range paths {
		fmt.Fprintf(&table, " %9s %6s %9s %6s", path.name+" ms", "/runc", "cpu µs", "/runc")
	}
	table.WriteString("\n")
	for i, rt := range variants {
		fmt.Fprintf(&table, "%-18s", rt.name)
		for p, path := range paths {
			w, c := medianOf(samples[p][i], wallOf), medianOf(samples[p][i], cpuOf)
			w0, c0 := medianOf(samples[p][0], wallOf), medianOf(samples[p][0], cpuOf)
			fmt.Fprintf(&table, " %9.1f %6.2f %9d %6.2f", ms(w), float64(w)/float64(w0), c.Microseconds(), float64(c)/float64(c0))
			b.ReportMetric(ms(w), rt.name+"-"+kind[:3]+"-"+path.name+"-ms")
			b.ReportMetric(float64(c.Microseconds()), rt.name+"-"+kind[:3]+"-"+path.name+"-cpu-µs")
		}
		table.WriteString("\n")
	}
	return table.String()
}

// probeRound reports whether this is the testing package's first call
// with b.N = 1 before the -benchtime Nx it was asked for (N > 1): the
// scenarios take minutes, and a round of one gives no figures worth
// printing.
func probeRound(b *testing.B) bool {
	f := flag.Lookup("test.benchtime")
	if b.N != 1 || f == nil {
		return false
	}
	n, err := strconv.Atoi(strings.TrimSuffix(f.Value.String(), "x"))
	return err == nil && strings.HasSuffix(f.Value.String(), "x") && n > 1
}

// runcHardened is runc given the config.json that the default policy
// (hardened) makes of the bundle's: the user namespace, capabilities,
// seccomp filter, read-only rootfs with its writable-path binds, masked
// paths. Set beside runc and hardened-default, it splits what the default
// policy costs into libcontainer's work for the hardened spec (runc's
// init does the same mounts and namespaces, though it compiles the
// seccomp filter with libseccomp where hardened's init loads the cached
// program) and the runtime's own work on the host (policy, rewrite, ID
// range, staging, pinning, release).
func runcHardened(b *testing.B, runc, hardened runtimeUnderTest, bundleDir string) runtimeUnderTest {
	b.Helper()
	dir := copyBundle(b, bundleDir, nil)
	const id = "hardened-spec"
	if err := freshConfig(dir, id); err != nil {
		b.Fatal(err)
	}
	if err := run(hardened, "create", "--bundle", dir, id); err != nil {
		b.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if derr := run(hardened, "delete", "--force", id); err == nil {
		err = derr
	}
	if err != nil {
		b.Fatal(err)
	}
	return runtimeUnderTest{name: "runc-hardened", bin: runc.bin, root: tempRoot(b), edit: func(s *specs.Spec) error {
		root := s.Root.Path
		*s = specs.Spec{}
		if err := json.Unmarshal(raw, s); err != nil {
			return err
		}
		if s.Root == nil || s.Root.Path != root {
			return fmt.Errorf("hardened spec: rootfs %v, want %s", s.Root, root)
		}
		return nil
	}}
}

// benchVariants are the runtimes BenchmarkCycle and BenchmarkPaths compare.
func benchVariants(b *testing.B) []runtimeUnderTest {
	runc := os.Getenv("HARDENED_BENCH_RUNC")
	if runc == "" {
		var err error
		if runc, err = exec.LookPath("runc"); err != nil {
			b.Skip("no runc: set HARDENED_BENCH_RUNC or apt-get install runc")
		}
	}
	bin := testutil.Binary(b)
	dir := b.TempDir()
	offPolicy, defaultPolicy := filepath.Join(dir, "off.json"), filepath.Join(dir, "default.json")
	if err := os.WriteFile(offPolicy, []byte(`{"mode":"off"}`), 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(defaultPolicy, []byte(`{}`), 0o644); err != nil {
		b.Fatal(err)
	}
	return []runtimeUnderTest{
		{name: "runc", bin: runc},
		{name: "runc-docker", bin: runc, edit: withDockerProfile},
		{name: "hardened-off", bin: bin, env: []string{"HARDENED_POLICY=" + offPolicy}},
		{name: "hardened-default", bin: bin, env: []string{"HARDENED_POLICY=" + defaultPolicy}},
	}
}

// measure runs do and returns its wall time and the CPU that the children
// reaped meanwhile used.
func measure(do func() error) (pathSample, error) {
	var before, after unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_CHILDREN, &before); err != nil {
		return pathSample{}, err
	}
	start := time.Now()
	if err := do(); err != nil {
		return pathSample{}, err
	}
	wall := time.Since(start)
	if err := unix.Getrusage(unix.RUSAGE_CHILDREN, &after); err != nil {
		return pathSample{}, err
	}
	return pathSample{wall: wall, cpu: cpuTime(&after) - cpuTime(&before)}, nil
}

func cpuTime(r *unix.Rusage) time.Duration {
	return time.Duration(r.Utime.Nano() + r.Stime.Nano())
}

// runOnce is `run`: one process creates, starts, waits for and deletes
// the container.
func runOnce(rt runtimeUnderTest, bundle, id string) error {
	return run(rt, "run", "--bundle", bundle, id)
}

// engineSequence is create, start, state until stopped, delete. The init
// that create leaves running is reparented to this process (a subreaper)
// and reaped here, so its CPU is counted.
func engineSequence(rt runtimeUnderTest, bundle, id string) error {
	pidFile := filepath.Join(rt.root, id+".pid")
	if err := run(rt, "create", "--bundle", bundle, "--pid-file", pidFile, id); err != nil {
		return err
	}
	raw, err := os.ReadFile(pidFile)
	if err != nil {
		return err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		return err
	}
	if err := run(rt, "start", id); err != nil {
		return err
	}
	for {
		out, err := output(rt, "state", id)
		if err != nil {
			return err
		}
		if strings.Contains(out, `"status": "stopped"`) {
			break
		}
	}
	var ws unix.WaitStatus
	for {
		if _, err := unix.Wait4(pid, &ws, 0, nil); err != unix.EINTR {
			break
		}
	}
	return run(rt, "delete", id)
}

// output runs one runtime command and returns its stdout.
func output(rt runtimeUnderTest, args ...string) (string, error) {
	argv := append([]string{"--root", rt.root}, args...)
	cmd := exec.Command(rt.bin, argv...)
	cmd.Env = append(os.Environ(), rt.env...)
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", rt.name, strings.Join(args, " "), err)
	}
	return string(out), nil
}

// concurrency runs the parallel-`run` scenario and returns its table.
func concurrency(b *testing.B, variants []runtimeUnderTest, bundleDir string) string {
	ops := 2 * b.N
	if v, err := strconv.Atoi(os.Getenv("HARDENED_BENCH_CONC_OPS")); err == nil && v > 0 {
		ops = v
	}
	var table strings.Builder
	fmt.Fprintf(&table, "parallel `run` loops; per N and variant max(N, %d) containers in two interleaved halves\n%-18s %4s %9s %7s %9s %9s\n",
		ops, "variant", "N", "ops/s", "/runc", "p50 ms", "p99 ms")
	for _, n := range []int{1, 8, 50} {
		total := max(ops, n)
		// Every loop has its own bundle per variant: the default policy
		// rewrites config.json.
		bundles := make([][]string, len(variants))
		for i := range variants {
			for w := 0; w < n; w++ {
				bundles[i] = append(bundles[i], copyBundle(b, bundleDir, variants[i].edit))
			}
		}
		lat := make([][]time.Duration, len(variants))
		elapsed := make([]time.Duration, len(variants))
		load := loadAvg()
		for half := 0; half < 2; half++ {
			for k := range variants {
				i := (k + half) % len(variants)
				d, l, err := parallelRuns(variants[i], bundles[i], n, total/2+half*(total%2), fmt.Sprintf("c%d-%d-%d", n, i, half))
				if err != nil {
					b.Fatalf("N=%d %s: %v", n, variants[i].name, err)
				}
				elapsed[i] += d
				lat[i] = append(lat[i], l...)
			}
		}
		fmt.Fprintf(&table, "N=%d load %s -> %s\n", n, load, loadAvg())
		rate0 := float64(len(lat[0])) / elapsed[0].Seconds()
		for i, rt := range variants {
			rate := float64(len(lat[i])) / elapsed[i].Seconds()
			fmt.Fprintf(&table, "%-18s %4d %9.2f %7.2f %9.1f %9.1f\n", rt.name, n, rate, rate/rate0, ms(median(lat[i])), ms(percentile(lat[i], 99)))
			b.ReportMetric(rate, fmt.Sprintf("%s-N%d-ops/s", rt.name, n))
		}
	}
	return table.String()
}

// parallelRuns runs ops containers through `run` in n loops and returns
// the wall time of all and each container's latency.
func parallelRuns(rt runtimeUnderTest, bundles []string, n, ops int, prefix string) (time.Duration, []time.Duration, error) {
	var (
		mu   sync.Mutex
		lat  []time.Duration
		errs []error
		next int
		wg   sync.WaitGroup
	)
	start := time.Now()
	for w := 0; w < n; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for {
				mu.Lock()
				k := next
				next++
				mu.Unlock()
				if k >= ops {
					return
				}
				id := fmt.Sprintf("%s-%d", prefix, k)
				err := freshConfig(bundles[w], id)
				t := time.Now()
				if err == nil {
					err = runOnce(rt, bundles[w], id)
				}
				d := time.Since(t)
				mu.Lock()
				lat = append(lat, d)
				if err != nil {
					errs = append(errs, err)
				}
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	if len(errs) > 0 {
		return 0, nil, fmt.Errorf("%d of %d failed, first: %w", len(errs), ops, errs[0])
	}
	return time.Since(start), lat, nil
}

// loadAvg is the first three fields of /proc/loadavg.
func loadAvg() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(raw))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func wallOf(s pathSample) time.Duration { return s.wall }
func cpuOf(s pathSample) time.Duration  { return s.cpu }

// percentile is the p-th percentile (nearest rank) of ds.
func percentile(ds []time.Duration, p int) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	k := (len(s)*p + 99) / 100
	if k < 1 {
		k = 1
	}
	return s[k-1]
}

// freshConfig gives the bundle the caller's config.json again before
// container id, as an engine writes one for every container: with
// linux.cgroupsPath absolute (/hardened-bench/<id>, as Docker and
// containerd give it) and no config.json.orig of an earlier create. The
// default policy's rewrite of a config.json it already rewrote changes
// nothing and costs less, and a relative cgroupsPath makes libcontainer
// read the whole mount table: reusing the file flattered it. The
// caller's file is kept beside as config.caller.json, made from
// config.json before the first container.
func freshConfig(bundle, id string) error {
	caller := filepath.Join(bundle, "config.caller.json")
	raw, err := os.ReadFile(caller)
	if errors.Is(err, os.ErrNotExist) {
		if raw, err = os.ReadFile(filepath.Join(bundle, "config.json")); err == nil {
			err = os.WriteFile(caller, raw, 0o644)
		}
	}
	if err != nil {
		return fmt.Errorf("bundle %s: %w", bundle, err)
	}
	var s specs.Spec
	if err := json.Unmarshal(raw, &s); err != nil {
		return fmt.Errorf("bundle %s: %w", bundle, err)
	}
	if s.Linux == nil {
		s.Linux = &specs.Linux{}
	}
	s.Linux.CgroupsPath = "/hardened-bench/" + id
	out, err := json.Marshal(&s)
	if err == nil {
		err = os.WriteFile(filepath.Join(bundle, "config.json"), out, 0o644)
	}
	if err == nil {
		err = os.Remove(filepath.Join(bundle, hardenedspec.OriginalConfigName))
		if errors.Is(err, os.ErrNotExist) {
			err = nil
		}
	}
	if err != nil {
		return fmt.Errorf("bundle %s: %w", bundle, err)
	}
	return nil
}

// removeBenchCgroups removes the parent cgroup of freshConfig's
// cgroupsPath, which the runtimes make in every hierarchy and leave
// (each container's own is gone with it).
func removeBenchCgroups() {
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*/hardened-bench")
	for _, d := range append(dirs, "/sys/fs/cgroup/hardened-bench") {
		_ = os.Remove(d)
	}
}
