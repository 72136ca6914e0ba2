package runner

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// notifyDirInContainer is where the container finds the notify socket, as
// runc places it: NOTIFY_SOCKET=/run/notify/notify.sock.
const notifyDirInContainer = "/run/notify"

// notifySocketName is the socket's name in its directory.
const notifySocketName = "notify.sock"

// NotifySocket relays sd_notify(3) readiness from a container to the
// caller's NOTIFY_SOCKET (systemd, Podman's --sdnotify=container), as runc
// does: the runtime binds a datagram socket in the container's state
// directory, which the container sees read-only at /run/notify, and passes
// the first READY=1 on with MAINPID set to the container's init.
//
// The socket's directory belongs to the runtime (under --root, made after
// every refusal ran); only the caller's environment, not config.json,
// asks for it.
type NotifySocket struct {
	// host is the caller's NOTIFY_SOCKET.
	host string
	// dir is <root>/<id>/notify on the host.
	dir    string
	socket *net.UnixConn
}

// NewNotifySocket returns nil unless the caller set NOTIFY_SOCKET.
func NewNotifySocket(root, id, host string) *NotifySocket {
	if host == "" {
		return nil
	}
	return &NotifySocket{host: host, dir: filepath.Join(root, id, "notify")}
}

// SetupSpec adds the socket's directory (read-only) and NOTIFY_SOCKET to
// the spec libcontainer gets. It runs after hardening, on the runtime's
// own mount, and is not saved to the bundle.
func (s *NotifySocket) SetupSpec(sp *specs.Spec) {
	if s == nil || sp.Process == nil {
		return
	}
	sp.Mounts = append(sp.Mounts, specs.Mount{
		Destination: notifyDirInContainer,
		Source:      s.dir,
		Type:        "bind",
		Options:     []string{"bind", "nosuid", "noexec", "nodev", "ro"},
	})
	env := make([]string, 0, len(sp.Process.Env)+1)
	env = append(env, sp.Process.Env...)
	sp.Process.Env = append(env, "NOTIFY_SOCKET="+filepath.Join(notifyDirInContainer, notifySocketName))
}

// Prepare makes the socket's directory, once the container's state
// directory exists and before the init mounts it, and with listen binds
// the socket at once (run; create leaves that to start).
func (s *NotifySocket) Prepare(listen bool) error {
	if s == nil {
		return nil
	}
	if err := os.Mkdir(s.dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("notify socket: %w", err)
	}
	if listen {
		return s.bind()
	}
	return nil
}

// bind listens on the socket. Any user in the container may send to it
// (a service need not be root), hence mode 0777.
func (s *NotifySocket) bind() error {
	if s == nil {
		return nil
	}
	path := filepath.Join(s.dir, notifySocketName)
	_ = os.Remove(path) // a socket left by an earlier start
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("notify socket: %w", err)
	}
	if err := os.Chmod(path, 0o777); err != nil {
		conn.Close()
		return fmt.Errorf("notify socket: %w", err)
	}
	s.socket = conn
	return nil
}

// StartNotify binds the notify socket of a created container for start,
// when the caller set NOTIFY_SOCKET (host) and the container was created
// with one (its directory exists); otherwise it returns nil.
func StartNotify(root, id, host string) (*NotifySocket, error) {
	s := NewNotifySocket(root, id, host)
	if s == nil {
		return nil, nil
	}
	if _, err := os.Stat(s.dir); err != nil {
		logrus.Debugf("container %s: created without NOTIFY_SOCKET, not relaying readiness", id)
		return nil, nil
	}
	if err := s.bind(); err != nil {
		return nil, err
	}
	return s, nil
}

// Close stops listening.
func (s *NotifySocket) Close() {
	if s != nil && s.socket != nil {
		s.socket.Close()
	}
}

// Relay waits for the container's READY=1 and passes it on to the host
// socket with MAINPID=pid, then waits for the host's acknowledgement
// (BARRIER=1). It returns early, with no error, once pid is gone.
func (s *NotifySocket) Relay(pid int) error {
	if s == nil || s.socket == nil {
		return nil
	}
	ready := make(chan []byte, 1)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := s.socket.Read(buf)
			if err != nil {
				return
			}
			for _, line := range bytes.Split(buf[:n], []byte{'\n'}) {
				if bytes.HasPrefix(line, []byte("READY=")) {
					ready <- append([]byte{}, line...)
					return
				}
			}
		}
	}()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			if unix.Kill(pid, 0) == unix.ESRCH {
				return nil
			}
		case line := <-ready:
			return notifyHost(s.host, line, pid)
		}
	}
}

// notifyHost sends the readiness line and MAINPID to the host socket and
// waits for systemd to take them (sd_notify_barrier).
func notifyHost(host string, ready []byte, pid int) error {
	client, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: host, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("NOTIFY_SOCKET %s: %w", host, err)
	}
	defer client.Close()
	msg := append(append([]byte{}, ready...), []byte("\nMAINPID="+strconv.Itoa(pid)+"\n")...)
	if _, err := client.Write(msg); err != nil {
		return fmt.Errorf("NOTIFY_SOCKET %s: %w", host, err)
	}
	return notifyBarrier(client)
}

// notifyBarrier sends BARRIER=1 with a pipe's write end and waits until the
// host closes it, so the messages before it were processed. A host that
// does not know barriers is given 30 seconds.
func notifyBarrier(client *net.UnixConn) error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	// Go refuses WriteMsgUnix on a connected datagram socket: sendmsg
	// on its fd.
	raw, err := client.SyscallConn()
	if err != nil {
		w.Close()
		return err
	}
	ctlErr := raw.Write(func(fd uintptr) bool {
		err = unix.Sendmsg(int(fd), []byte("BARRIER=1"), unix.UnixRights(int(w.Fd())), nil, 0)
		return err != unix.EAGAIN
	})
	w.Close()
	if err == nil {
		err = ctlErr
	}
	if err != nil {
		return fmt.Errorf("NOTIFY_SOCKET barrier: %w", err)
	}
	if err := r.SetReadDeadline(time.Now().Add(30 * time.Second)); err != nil {
		return nil
	}
	var b [1]byte
	n, err := r.Read(b[:])
	switch {
	case n == 0 && errors.Is(err, io.EOF):
		return nil
	case errors.Is(err, os.ErrDeadlineExceeded):
		logrus.Warn("NOTIFY_SOCKET: no barrier acknowledgement in 30s; ignored")
		return nil
	case err == nil:
		return errors.New("NOTIFY_SOCKET barrier: unexpected data on the barrier pipe")
	default:
		return fmt.Errorf("NOTIFY_SOCKET barrier: %w", err)
	}
}

// ListenFiles returns the sockets systemd passed for socket activation
// (LISTEN_FDS, meant for this process: LISTEN_PID), to be handed on to the
// container's init at the same numbers (fd 3 on) with LISTEN_FDS and
// LISTEN_PID=1 in its environment. They are marked close-on-exec here so
// no other child of ours inherits them.
func ListenFiles() []*os.File {
	pid, err := strconv.Atoi(os.Getenv("LISTEN_PID"))
	if err != nil || pid != os.Getpid() {
		return nil
	}
	n, err := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	if err != nil || n <= 0 {
		return nil
	}
	files := make([]*os.File, 0, n)
	for fd := 3; fd < 3+n; fd++ {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
			logrus.Warnf("LISTEN_FDS=%d: fd %d is not open", n, fd)
			break
		}
		unix.CloseOnExec(fd)
		files = append(files, os.NewFile(uintptr(fd), "listen-fd-"+strconv.Itoa(fd)))
	}
	return files
}
