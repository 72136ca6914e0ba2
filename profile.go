//go:build cpuprofile

package main

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// cpuProfileEnv names a file that receives a CPU profile (pprof format)
// of one runtime command, for tests/bench/README.md. The container's init
// is not profiled: libcontainer starts it with an environment of its own.
// Only a binary built with the cpuprofile tag has it (make build
// BUILDTAGS="seccomp urfave_cli_no_docs cpuprofile"): runtime/pprof
// costs every runtime command ~170 KB of binary and of peak memory.
const cpuProfileEnv = "HARDENED_CPUPROFILE"

// startCPUProfile starts profiling into path and returns the function
// that stops it; with an empty path it does nothing. A profile that cannot
// start is reported on stderr and the command runs unprofiled.
func startCPUProfile(path string) (stop func()) {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "hardened: %s: %v\n", cpuProfileEnv, err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintf(os.Stderr, "hardened: %s: %v\n", cpuProfileEnv, err)
		f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
