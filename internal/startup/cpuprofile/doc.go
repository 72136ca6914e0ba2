// Package cpuprofile writes a CPU profile (pprof format) of one runtime
// command to the file named by $HARDENED_CPUPROFILE, for
// tests/bench/README.md. The container's init is not profiled:
// libcontainer starts it with an environment of its own.
//
// Only a binary built with the cpuprofile tag profiles (make build
// BUILDTAGS="seccomp urfave_cli_no_docs cpuprofile"): runtime/pprof would
// add to every runtime command's binary and peak memory
// (tests/bench/README.md, "Figures behind code comments").
package cpuprofile

// Env names the file that receives the profile.
const Env = "HARDENED_CPUPROFILE"
