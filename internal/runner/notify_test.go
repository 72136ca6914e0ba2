package runner

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Without NOTIFY_SOCKET nothing is set up; with it the container gets
// the socket's directory read-only and NOTIFY_SOCKET, and the caller's
// environment slice is not written through.
func TestNotifySocketSetupSpec(t *testing.T) {
	if s := NewNotifySocket("/run/r", "c1", ""); s != nil {
		t.Fatalf("no NOTIFY_SOCKET: %+v", s)
	}
	var none *NotifySocket
	none.SetupSpec(&specs.Spec{Process: &specs.Process{}})
	if err := none.Prepare(true); err != nil {
		t.Errorf("Prepare of no socket: %v", err)
	}
	none.Close()

	s := NewNotifySocket("/run/r", "c1", "/run/systemd/notify")
	env := make([]string, 1, 4)
	env[0] = "PATH=/bin"
	sp := &specs.Spec{Process: &specs.Process{Env: env}}
	s.SetupSpec(sp)
	m := sp.Mounts[len(sp.Mounts)-1]
	if m.Destination != "/run/notify" || m.Source != "/run/r/c1/notify" || !slices.Contains(m.Options, "ro") {
		t.Errorf("notify mount %+v", m)
	}
	if !slices.Equal(sp.Process.Env, []string{"PATH=/bin", "NOTIFY_SOCKET=/run/notify/notify.sock"}) {
		t.Errorf("env %q", sp.Process.Env)
	}
	if env[:cap(env)][1] != "" {
		t.Error("SetupSpec wrote into the caller's env array")
	}
}

// The first READY= line the container sends reaches the host's socket
// with MAINPID, and relay returns once the host acknowledged the barrier
// (closed the pipe it was sent).
func TestNotifyRelay(t *testing.T) {
	dir := t.TempDir()
	hostPath := filepath.Join(dir, "host.sock")
	host, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: hostPath, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	if err := os.MkdirAll(filepath.Join(dir, "root", "c1"), 0o700); err != nil {
		t.Fatal(err)
	}
	s := NewNotifySocket(filepath.Join(dir, "root"), "c1", hostPath)
	if err := s.Prepare(true); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got := make(chan []byte, 1)
	go func() {
		// The host: take the readiness message, then the barrier, whose
		// fd it closes.
		buf, oob := make([]byte, 4096), make([]byte, 128)
		n, _, _, _, err := host.ReadMsgUnix(buf, oob)
		if err != nil {
			return
		}
		got <- append([]byte{}, buf[:n]...)
		_, oobn, _, _, err := host.ReadMsgUnix(buf, oob)
		if err != nil {
			return
		}
		msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
		for _, m := range msgs {
			fds, _ := unix.ParseUnixRights(&m)
			for _, fd := range fds {
				unix.Close(fd)
			}
		}
	}()
	container, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: filepath.Join(s.dir, notifySocketName), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer container.Close()
	if _, err := container.Write([]byte("STATUS=starting\nREADY=1\n")); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Relay(os.Getpid()) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("relay did not return")
	}
	msg := <-got
	if !bytes.HasPrefix(msg, []byte("READY=1\n")) || !bytes.Contains(msg, []byte("MAINPID="+strconv.Itoa(os.Getpid())+"\n")) {
		t.Errorf("host got %q", msg)
	}
}

// StartNotify does nothing for a container created without a notify
// socket, or when the caller set none.
func TestStartNotifyWithoutSocket(t *testing.T) {
	root := t.TempDir()
	if s, err := StartNotify(root, "c1", "/run/host.sock"); s != nil || err != nil {
		t.Errorf("container created without a socket: %v, %v", s, err)
	}
	if s, err := StartNotify(root, "c1", ""); s != nil || err != nil {
		t.Errorf("no NOTIFY_SOCKET: %v, %v", s, err)
	}
}

// Socket activation's fds are taken only when they were meant for this
// process (LISTEN_PID).
func TestListenFilesOtherPID(t *testing.T) {
	t.Setenv("LISTEN_PID", strconv.Itoa(os.Getpid()+1))
	t.Setenv("LISTEN_FDS", "2")
	if files := ListenFiles(); files != nil {
		t.Errorf("fds meant for another process taken: %v", files)
	}
}
