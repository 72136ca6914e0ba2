//go:build cpuprofile

package cpuprofile

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// Start starts profiling into path and returns the function that stops
// it; with an empty path it does nothing. A profile that cannot start is
// reported on stderr and the command runs unprofiled.
func Start(path string) (stop func()) {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "hardened: %s: %v\n", Env, err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintf(os.Stderr, "hardened: %s: %v\n", Env, err)
		f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
