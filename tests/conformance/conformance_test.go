// Package conformance runs the OCI runtime-tools validation suite against the
// runtime under test and compares the outcome with Debian's runc 1.1.5 on the
// same machine (baseline-runc-1.1.5.tsv). See README.md.
package conformance

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

const baselineFile = "baseline-runc-1.1.5.tsv"

// TestConformanceNoRegressionVsRunc fails when a validation test point that
// runc 1.1.5 passes does not pass with $HARDENED_BIN.
func TestConformanceNoRegressionVsRunc(t *testing.T) {
	bin := os.Getenv("HARDENED_BIN")
	if bin == "" {
		t.Skip("HARDENED_BIN is not set: set it to the runtime binary to test (hardened, or runc to check the harness)")
	}
	if os.Geteuid() != 0 {
		t.Skip("the validation suite creates real containers: run as root")
	}
	// runtime-tools' linux_cgroups_relative_* tests put their containers
	// in testdir/cgrouptest below the runtime's own cgroup and leave it.
	testutil.RemoveCgroupLeftovers(t, "testdir")
	bin, err := filepath.Abs(bin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("HARDENED_BIN: %v", err)
	}
	for _, tool := range []string{"bash", "go", "tar", "timeout", "awk", "flock"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed to run the validation suite: %v", tool, err)
		}
	}

	here, err := os.Getwd() // go test runs in the package directory
	if err != nil {
		t.Fatal(err)
	}
	runScript := filepath.Join(here, "run.sh")
	compareScript := filepath.Join(here, "compare.sh")
	baseline := filepath.Join(here, baselineFile)

	// hardened hardens containers by default, which the validation programs
	// (they check that the runtime applies exactly the given config) would
	// see as failures: run it with hardening off. runc ignores the variable.
	policy := filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(policy, []byte(`{"mode":"off"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	// Results are kept on failure for inspection, removed on success.
	out := os.Getenv("HARDENED_CONFORMANCE_OUT")
	keep := out != ""
	if out == "" {
		out, err = os.MkdirTemp("", "hardened-conformance-results.")
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		if !keep && !t.Failed() {
			os.RemoveAll(out)
		} else {
			t.Logf("validation output kept in %s (tap/, programs.tsv, results.tsv)", out)
		}
	})

	env := append(os.Environ(), "HARDENED_POLICY="+policy)
	ctx := context.Background()
	if deadline, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline.Add(-20*time.Second))
		defer cancel()
		// Let run.sh stop starting programs in time to report what ran (a
		// program may take up to its 120 s timeout past the budget), rather
		// than be killed by go test's -timeout with nothing to show.
		if os.Getenv("CONFORMANCE_TOTAL_TIMEOUT") == "" {
			budget := time.Until(deadline) - 3*time.Minute
			if budget < time.Minute {
				budget = time.Minute
			}
			env = append(env, fmt.Sprintf("CONFORMANCE_TOTAL_TIMEOUT=%d", int(budget.Seconds())))
		}
	}

	start := time.Now()
	cmd := exec.CommandContext(ctx, "bash", runScript, bin, out)
	cmd.Env = env
	cmd.WaitDelay = 30 * time.Second
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	t.Logf("run.sh %s: %s (%s)", bin, strings.TrimSpace(string(stdout)), time.Since(start).Round(time.Second))
	if err != nil {
		t.Fatalf("run.sh failed: %v\n%s", err, stderr.String())
	}
	if b, err := os.ReadFile(filepath.Join(out, "leftovers.txt")); err == nil && len(b) > 0 {
		t.Logf("containers the validation programs left behind (removed by run.sh):\n%s", b)
	}

	cmp := exec.CommandContext(ctx, "bash", compareScript, baseline, filepath.Join(out, "results.tsv"))
	report, err := cmp.CombinedOutput()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		t.Logf("compare.sh:\n%s", report)
	case errors.As(err, &exitErr) && exitErr.ExitCode() == 1:
		t.Errorf("validation test points that runc 1.1.5 passes but %s does not "+
			"(program, test number, status, description; TAP and stderr in %s/tap/):\n%s",
			filepath.Base(bin), out, report)
	default:
		t.Fatalf("compare.sh: %v\n%s", err, report)
	}
}
