// Package criu holds what checkpoint and restore need around
// libcontainer's CRIU support: the criu binary found where libcontainer
// runs it, and the checks of the CRIU options the command line gives.
package criu

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"
)

// EmptyNamespaces returns the namespaces CRIU creates without restoring
// their contents. The network namespace is always among them: the runtime
// does not configure networks, whoever created the container did.
func EmptyNamespaces(names []string) (uint32, error) {
	mask := uint32(unix.CLONE_NEWNET)
	for _, n := range names {
		if n != "network" {
			return 0, fmt.Errorf("--empty-ns: namespace %q is not supported (only \"network\")", n)
		}
	}
	return mask, nil
}

// ParentImage checks --parent-path, which CRIU resolves against the image
// directory.
func ParentImage(images, parent string) (string, error) {
	if parent == "" {
		return "", nil
	}
	if filepath.IsAbs(parent) {
		return "", fmt.Errorf("--parent-path %q: must be relative to --image-path", parent)
	}
	fi, err := os.Stat(filepath.Join(images, parent))
	if err != nil {
		return "", fmt.Errorf("--parent-path: %w", err)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("--parent-path %q: not a directory", parent)
	}
	return parent, nil
}

// PageServer parses --page-server ADDRESS:PORT.
func PageServer(s string) (libcontainer.CriuPageServerInfo, error) {
	if s == "" {
		return libcontainer.CriuPageServerInfo{}, nil
	}
	host, port, err := net.SplitHostPort(s)
	if err == nil && host == "" {
		err = errors.New("missing address")
	}
	if err != nil {
		return libcontainer.CriuPageServerInfo{}, fmt.Errorf("--page-server %q: want ADDRESS:PORT: %w", s, err)
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return libcontainer.CriuPageServerInfo{}, fmt.Errorf("--page-server %q: invalid port %q", s, port)
	}
	return libcontainer.CriuPageServerInfo{Address: host, Port: int32(n)}, nil
}

// Ensure makes sure the criu called name (the global --criu flag; ""
// for "criu") exists and is the one libcontainer will run: libcontainer
// starts "criu" by that name from PATH, so a criu elsewhere must be
// called "criu" and its directory goes first in PATH. command names the
// caller in the error.
func Ensure(name, command string) error {
	if name == "" {
		name = "criu"
	}
	path, err := exec.LookPath(name)
	if err != nil {
		return fmt.Errorf("%s needs criu, which was not found at %q; install the criu package", command, name)
	}
	if filepath.Base(path) != "criu" {
		return fmt.Errorf("--criu %q: the criu binary must be named \"criu\" (it is run by that name from PATH)", name)
	}
	if found, err := exec.LookPath("criu"); err == nil && sameFile(found, path) {
		return nil
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("--criu %q: %w", name, err)
	}
	return os.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
}

// sameFile reports whether a and b are the same file.
func sameFile(a, b string) bool {
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	if err != nil {
		return false
	}
	return os.SameFile(fa, fb)
}
