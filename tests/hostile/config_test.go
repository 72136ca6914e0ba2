package hostile

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// configFastTimeout is how long a refusal of a hostile file may take: the
// runtime must neither block on it nor read it whole.
const configFastTimeout = 10 * time.Second

// configFailsFast runs the runtime with args (stdin from in, nil for
// none) and checks that it fails within configFastTimeout with every
// string of want on stderr. It returns stderr.
func configFailsFast(t *testing.T, rt *testutil.Runtime, in io.Reader, want []string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), configFastTimeout)
	defer cancel()
	cmd := rt.Command(ctx, args...)
	var stderr bytes.Buffer
	cmd.Stdin, cmd.Stderr = in, &stderr
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	if ctx.Err() != nil {
		t.Fatalf("%v: still running after %s (killed)", args, configFastTimeout)
	}
	var ee *exec.ExitError
	if err == nil || !errors.As(err, &ee) {
		t.Fatalf("%v: %v, want a failure exit", args, err)
	}
	for _, w := range want {
		if !strings.Contains(stderr.String(), w) {
			t.Errorf("%v: stderr lacks %q:\n%s", args, w, stderr.String())
		}
	}
	t.Logf("%v failed in %s", args, took.Round(time.Millisecond))
	return stderr.String()
}

// configExpectNoState checks that a refused create left no container.
func configExpectNoState(t *testing.T, rt *testutil.Runtime, id string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(rt.Root, id)); !os.IsNotExist(err) {
		t.Errorf("refused create left state directory %s (stat: %v)", filepath.Join(rt.Root, id), err)
	}
}

// configReplace removes the bundle's config.json and lets make put
// something else at its path.
func configReplace(t *testing.T, b *testutil.Bundle, make func(path string) error) {
	t.Helper()
	if err := os.Remove(b.ConfigPath()); err != nil {
		t.Fatal(err)
	}
	if err := make(b.ConfigPath()); err != nil {
		t.Fatal(err)
	}
}

// configPadded returns the bundle's config as JSON padded with spaces to
// size bytes: valid, and only its size is hostile.
func configPadded(t *testing.T, s *specs.Spec, size int) []byte {
	t.Helper()
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > size {
		t.Fatalf("config already %d bytes", len(data))
	}
	return append(data, bytes.Repeat([]byte(" "), size-len(data))...)
}

// TestConfigNotRegular: a config.json that is not a regular file is
// refused at once: a FIFO used to hang the runtime (open blocks until a
// writer comes), a device node was opened and read, a symlink could point
// anywhere on the host.
func TestConfigNotRegular(t *testing.T) {
	for _, tc := range []struct {
		name string
		make func(t *testing.T, b *testutil.Bundle) func(string) error
		want string
	}{
		{"FIFO", func(*testing.T, *testutil.Bundle) func(string) error {
			return func(p string) error { return unix.Mkfifo(p, 0o644) }
		}, "config.json is a FIFO, not a regular file"},
		{"character device (the host's /dev/null numbers)", func(*testing.T, *testutil.Bundle) func(string) error {
			return func(p string) error { return unix.Mknod(p, unix.S_IFCHR|0o644, int(unix.Mkdev(1, 3))) }
		}, "config.json is not a regular file"},
		{"directory", func(*testing.T, *testutil.Bundle) func(string) error {
			return func(p string) error { return os.Mkdir(p, 0o755) }
		}, "config.json is a directory, not a regular file"},
		{"symlink to /etc/passwd", func(*testing.T, *testutil.Bundle) func(string) error {
			return func(p string) error { return os.Symlink("/etc/passwd", p) }
		}, "config.json is a symlink, which is not allowed"},
		{"symlink to a valid config in the bundle", func(t *testing.T, b *testutil.Bundle) func(string) error {
			return func(p string) error {
				data, err := json.Marshal(b.Spec)
				if err != nil {
					return err
				}
				real := filepath.Join(b.Dir, "config.real.json")
				if err := os.WriteFile(real, data, 0o644); err != nil {
					return err
				}
				return os.Symlink("config.real.json", p)
			}
		}, "config.json is a symlink, which is not allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := testutil.NewRuntime(t)
			b := testutil.NewBundle(t, "true")
			configReplace(t, b, tc.make(t, b))
			id := rt.NewID()
			configFailsFast(t, rt, nil, []string{"invalid bundle", tc.want}, "create", "--bundle", b.Dir, id)
			configExpectNoState(t, rt, id)
			if _, err := os.Lstat(filepath.Join(b.Dir, "config.json.orig")); !os.IsNotExist(err) {
				t.Errorf("config.json.orig written (stat: %v)", err)
			}
		})
	}
}

// TestConfigSizeCap: a config.json above the policy's maxConfigSize is
// refused before it is read (a 1 GiB one used to cost 2 GiB of memory).
func TestConfigSizeCap(t *testing.T) {
	t.Run("5 MiB over the default 4 MiB", func(t *testing.T) {
		rt := testutil.NewRuntime(t)
		b := testutil.NewBundle(t, "true")
		if err := os.WriteFile(b.ConfigPath(), configPadded(t, b.Spec, 5<<20), 0o644); err != nil {
			t.Fatal(err)
		}
		id := rt.NewID()
		configFailsFast(t, rt, nil, []string{"is 5242880 bytes, more than the 4194304 allowed", `policy key "maxConfigSize"`}, "create", "--bundle", b.Dir, id)
		configExpectNoState(t, rt, id)
	})
	t.Run("sparse 1 GiB", func(t *testing.T) {
		rt := testutil.NewRuntime(t)
		b := testutil.NewBundle(t, "true")
		if err := os.Truncate(b.ConfigPath(), 1<<30); err != nil {
			t.Fatal(err)
		}
		configFailsFast(t, rt, nil, []string{"is 1073741824 bytes, more than the 4194304 allowed"}, "create", "--bundle", b.Dir, rt.NewID())
	})
	t.Run("the policy's maxConfigSize is the cap", func(t *testing.T) {
		rt := testutil.NewRuntime(t)
		b := testutil.NewBundle(t, "true")
		if err := os.WriteFile(b.ConfigPath(), configPadded(t, b.Spec, 8192), 0o644); err != nil {
			t.Fatal(err)
		}
		small, _ := testutil.WritePolicy(t, `{"maxConfigSize": 4096}`)
		rt.ExpectRefused(t, b, []string{small}, "is 8192 bytes, more than the 4096 allowed", `policy key "maxConfigSize"`)
		// The same file under the default cap runs.
		rt.RunIn(t, b)
	})
}

// TestConfigExecAndUpdateFiles: exec's --process and update's
// --resources get the same checks: no blocking on a FIFO, a size cap.
func TestConfigExecAndUpdateFiles(t *testing.T) {
	rt := testutil.NewRuntime(t)
	b := testutil.NewBundle(t)
	id := limitsDetached(t, rt, b)
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Run("exec --process FIFO", func(t *testing.T) {
		configFailsFast(t, rt, nil, []string{"is a FIFO, not a regular file"}, "exec", "--process", fifo, id)
	})
	t.Run("exec --process 5 MiB", func(t *testing.T) {
		proc := `{"args":["true"],"cwd":"/"}` + strings.Repeat(" ", 5<<20)
		configFailsFast(t, rt, nil, []string{`more than the 4194304 allowed (policy key "maxConfigSize")`}, "exec", "--process", limitsWriteFile(t, "process.json", proc), id)
	})
	t.Run("update --resources FIFO", func(t *testing.T) {
		configFailsFast(t, rt, nil, []string{"--resources", "is a FIFO, not a regular file"}, "update", "--resources", fifo, id)
	})
	t.Run("update --resources - 5 MiB on stdin", func(t *testing.T) {
		in := strings.NewReader(`{"pids":{"limit":10}}` + strings.Repeat(" ", 5<<20))
		configFailsFast(t, rt, in, []string{"standard input is more than the 4194304 bytes allowed"}, "update", "--resources", "-", id)
	})
}
