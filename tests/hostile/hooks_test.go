package hostile

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// Hooks run on the host as root. The hooks rule allows a binary with an
// argument shape, no loader variables, and only a binary that root alone
// can change; the hook-paths rule hands libcontainer the binary it
// checked, so a symlink re-pointed after create runs nothing new.

// hooksBinary returns the resolved path of a host program, skipping the
// test when it is missing.
func hooksBinary(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("no %s on this host", name)
	}
	resolved, err := filepath.EvalSymlinks(p)
	if err != nil {
		t.Skip(err)
	}
	return resolved
}

// hooksSafeDir makes a directory that root alone can write, below
// directories root alone can write (/var/lib), for hook binaries.
func hooksSafeDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("/var/lib", "hardened-hostile-hooks-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// hooksCopy copies the host's true into dir with mode perm.
func hooksCopy(t *testing.T, dir string, perm os.FileMode) string {
	t.Helper()
	data, err := os.ReadFile(hooksBinary(t, "true"))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "hook")
	if err := os.WriteFile(p, data, perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, perm); err != nil {
		t.Fatal(err)
	}
	return p
}

// hooksPolicy writes a policy whose allowedHooks is entries (JSON).
func hooksPolicy(t *testing.T, entries string) string {
	t.Helper()
	flag, _ := testutil.WritePolicy(t, `{"allowedHooks": [`+entries+`]}`)
	return flag
}

func setkeyHook(path string) specs.Hook {
	return specs.Hook{Path: path, Args: []string{"libnetwork-setkey", "-exec-root=/run/docker",
		"92281a44cc692ce594151300516f007fbdf6d8667a454623990f9cdcdd23cb6b", "0bf16d27a1b4"}}
}

func prestart(s *specs.Spec, h specs.Hook) {
	//lint:ignore SA1019 Docker's stage, still run by runc
	s.Hooks = &specs.Hooks{Prestart: []specs.Hook{h}}
}

// TestHostileHooksDefaultPolicy: what the default policy (dockerd with
// its setkey arguments) refuses.
func TestHostileHooksDefaultPolicy(t *testing.T) {
	dockerd := hooksBinary(t, "dockerd")
	expectAllRefused(t, []attack{
		{name: "dockerd as a second daemon", tweak: func(_ *testing.T, b *testutil.Bundle, s *specs.Spec) {
			prestart(s, specs.Hook{Path: dockerd, Args: []string{"dockerd", "--data-root=" + b.Dir + "/d", "-H", "unix://" + b.Dir + "/d.sock"}})
		}, want: []string{"prestart hook " + dockerd + " runs with args [\"dockerd\",\"--data-root=", `which no "allowedHooks" entry for ` + dockerd + " allows (rule hooks", `allow with "allowedHooks": [{"path":"` + dockerd + `","args":["dockerd"`}},
		{name: "setkey with a fifth argument", tweak: func(_ *testing.T, _ *testutil.Bundle, s *specs.Spec) {
			h := setkeyHook(dockerd)
			h.Args = append(h.Args, "--debug")
			prestart(s, h)
		}, want: []string{`which no "allowedHooks" entry for ` + dockerd + " allows (rule hooks"}},
		{name: "setkey with a flag for the container id", tweak: func(_ *testing.T, _ *testutil.Bundle, s *specs.Spec) {
			h := setkeyHook(dockerd)
			h.Args[2] = "--exec-root=/tmp"
			prestart(s, h)
		}, want: []string{`which no "allowedHooks" entry for ` + dockerd + " allows (rule hooks"}},
		{name: "setkey under another name", tweak: func(_ *testing.T, _ *testutil.Bundle, s *specs.Spec) {
			h := setkeyHook(dockerd)
			h.Args[0] = "dockerd"
			prestart(s, h)
		}, want: []string{`which no "allowedHooks" entry for ` + dockerd + " allows (rule hooks"}},
		{name: "setkey with LD_PRELOAD of a bundle library", tweak: func(_ *testing.T, b *testutil.Bundle, s *specs.Spec) {
			h := setkeyHook(dockerd)
			h.Env = []string{"LD_PRELOAD=" + b.Dir + "/evil.so"}
			prestart(s, h)
		}, want: []string{"sets LD_PRELOAD, which changes what the binary loads or runs (rule hooks", `"env":["LD_PRELOAD"]`}},
		{name: "setkey with GCONV_PATH", tweak: func(_ *testing.T, b *testutil.Bundle, s *specs.Spec) {
			h := setkeyHook(dockerd)
			h.Env = []string{"TRACEPARENT=00-5ebf70084575ef7986a74f21e4a018db-df514d71c49d34e1-01", "GCONV_PATH=" + b.Dir}
			prestart(s, h)
		}, want: []string{"sets GCONV_PATH, which changes what the binary loads or runs (rule hooks"}},
		{name: "setkey with LD_LIBRARY_PATH and GLIBC_TUNABLES", tweak: func(_ *testing.T, b *testutil.Bundle, s *specs.Spec) {
			h := setkeyHook(dockerd)
			h.Env = []string{"LD_LIBRARY_PATH=" + b.Dir, "GLIBC_TUNABLES=glibc.malloc.check=3"}
			prestart(s, h)
		}, want: []string{"sets LD_LIBRARY_PATH", "sets GLIBC_TUNABLES"}},
		{name: "/proc/self/exe is the runtime itself", tweak: func(_ *testing.T, _ *testutil.Bundle, s *specs.Spec) {
			prestart(s, setkeyHook("/proc/self/exe"))
		}, want: []string{"prestart hook /proc/self/exe runs on the host as root (rule hooks"}},
		{name: "relative path", tweak: func(_ *testing.T, _ *testutil.Bundle, s *specs.Spec) {
			s.Hooks = &specs.Hooks{Poststop: []specs.Hook{{Path: "rootfs/bin/sh", Args: []string{"sh", "-c", "id"}}}}
		}, want: []string{"poststop hook rootfs/bin/sh: the path is not absolute", "(rule hooks, no policy key allows it)"}},
		{name: "a path that does not exist yet", tweak: func(_ *testing.T, b *testutil.Bundle, s *specs.Spec) {
			s.Hooks = &specs.Hooks{Poststop: []specs.Hook{{Path: b.Dir + "/later.sh"}}}
		}, want: []string{"/later.sh runs on the host as root and does not resolve to a binary on the host (rule hooks"}},
		{name: "a symlink in the bundle to dockerd, other args", tweak: func(t *testing.T, b *testutil.Bundle, s *specs.Spec) {
			link := filepath.Join(b.Dir, "dockerd")
			if err := os.Symlink(dockerd, link); err != nil {
				t.Fatal(err)
			}
			prestart(s, specs.Hook{Path: link, Args: []string{"dockerd", "--version"}})
		}, want: []string{"(" + dockerd + ") runs with args", "(rule hooks"}},
	})
}

// TestHostileHooksAllowedBinary: a host allows a binary, and the caller
// tries to make it more than that.
func TestHostileHooksAllowedBinary(t *testing.T) {
	trueBin := hooksBinary(t, "true")
	sh := hooksBinary(t, "sh")
	for _, a := range []struct {
		name   string
		policy func(t *testing.T) (entries string, hook specs.Hook)
		want   []string
	}{
		{name: "a plain entry takes no arguments", policy: func(*testing.T) (string, specs.Hook) {
			return fmt.Sprintf("%q", sh), specs.Hook{Path: sh, Args: []string{"sh", "-c", "touch /tmp/pwned"}}
		}, want: []string{`runs with args ["sh","-c","touch /tmp/pwned"], which no "allowedHooks" entry for ` + sh + " allows (rule hooks"}},
		{name: "an object entry pins each argument", policy: func(*testing.T) (string, specs.Hook) {
			return fmt.Sprintf(`{"path": %q, "args": ["sh", "-c", "exit 0"]}`, sh), specs.Hook{Path: sh, Args: []string{"sh", "-c", "exit 0; id"}}
		}, want: []string{`which no "allowedHooks" entry for ` + sh + " allows (rule hooks"}},
		{name: "binary writable by its group", policy: func(t *testing.T) (string, specs.Hook) {
			p := hooksCopy(t, hooksSafeDir(t), 0o775)
			return fmt.Sprintf("%q", p), specs.Hook{Path: p}
		}, want: []string{"someone other than root could replace the binary: ", "is writable by group or others (mode 0775) (rule hooks, no policy key allows it)"}},
		{name: "binary not owned by root", policy: func(t *testing.T) (string, specs.Hook) {
			p := hooksCopy(t, hooksSafeDir(t), 0o755)
			if err := os.Chown(p, 1000, 0); err != nil {
				t.Fatal(err)
			}
			return fmt.Sprintf("%q", p), specs.Hook{Path: p}
		}, want: []string{"/hook is not owned by root (rule hooks"}},
		{name: "binary in a world-writable directory", policy: func(t *testing.T) (string, specs.Hook) {
			dir := hooksSafeDir(t)
			p := hooksCopy(t, dir, 0o755)
			if err := os.Chmod(dir, 0o777|os.ModeSticky); err != nil {
				t.Fatal(err)
			}
			return fmt.Sprintf("%q", p), specs.Hook{Path: p}
		}, want: []string{"someone other than root could replace the binary: " + "/var/lib/hardened-hostile-hooks-", "is writable by group or others (mode 1777)"}},
		{name: "allowed binary with LD_PRELOAD", policy: func(*testing.T) (string, specs.Hook) {
			return fmt.Sprintf("%q", trueBin), specs.Hook{Path: trueBin, Env: []string{"LD_PRELOAD=/tmp/evil.so"}}
		}, want: []string{"sets LD_PRELOAD", `allow with "allowedHooks": [{"path":"` + trueBin + `","env":["LD_PRELOAD"]}]`}},
	} {
		t.Run(a.name, func(t *testing.T) {
			entries, hook := a.policy(t)
			rt := testutil.NewRuntime(t)
			b := testutil.NewBundle(t, "true")
			b.Edit(t, func(s *specs.Spec) { s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{hook}} })
			rt.ExpectRefused(t, b, []string{hooksPolicy(t, entries)}, a.want...)
		})
	}
	// The control: the same kinds of hooks, allowed as they are, run.
	t.Run("control: allowed hooks run", func(t *testing.T) {
		rt := testutil.NewRuntime(t)
		mark := filepath.Join(t.TempDir(), "ran")
		p := hooksCopy(t, hooksSafeDir(t), 0o755)
		b := testutil.NewBundle(t, "true")
		b.Edit(t, func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{
				{Path: p},
				{Path: sh, Args: []string{"sh", "-c", "echo ran > " + mark}, Env: []string{"TRACEPARENT=00-1-2-01"}},
			}}
		})
		rt.RunIn(t, b, hooksPolicy(t, fmt.Sprintf(`%q, {"path": %q, "args": ["sh", "-c", "echo ran > {path}"]}`, p, sh)))
		if got, err := os.ReadFile(mark); err != nil || strings.TrimSpace(string(got)) != "ran" {
			t.Errorf("the allowed hook did not run: %q %v", got, err)
		}
	})
}

// TestHostileHooksSymlinkSwap: a poststop hook whose path is a symlink in
// the bundle to an allowed binary at create, re-pointed to the caller's
// script before delete. What runs at delete is the binary checked at
// create: the script never runs, the allowed hook does.
func TestHostileHooksSymlinkSwap(t *testing.T) {
	sh := hooksBinary(t, "sh")
	for round := range 3 {
		t.Run(fmt.Sprintf("round %d", round), func(t *testing.T) {
			rt := testutil.NewRuntime(t)
			b := testutil.NewBundle(t, "true")
			mark := filepath.Join(b.Dir, "mark")
			evil := filepath.Join(b.Dir, "evil.sh")
			if err := os.WriteFile(evil, []byte("#!"+sh+"\necho evil >> "+mark+"\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			link := filepath.Join(b.Dir, "hook")
			if err := os.Symlink(sh, link); err != nil {
				t.Fatal(err)
			}
			b.Edit(t, func(s *specs.Spec) {
				s.Hooks = &specs.Hooks{Poststop: []specs.Hook{{Path: link, Args: []string{"sh", "-c", "echo pinned >> " + mark}}}}
			})
			policy := hooksPolicy(t, fmt.Sprintf(`{"path": %q, "args": ["sh", "-c", "echo pinned >> {path}"]}`, sh))
			id := rt.NewID()
			if _, errOut, code := rt.Run(policy, "create", "--bundle", b.Dir, id); code != 0 {
				t.Fatalf("create: exit %d: %s", code, errOut)
			}
			// Re-point the symlink, atomically, as an attacker would.
			tmp := link + ".new"
			if err := os.Symlink(evil, tmp); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, link); err != nil {
				t.Fatal(err)
			}
			rt.MustRun(policy, "start", id)
			rt.WaitStatus(id, "stopped", 10*time.Second)
			rt.MustRun(policy, "delete", id)
			got, _ := os.ReadFile(mark)
			if strings.Contains(string(got), "evil") {
				t.Fatalf("the re-pointed hook ran the caller's script at delete: mark %q", got)
			}
			if strings.TrimSpace(string(got)) != "pinned" {
				t.Errorf("the pinned poststop hook did not run once: mark %q", got)
			}
		})
	}
}

// TestHostileHooksPinnedInConfig: the config.json the runtime saves (and
// libcontainer runs) names the resolved binary and a bounded timeout, not
// the caller's symlink and "forever".
func TestHostileHooksPinnedInConfig(t *testing.T) {
	sh := hooksBinary(t, "sh")
	rt := testutil.NewRuntime(t)
	b := testutil.NewBundle(t, "true")
	link := filepath.Join(b.Dir, "hook")
	if err := os.Symlink(sh, link); err != nil {
		t.Fatal(err)
	}
	huge := 1 << 30
	b.Edit(t, func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: link, Args: []string{"sh", "-c", "exit 0"}, Timeout: &huge}}}
	})
	rt.RunIn(t, b, hooksPolicy(t, fmt.Sprintf(`{"path": %q, "args": ["sh", "-c", "exit 0"]}`, sh)))
	saved, err := os.ReadFile(b.ConfigPath())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(saved), `"path":"`+sh+`"`) || strings.Contains(string(saved), `"path":"`+link+`"`) || !strings.Contains(string(saved), `"timeout":120`) {
		t.Errorf("saved config.json does not pin the hook:\n%s", saved)
	}
}

// TestHostileHooksProcExe: Docker's form, a hook named /proc/<pid>/exe of
// a running allowed binary, runs (pinned to the binary) when its args fit,
// and the same path with other args is refused.
func TestHostileHooksProcExe(t *testing.T) {
	sleep := hooksBinary(t, "sleep")
	proc := exec.Command(sleep, "1000")
	if err := proc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proc.Process.Kill(); proc.Wait() })
	exe := fmt.Sprintf("/proc/%d/exe", proc.Process.Pid)
	policy := hooksPolicy(t, fmt.Sprintf(`{"path": %q, "args": ["sleep", "0"]}`, sleep))

	rt := testutil.NewRuntime(t)
	b := testutil.NewBundle(t, "true")
	b.Edit(t, func(s *specs.Spec) { prestart(s, specs.Hook{Path: exe, Args: []string{"sleep", "0"}}) })
	rt.RunIn(t, b, policy)
	if saved, _ := os.ReadFile(b.ConfigPath()); !strings.Contains(string(saved), `"path":"`+sleep+`"`) {
		t.Errorf("the hook was not pinned to %s:\n%s", sleep, saved)
	}

	b2 := testutil.NewBundle(t, "true")
	b2.Edit(t, func(s *specs.Spec) { prestart(s, specs.Hook{Path: exe, Args: []string{"sleep", "1000"}}) })
	rt.ExpectRefused(t, b2, []string{policy}, "prestart hook "+exe+" ("+sleep+`) runs with args ["sleep","1000"], which no "allowedHooks" entry for `+sleep+" allows (rule hooks")
}
