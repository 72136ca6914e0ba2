package hostile

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// The NOTIFY_SOCKET relay (docs/runc-parity.md) gives a container a socket
// whose messages the runtime passes to the host's systemd. What the
// container sends there, and what its bundle says, must not reach further
// than "this container is ready".

// notifyProbe is tests/probe built once for this package.
var notifyProbe struct {
	once sync.Once
	data []byte
	err  error
}

// notifyInstallProbe writes tests/probe (its notify=MSG sends one datagram
// to $NOTIFY_SOCKET) to <rootfs>/probe and returns its path inside.
func notifyInstallProbe(t *testing.T, b *testutil.Bundle) string {
	t.Helper()
	notifyProbe.once.Do(func() {
		root, err := testutil.ModuleRoot()
		if err != nil {
			notifyProbe.err = err
			return
		}
		dir, err := os.MkdirTemp("", "hardened-notify-probe-")
		if err != nil {
			notifyProbe.err = err
			return
		}
		defer os.RemoveAll(dir)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		out := filepath.Join(dir, "probe")
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", out, "./tests/probe")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if msg, err := cmd.CombinedOutput(); err != nil {
			notifyProbe.err = fmt.Errorf("go build ./tests/probe: %w\n%s", err, msg)
			return
		}
		notifyProbe.data, notifyProbe.err = os.ReadFile(out)
	})
	if notifyProbe.err != nil {
		t.Fatal(notifyProbe.err)
	}
	if err := os.WriteFile(filepath.Join(b.Rootfs, "probe"), notifyProbe.data, 0o755); err != nil {
		t.Fatal(err)
	}
	return "/probe"
}

// notifyListen is the host's end of NOTIFY_SOCKET: it returns the socket's
// path and a function returning what arrived (barrier fds closed, so the
// runtime is not kept waiting).
func notifyListen(t *testing.T) (string, func() []string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	var mu sync.Mutex
	var got []string
	go func() {
		buf, oob := make([]byte, 4096), make([]byte, 256)
		for {
			n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
			if err != nil {
				return
			}
			if msgs, err := syscall.ParseSocketControlMessage(oob[:oobn]); err == nil {
				for _, m := range msgs {
					fds, _ := syscall.ParseUnixRights(&m)
					for _, fd := range fds {
						syscall.Close(fd)
					}
				}
			}
			mu.Lock()
			got = append(got, string(buf[:n]))
			mu.Unlock()
		}
	}()
	return path, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string{}, got...)
	}
}

// notifyRun runs the bundle detached with NOTIFY_SOCKET=host (global
// flags first) and returns the container's ID, or fails the test.
func notifyRun(t *testing.T, rt *testutil.Runtime, b *testutil.Bundle, host string, global ...string) string {
	t.Helper()
	id := rt.NewID()
	ctx, cancel := context.WithTimeout(context.Background(), testutil.DefaultTimeout)
	defer cancel()
	cmd := rt.Command(ctx, append(global, "run", "--detach", "--bundle", b.Dir, id)...)
	if host != "" {
		cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+host)
	}
	if text, err := testutil.RunToFile(t, cmd); err != nil {
		t.Fatalf("run --detach: %v\n%s", err, text)
	}
	rt.WaitStatus(id, "running", 5*time.Second)
	return id
}

// TestHostileNotifyMainPIDSpoof: a container that sends MAINPID=1 (or any
// host PID) with its READY=1 would have systemd watch, and on stop kill,
// that process. Only the READY line is relayed, with the init's PID.
func TestHostileNotifyMainPIDSpoof(t *testing.T) {
	rt := testutil.NewRuntime(t)
	b := testutil.NewBundle(t)
	probe := notifyInstallProbe(t, b)
	b.SetArgs(t, "sh", "-c", probe+" 'notify=MAINPID=1\nREADY=1\nSTATUS=pwned\nMAINPID=1' >/dev/null; exec sleep 1000")
	host, received := notifyListen(t)
	id := notifyRun(t, rt, b, host)
	pid := rt.MustState(id).Pid
	time.Sleep(200 * time.Millisecond)
	got := strings.Join(received(), "|")
	if want := fmt.Sprintf("READY=1\nMAINPID=%d\n|BARRIER=1", pid); got != want {
		t.Errorf("the host's socket received %q, want only %q", got, want)
	}
}

// TestHostileNotifyDirReadOnly: the socket's directory is mounted
// read-only: the container can neither replace the socket nor plant files
// in the runtime's state directory through it. Under the default policy
// the user namespace alone would stop it; with hardening off (a host
// root that owns the directory) only the read-only mount does.
func TestHostileNotifyDirReadOnly(t *testing.T) {
	for name, policy := range map[string]string{"default": "", "off": `{"mode": "off"}`} {
		t.Run(name, func(t *testing.T) {
			rt := testutil.NewRuntime(t)
			global := testutil.PolicyFlags(t, policy)
			b := testutil.NewBundle(t)
			// run --detach returns once the container is ready.
			b.SetArgs(t, "sh", "-c", notifyInstallProbe(t, b)+" notify=READY=1 >/dev/null; exec sleep 1000")
			host, _ := notifyListen(t)
			id := notifyRun(t, rt, b, host, global...)
			for _, cmd := range []string{"touch /run/notify/planted", "rm -f /run/notify/notify.sock", "mkdir /run/notify/d"} {
				if _, _, exit := rt.Run("exec", id, "sh", "-c", cmd+" 2>/dev/null"); exit == 0 {
					t.Errorf("in the container, %q succeeded in the notify directory", cmd)
				}
			}
			if _, err := os.Stat(filepath.Join(rt.Root, id, "notify", "planted")); err == nil {
				t.Errorf("a file appeared in the runtime's state directory")
			}
		})
	}
}

// TestHostileNotifyNotFromConfig: the relay is the caller's to ask for
// (NOTIFY_SOCKET in the runtime's environment), not config.json's: a
// bundle that sets NOTIFY_SOCKET in its process env gets no socket and no
// mount, and nothing reaches the host.
func TestHostileNotifyNotFromConfig(t *testing.T) {
	rt := testutil.NewRuntime(t)
	b := testutil.NewBundle(t)
	host, received := notifyListen(t)
	b.Edit(t, func(s *specs.Spec) {
		s.Process.Env = append(s.Process.Env, "NOTIFY_SOCKET="+host)
		s.Process.Args = []string{"sleep", "1000"}
	})
	id := notifyRun(t, rt, b, "")
	if out, _, exit := rt.Run("exec", id, "ls", "/run/notify"); exit == 0 {
		t.Errorf("/run/notify exists in a container created without NOTIFY_SOCKET: %q", out)
	}
	if _, err := os.Stat(filepath.Join(rt.Root, id, "notify")); err == nil {
		t.Errorf("the runtime made a notify directory for a container created without NOTIFY_SOCKET")
	}
	if got := received(); len(got) > 0 {
		t.Errorf("the host's socket received %q", got)
	}
}

// TestHostileNotifyRunSymlink: the rootfs's /run is a symlink to a host
// directory. The runtime's /run/notify mount is resolved inside the rootfs
// (libcontainer's safe path resolution), so nothing is mounted on the host
// path; the container either runs with the socket inside its rootfs or is
// refused.
func TestHostileNotifyRunSymlink(t *testing.T) {
	rt := testutil.NewRuntime(t)
	b := testutil.NewBundle(t)
	b.SetArgs(t, "sh", "-c", notifyInstallProbe(t, b)+" notify=READY=1 >/dev/null; exec sleep 1000")
	target := t.TempDir()
	if err := os.RemoveAll(filepath.Join(b.Rootfs, "run")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(b.Rootfs, "run")); err != nil {
		t.Fatal(err)
	}
	host, _ := notifyListen(t)
	id := rt.NewID()
	ctx, cancel := context.WithTimeout(context.Background(), testutil.DefaultTimeout)
	defer cancel()
	cmd := rt.Command(ctx, "run", "--detach", "--bundle", b.Dir, id)
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+host)
	_, _ = testutil.RunToFile(t, cmd) // refused or not: what matters is the host's mounts
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(mounts), target) {
		t.Errorf("a mount appeared on the host under %s (the rootfs's /run symlink target)", target)
	}
	if entries, _ := os.ReadDir(target); len(entries) > 0 {
		t.Errorf("the runtime created %v in the host directory %s", entries, target)
	}
}
