package runner

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/containerd/console"
	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"
)

// stdio wires a container process to the runtime's standard streams: a
// terminal (sent to a console socket, or kept on the user's own tty), pipes
// copied by the runtime, or the runtime's own stdio inherited outright.
type stdio struct {
	host       console.Console // the user's terminal, for `run -t` in the foreground
	pty        console.Console // the container's terminal master, in the foreground
	consoleErr chan error      // delivers the pty master in the foreground
	afterStart []io.Closer     // our copies of what the process now holds
	closers    []io.Closer
	copying    sync.WaitGroup
}

// stdioOptions says how a process's stdio is to be set up.
type stdioOptions struct {
	terminal      bool
	detach        bool
	consoleSocket string
	rootUID       int
	rootGID       int
}

// setupStdio prepares process's stdio according to opts.
func setupStdio(process *libcontainer.Process, opts stdioOptions) (_ *stdio, retErr error) {
	s := &stdio{}
	defer func() {
		if retErr != nil {
			s.Close()
		}
	}()
	switch {
	case opts.terminal && opts.detach:
		if opts.consoleSocket == "" {
			return nil, errors.New("a terminal for a detached process needs --console-socket")
		}
		conn, err := net.Dial("unix", opts.consoleSocket)
		if err != nil {
			return nil, fmt.Errorf("console socket: %w", err)
		}
		f, err := conn.(*net.UnixConn).File()
		_ = conn.Close()
		if err != nil {
			return nil, fmt.Errorf("console socket: %w", err)
		}
		process.ConsoleSocket = f
		s.afterStart = append(s.afterStart, f)
	case opts.terminal:
		if opts.consoleSocket != "" {
			return nil, errors.New("--console-socket is only for detached processes")
		}
		if err := s.openHostTerminal(); err != nil {
			return nil, err
		}
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("console socketpair: %w", err)
		}
		ours, theirs := os.NewFile(uintptr(fds[0]), "console-parent"), os.NewFile(uintptr(fds[1]), "console-child")
		process.ConsoleSocket = theirs
		s.afterStart = append(s.afterStart, ours, theirs)
		s.consoleErr = make(chan error, 1)
		go func() { s.consoleErr <- s.receiveTerminal(ours) }()
	case opts.consoleSocket != "":
		return nil, errors.New("--console-socket needs a terminal (process.terminal or --tty)")
	case opts.detach:
		process.Stdin, process.Stdout, process.Stderr = os.Stdin, os.Stdout, os.Stderr
	default:
		pipes, err := process.InitializeIO(opts.rootUID, opts.rootGID)
		if err != nil {
			return nil, fmt.Errorf("stdio pipes: %w", err)
		}
		s.closers = append(s.closers, pipes.Stdin, pipes.Stdout, pipes.Stderr)
		for _, held := range []any{process.Stdin, process.Stdout, process.Stderr} {
			if c, ok := held.(io.Closer); ok {
				s.afterStart = append(s.afterStart, c)
			}
		}
		go func() {
			_, _ = io.Copy(pipes.Stdin, os.Stdin)
			_ = pipes.Stdin.Close()
		}()
		s.copy(os.Stdout, pipes.Stdout)
		s.copy(os.Stderr, pipes.Stderr)
	}
	return s, nil
}

func (s *stdio) copy(w io.Writer, r io.Reader) {
	s.copying.Add(1)
	go func() {
		defer s.copying.Done()
		_, _ = io.Copy(w, r)
	}()
}

// openHostTerminal finds the user's terminal among our stdio, or /dev/tty.
func (s *stdio) openHostTerminal() error {
	for _, f := range []*os.File{os.Stdin, os.Stdout, os.Stderr} {
		if c, err := console.ConsoleFromFile(f); err == nil {
			s.host = c
			return nil
		}
	}
	f, err := os.Open("/dev/tty")
	if err != nil {
		return fmt.Errorf("a terminal was requested but there is none: %w", err)
	}
	c, err := console.ConsoleFromFile(f)
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("a terminal was requested but there is none: %w", err)
	}
	s.host = c
	return nil
}

// receiveTerminal takes the pty master that the container's init sends
// over sock and connects it to the user's terminal.
func (s *stdio) receiveTerminal(sock *os.File) error {
	master, err := receiveFile(sock)
	if err != nil {
		return fmt.Errorf("receive terminal: %w", err)
	}
	pty, err := console.ConsoleFromFile(master)
	if err != nil {
		return fmt.Errorf("receive terminal: %w", err)
	}
	if err := console.ClearONLCR(pty.Fd()); err != nil {
		return fmt.Errorf("receive terminal: %w", err)
	}
	if err := s.host.SetRaw(); err != nil {
		return fmt.Errorf("set the terminal to raw mode: %w", err)
	}
	s.pty = pty
	s.closers = append(s.closers, pty)
	go func() { _, _ = io.Copy(pty, os.Stdin) }()
	s.copy(os.Stdout, pty)
	return nil
}

// receiveFile receives one file descriptor sent with SCM_RIGHTS.
func receiveFile(sock *os.File) (*os.File, error) {
	name := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := unix.Recvmsg(int(sock.Fd()), name, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return nil, err
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return nil, err
	}
	if len(msgs) != 1 {
		return nil, fmt.Errorf("expected one control message, got %d", len(msgs))
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil {
		return nil, err
	}
	if len(fds) != 1 {
		for _, fd := range fds {
			_ = unix.Close(fd)
		}
		return nil, fmt.Errorf("expected one file descriptor, got %d", len(fds))
	}
	return os.NewFile(uintptr(fds[0]), string(name[:n])), nil
}

// waitTerminal waits until a foreground terminal is connected.
func (s *stdio) waitTerminal() error {
	if s.consoleErr == nil {
		return nil
	}
	return <-s.consoleErr
}

// resize copies the user's terminal size to the container's.
func (s *stdio) resize() {
	if s.pty != nil && s.host != nil {
		_ = s.pty.ResizeFrom(s.host)
	}
}

// closeAfterStart drops our copies of what the started process holds.
func (s *stdio) closeAfterStart() {
	for _, c := range s.afterStart {
		_ = c.Close()
	}
	s.afterStart = nil
}

// Close waits for output to be copied out and restores the user's terminal.
func (s *stdio) Close() {
	s.closeAfterStart()
	done := make(chan struct{})
	go func() {
		s.copying.Wait()
		close(done)
	}()
	if s.pty != nil {
		// A process the container left behind may hold the terminal open;
		// do not wait for it forever once the container's process is gone.
		select {
		case <-done:
		case <-time.After(time.Second):
		}
	} else {
		<-done
	}
	for _, c := range s.closers {
		_ = c.Close()
	}
	if s.host != nil {
		_ = s.host.Reset()
	}
}
