package shim

import (
	"fmt"
	"io"
	"runtime"

	"github.com/opencontainers/runc/libcontainer/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// printVersion prints the lines Docker and containerd parse from
// `<runtime> --version`: a "<name> version X" line and a "commit:" line.
func printVersion(w io.Writer, build BuildInfo) error {
	fmt.Fprintln(w, "hardened version", build.Version)
	if build.Commit != "" {
		fmt.Fprintln(w, "commit:", build.Commit)
	}
	fmt.Fprintln(w, "spec:", specs.Version)
	fmt.Fprintln(w, "go:", runtime.Version())
	if major, minor, micro := seccomp.Version(); major+minor+micro > 0 {
		fmt.Fprintf(w, "libseccomp: %d.%d.%d\n", major, minor, micro)
	}
	return nil
}
