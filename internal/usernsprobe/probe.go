//go:build linux && cgo

package usernsprobe

// #include "probe.h"
import "C"

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/hardened-runtime/hardened/idmap"
)

// ProbeArg is the hidden first argument of the helper run of the binary.
const ProbeArg = C.USERNSPROBE_ARG

// nsGetUserns is NS_GET_USERNS: the owning user namespace of a namespace.
const nsGetUserns = 0xb701

// Read returns the uid and gid mappings, as seen from the host, of the
// user namespace at nsPath or, for another namespace type, of the user
// namespace that owns it. The namespace file is opened once; the helper
// gets that very file.
func Read(nsPath string) (uids, gids []idmap.Mapping, err error) {
	f, err := os.Open(nsPath)
	if err != nil {
		return nil, nil, fmt.Errorf("user namespace %s: %w", nsPath, err)
	}
	defer f.Close()
	t, err := unix.IoctlRetInt(int(f.Fd()), unix.NS_GET_NSTYPE)
	if err != nil {
		return nil, nil, fmt.Errorf("user namespace %s: not a namespace file: %w", nsPath, err)
	}
	if t != unix.CLONE_NEWUSER {
		fd, err := unix.IoctlRetInt(int(f.Fd()), nsGetUserns)
		if err != nil {
			return nil, nil, fmt.Errorf("namespace %s: owning user namespace: %w", nsPath, err)
		}
		f.Close()
		f = os.NewFile(uintptr(fd), "userns")
	}
	return readFile(f)
}

// readFile runs the helper in the user namespace of the file f and
// reads the helper's mappings.
func readFile(f *os.File) (uids, gids []idmap.Mapping, retErr error) {
	cmd := exec.Command("/proc/self/exe", ProbeArg)
	cmd.ExtraFiles = []*os.File{f}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	cmd.Env = []string{}
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("user namespace helper: %w", err)
	}
	defer func() {
		stdin.Close()
		if err := cmd.Wait(); err != nil && retErr == nil {
			retErr = fmt.Errorf("user namespace helper: %w", err)
		}
	}()
	var b [1]byte
	if _, err := io.ReadFull(stdout, b[:]); err != nil || b[0] != 'J' {
		return nil, nil, errors.New("user namespace helper: could not join the namespace")
	}
	proc := "/proc/" + strconv.Itoa(cmd.Process.Pid)
	if uids, err = idmap.ReadIDMap(proc + "/uid_map"); err != nil {
		return nil, nil, err
	}
	if gids, err = idmap.ReadIDMap(proc + "/gid_map"); err != nil {
		return nil, nil, err
	}
	return uids, gids, nil
}
