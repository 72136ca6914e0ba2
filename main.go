// Command hardened is a drop-in OCI container runtime that hardens every
// container it starts. It speaks runc's command line and runs containers
// in-process through runc's libcontainer.
package main

import (
	_ "embed"
	"os"
	"strings"

	// The cgroup manager needs the devices controller linked in to apply
	// the spec's device rules.
	_ "github.com/opencontainers/cgroups/devices"
	"github.com/opencontainers/runc/libcontainer"
	// nsenter runs its C constructor before the Go runtime starts when the
	// binary is re-executed as "hardened init"; it must be linked in.
	_ "github.com/opencontainers/runc/libcontainer/nsenter"

	// A syscall through an ABI the seccomp profile does not list gets
	// ENOSYS instead of a SIGSYS kill (the init builds the filter).
	_ "github.com/hardened-runtime/hardened/internal/seccomp/foreignabi"
	"github.com/hardened-runtime/hardened/internal/startup/growstack"
	// Starts the runtime's own processes with GOMAXPROCS=1 unless set.
	_ "github.com/hardened-runtime/hardened/internal/startup/oneproc"
	// Its C side also serves containers' inits compiled seccomp filters.
	seccompcache "github.com/hardened-runtime/hardened/internal/seccomp/cache"
	"github.com/hardened-runtime/hardened/internal/startup/cpuprofile"
	// The recorder of a container's system calls (learned profiles).
	"github.com/hardened-runtime/hardened/internal/learn"
	"github.com/hardened-runtime/hardened/shim"
)

func init() {
	// Before anything calls deep: the stack's growth would otherwise walk
	// deep frames and fault in much of the pclntab.
	growstack.Grow()
	// libcontainer re-executes this binary as "<argv0> init" to become the
	// container's init. That path must never reach the CLI.
	if len(os.Args) > 1 && os.Args[1] == "init" {
		libcontainer.Init()
	}
	// The runtime runs this binary to compile a seccomp filter for the
	// cache; that is not a CLI command either.
	if len(os.Args) > 1 && os.Args[1] == seccompcache.HelperArg {
		os.Exit(seccompcache.HelperMain(os.Args[2:]))
	}
	// A container's learned-profile recorder (see internal/learn).
	if len(os.Args) > 1 && os.Args[1] == learn.RecorderArg {
		os.Exit(learn.RecorderMain(os.Args[2:]))
	}
}

// version is the release version, kept in the VERSION file.
//
//go:embed VERSION
var version string

// gitCommit is set at build time with -ldflags "-X main.gitCommit=...".
var gitCommit = ""

func main() {
	stop := cpuprofile.Start(os.Getenv(cpuprofile.Env))
	code := shim.Main(os.Args, shim.BuildInfo{Version: strings.TrimSpace(version), Commit: gitCommit})
	stop()
	os.Exit(code)
}
