package integration

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// notifyHost is the caller's end of NOTIFY_SOCKET (systemd's, Podman's):
// it collects what the runtime relays and acknowledges barriers by closing
// the fds they carry.
type notifyHost struct {
	path     string
	conn     *net.UnixConn
	messages chan string
}

func newNotifyHost(t *testing.T) *notifyHost {
	t.Helper()
	dir := t.TempDir()
	h := &notifyHost{path: filepath.Join(dir, "notify.sock"), messages: make(chan string, 16)}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: h.path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	h.conn = conn
	t.Cleanup(func() { conn.Close() })
	go func() {
		buf, oob := make([]byte, 4096), make([]byte, 256)
		for {
			n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
			if err != nil {
				close(h.messages)
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
			h.messages <- string(buf[:n])
		}
	}()
	return h
}

// received returns what arrived so far, waiting up to timeout for the
// first message.
func (h *notifyHost) received(timeout time.Duration) []string {
	var got []string
	deadline := time.After(timeout)
	for {
		select {
		case m, ok := <-h.messages:
			if !ok {
				return got
			}
			got = append(got, m)
			timeout = 200 * time.Millisecond
			deadline = time.After(timeout)
		case <-deadline:
			return got
		}
	}
}

// TestNotifySocketRelay: with NOTIFY_SOCKET set, as systemd and Podman's
// --sdnotify=container set it, the container finds a socket at
// /run/notify/notify.sock, and its READY=1 reaches the caller's socket with
// MAINPID set to the container's init; run --detach returns only then.
// Under the default policy (user namespace) and with hardening off.
func TestNotifySocketRelay(t *testing.T) {
	for name, policy := range map[string]string{"default": "", "off": `{"mode": "off"}`} {
		t.Run(name, func(t *testing.T) {
			rt := testutil.NewRuntime(t)
			global := testutil.PolicyFlags(t, policy)
			b := testutil.NewBundle(t)
			probe := installProbe(t, b)
			b.SetArgs(t, "sh", "-c", `echo "$NOTIFY_SOCKET" > /dev/shm/env; sleep 1; `+probe+` notify=READY=1 > /dev/shm/probe; exec sleep 1000`)
			host := newNotifyHost(t)
			id := rt.NewID()
			ctx, cancel := context.WithTimeout(context.Background(), testutil.DefaultTimeout)
			defer cancel()
			cmd := rt.Command(ctx, append(global, "run", "--detach", "--bundle", b.Dir, id)...)
			cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+host.path)
			start := time.Now()
			if text, err := testutil.RunToFile(t, cmd); err != nil {
				t.Fatalf("run --detach: %v\n%s", err, text)
			}
			if waited := time.Since(start); waited < time.Second {
				t.Errorf("run --detach returned after %v, before the container's READY=1 (sent after 1s)", waited)
			}
			st := rt.MustState(id)
			if env := rt.MustRun("exec", id, "cat", "/dev/shm/env", "/dev/shm/probe"); !strings.Contains(env, "/run/notify/notify.sock\n") || !strings.Contains(env, "READY=1 OK") {
				t.Errorf("in the container: NOTIFY_SOCKET and the probe's answer = %q", env)
			}
			got := strings.Join(host.received(5*time.Second), "|")
			want := fmt.Sprintf("READY=1\nMAINPID=%d\n|BARRIER=1", st.Pid)
			if got != want {
				t.Errorf("the caller's socket received %q, want %q", got, want)
			}
		})
	}
}

// TestNotifySocketCreateStart: created with NOTIFY_SOCKET, the container's
// readiness is relayed by start, which returns once it is ready.
func TestNotifySocketCreateStart(t *testing.T) {
	rt := testutil.NewRuntime(t)
	b := testutil.NewBundle(t)
	probe := installProbe(t, b)
	b.SetArgs(t, "sh", "-c", probe+` notify=READY=1; exec sleep 1000`)
	host := newNotifyHost(t)
	id := rt.NewID()
	for _, sub := range []string{"create", "start"} {
		args := []string{sub, id}
		if sub == "create" {
			args = []string{sub, "--bundle", b.Dir, id}
		}
		ctx, cancel := context.WithTimeout(context.Background(), testutil.DefaultTimeout)
		cmd := rt.Command(ctx, args...)
		cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+host.path)
		text, err := testutil.RunToFile(t, cmd)
		cancel()
		if err != nil {
			t.Fatalf("%s: %v\n%s", sub, err, text)
		}
	}
	st := rt.MustState(id)
	got := strings.Join(host.received(5*time.Second), "|")
	if want := fmt.Sprintf("READY=1\nMAINPID=%d\n|BARRIER=1", st.Pid); got != want {
		t.Errorf("the caller's socket received %q, want %q", got, want)
	}
}

// TestListenFDs: socket activation. A socket systemd passed to the runtime
// (LISTEN_FDS=1, LISTEN_PID=the runtime) reaches the container's init as
// fd 3 with LISTEN_FDS=1 and LISTEN_PID=1, as runc hands it on.
func TestListenFDs(t *testing.T) {
	rt := testutil.NewRuntime(t)
	b := testutil.NewBundle(t, "sh", "-c", `echo "$LISTEN_FDS $LISTEN_PID"; readlink /proc/self/fd/3`)
	l, err := net.Listen("unix", filepath.Join(t.TempDir(), "activation.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	lf, err := l.(*net.UnixListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	var ino syscall.Stat_t
	if err := syscall.Fstat(int(lf.Fd()), &ino); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testutil.DefaultTimeout)
	defer cancel()
	// The shell's PID is the runtime's once it execs: LISTEN_PID names it.
	script := `LISTEN_PID=$$ LISTEN_FDS=1 exec "$@"`
	cmd := exec.CommandContext(ctx, "sh", append([]string{"-c", script, "sh", rt.Bin}, append(rt.Global(), "run", "--bundle", b.Dir, rt.NewID())...)...)
	cmd.ExtraFiles = []*os.File{lf}
	outFile := filepath.Join(t.TempDir(), "run.out")
	out, err := os.Create(outFile)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	// Warnings (e.g. the one about a missing seccomp profile) go to
	// stderr; the container's output is stdout alone.
	errOut, err := os.Create(outFile + ".err")
	if err != nil {
		t.Fatal(err)
	}
	defer errOut.Close()
	cmd.Stdout, cmd.Stderr = out, errOut
	runErr := cmd.Run()
	text, _ := os.ReadFile(outFile)
	if runErr != nil {
		stderr, _ := os.ReadFile(outFile + ".err")
		t.Fatalf("run: %v\n%s%s", runErr, text, stderr)
	}
	want := fmt.Sprintf("1 1\nsocket:[%d]\n", ino.Ino)
	if string(text) != want {
		t.Errorf("container saw %q, want %q", text, want)
	}
}
