package learn

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// SocketDir holds the recorders' listening sockets (root only).
const SocketDir = "/run/hardened-learn"

// Recorder is a started recorder process.
type Recorder struct {
	// Path is its socket, the filter's listenerPath.
	Path string
	// Pid is its process ID.
	Pid int
}

// SocketPath is the listening socket of the recorder of container id of
// state root root: short (a unix socket path is at most 107 bytes) and
// distinct per root and ID.
func SocketPath(dir, root, id string) string {
	sum := sha256.Sum256([]byte(root + "\x00" + id))
	return filepath.Join(dir, hex.EncodeToString(sum[:10])+".sock")
}

// Start binds the recorder's socket at path (in a root-only directory
// owned by this user) and starts the recorder (exe, usually
// /proc/self/exe, with RecorderArg) detached in its own session, with
// the listening socket as fd 3. A container's filter can be pointed at
// path at once: connections queue until the recorder accepts them.
func Start(exe, path string, cfg RecorderConfig) (*Recorder, error) {
	if err := secureDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	cfg.Socket = path
	raw, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("recorder: %w", err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("recorder socket: %w", err)
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("recorder socket: %w", err)
	}
	lf := os.NewFile(uintptr(fd), path)
	defer lf.Close()
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		return nil, fmt.Errorf("recorder socket %s: bind: %w", path, err)
	}
	if err := unix.Listen(fd, 64); err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("recorder socket %s: listen: %w", path, err)
	}
	cmd := exec.Command(exe, RecorderArg, string(raw))
	cmd.ExtraFiles = []*os.File{lf}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("recorder: %w", err)
	}
	pid := cmd.Process.Pid
	_ = cmd.Process.Release()
	return &Recorder{Path: path, Pid: pid}, nil
}

// Abort stops a recorder whose container was not created, and removes
// its socket.
func (r *Recorder) Abort() {
	if r == nil {
		return
	}
	_ = unix.Kill(r.Pid, unix.SIGKILL)
	var ws unix.WaitStatus
	_, _ = unix.Wait4(r.Pid, &ws, 0, nil)
	_ = os.Remove(r.Path)
}

// secureDir makes dir (mode 0700) and checks that it is a directory of
// this user's that no one else can write, not a symlink.
func secureDir(dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("recorder sockets: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return fmt.Errorf("recorder sockets: %w", &os.PathError{Op: "lstat", Path: dir, Err: err})
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR || int(st.Uid) != os.Geteuid() || st.Mode&0o077 != 0 {
		return fmt.Errorf("recorder sockets: %s is not a directory of uid %d with mode 0700", dir, os.Geteuid())
	}
	return nil
}
