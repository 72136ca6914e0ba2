package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// The runtime's processes start with GOMAXPROCS=1 (package oneproc) but
// pass nothing on: a hook that inherits the runtime's environment, the
// container's process and an exec'd one see no GOMAXPROCS unless the
// operator set it, and then only the hook (as with runc).
func TestGOMAXPROCSNotPassedOn(t *testing.T) {
	sh, err := filepath.EvalSymlinks("/bin/sh")
	if err != nil {
		t.Skip("no /bin/sh")
	}
	for _, operator := range []string{"", "3"} {
		t.Run("GOMAXPROCS="+operator, func(t *testing.T) {
			rt := testutil.NewRuntime(t)
			dir := t.TempDir()
			polPath := filepath.Join(dir, "policy.json")
			if err := os.WriteFile(polPath, []byte(fmt.Sprintf(`{"allowedHooks": [{"path": %q, "args": ["sh", "-c", "{any}"]}]}`, sh)), 0o644); err != nil {
				t.Fatal(err)
			}
			hookEnv := filepath.Join(dir, "hook.env")
			b := testutil.NewBundle(t, sleeper...)
			b.Spec.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: sh, Args: []string{"sh", "-c", "env > " + hookEnv}}}}
			b.Write(t)
			id := rt.NewID()

			ctx, cancel := context.WithTimeout(context.Background(), testutil.DefaultTimeout)
			defer cancel()
			cmd := rt.Command(ctx, "--policy="+polPath, "run", "--detach", "--bundle", b.Dir, id)
			cmd.Env = withoutVar(cmd.Env, "GOMAXPROCS") // keeps the harness's HARDENED_AUDIT_LOG
			if operator != "" {
				cmd.Env = append(cmd.Env, "GOMAXPROCS="+operator)
			}
			if msg, err := testutil.RunToFile(t, cmd); err != nil {
				t.Fatalf("run --detach: %v: %s", err, msg)
			}
			pid := rt.WaitStatus(id, "running", 5*time.Second).Pid

			hook, err := os.ReadFile(hookEnv)
			if err != nil {
				t.Fatal(err)
			}
			wantHook := ""
			if operator != "" {
				wantHook = operator
			}
			if got := envValue(string(hook), "\n", "GOMAXPROCS"); got != wantHook {
				t.Errorf("the hook's GOMAXPROCS is %q, want %q", got, wantHook)
			}
			// "running" is reported once the init was told to start; it
			// may not have exec'd the process yet (under load), and until
			// then its environment is the runtime's.
			var initEnv []byte
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				if initEnv, err = os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ"); err != nil {
					t.Fatal(err)
				}
				if strings.Contains(string(initEnv), "PATH=") || time.Now().After(deadline) {
					break
				}
			}
			if got := envValue(string(initEnv), "\x00", "GOMAXPROCS"); got != "" || !strings.Contains(string(initEnv), "PATH=") {
				t.Errorf("the container's process environment %q: GOMAXPROCS %q, want none", initEnv, got)
			}
			execEnv := rt.MustRun("exec", id, "cat", "/proc/self/environ")
			if got := envValue(execEnv, "\x00", "GOMAXPROCS"); got != "" {
				t.Errorf("an exec'd process's GOMAXPROCS is %q, want none", got)
			}
			rt.MustRun("delete", "--force", id)
		})
	}
}

// envValue returns name's value in an environment of lines split by sep.
func envValue(env, sep, name string) string {
	for _, kv := range strings.Split(env, sep) {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return v
		}
	}
	return ""
}

func withoutVar(env []string, name string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}
