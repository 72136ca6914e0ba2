package runner

import (
	"fmt"
	"net"
	"os"
)

// dialPidfdSocket connects to the caller's --pidfd-socket, a unix socket on
// which libcontainer sends a pidfd of the new process once it runs (the
// caller then waits on or signals the process without PID reuse races).
// The returned file is the connection for libcontainer.Process.PidfdSocket;
// close it (and the connection) once the process has started.
func dialPidfdSocket(path string) (*os.File, func(), error) {
	conn, err := net.Dial("unix", path)
	if err != nil {
		return nil, nil, fmt.Errorf("--pidfd-socket: %w", err)
	}
	f, err := conn.(*net.UnixConn).File()
	if err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("--pidfd-socket: %w", err)
	}
	return f, func() {
		f.Close()
		conn.Close()
	}, nil
}
