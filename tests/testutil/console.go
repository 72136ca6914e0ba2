package testutil

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// ConsoleSocket is the receiving end of --console-socket: the runtime
// connects to it and sends the pty master of the container's terminal as
// an SCM_RIGHTS message, as containerd's shim expects.
type ConsoleSocket struct {
	Path string
	l    *net.UnixListener
}

// NewConsoleSocket listens on a fresh unix socket (in a short temporary
// directory: socket paths are limited to 108 bytes) and closes it, with any
// received master, at cleanup.
func NewConsoleSocket(tb testing.TB) *ConsoleSocket {
	tb.Helper()
	dir, err := os.MkdirTemp("", "hcs-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	p := filepath.Join(dir, "console.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: p, Net: "unix"})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { l.Close() })
	return &ConsoleSocket{Path: p, l: l}
}

// Receive accepts one connection and returns the pty master it carries.
// The caller closes the file.
func (cs *ConsoleSocket) Receive(ctx context.Context) (*os.File, error) {
	if dl, ok := ctx.Deadline(); ok {
		cs.l.SetDeadline(dl)
	}
	conn, err := cs.l.AcceptUnix()
	if err != nil {
		return nil, fmt.Errorf("console socket %s: accept: %w", cs.Path, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	name := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4*4))
	n, oobn, _, _, err := conn.ReadMsgUnix(name, oob)
	if err != nil {
		return nil, fmt.Errorf("console socket %s: recvmsg: %w", cs.Path, err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return nil, fmt.Errorf("console socket %s: %w", cs.Path, err)
	}
	var fds []int
	for _, m := range msgs {
		rights, err := unix.ParseUnixRights(&m)
		if err != nil {
			continue
		}
		fds = append(fds, rights...)
	}
	if len(fds) != 1 {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return nil, fmt.Errorf("console socket %s: got %d file descriptors, want 1 (message %q)", cs.Path, len(fds), name[:n])
	}
	return os.NewFile(uintptr(fds[0]), string(name[:n])), nil
}
