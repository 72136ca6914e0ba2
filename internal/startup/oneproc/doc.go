// Package oneproc starts every process of this binary (the CLI commands,
// the container's init that libcontainer re-executes, the seccomp cache
// helper) with GOMAXPROCS=1 unless the operator set GOMAXPROCS.
//
// A runtime command is short and sequential: it reads a bundle, forks,
// waits on pipes; a second P buys it nothing, and costs it memory and
// time (measured on create: tests/bench/README.md, "Figures behind code
// comments"). Setting it from Go (runtime.GOMAXPROCS in an init) came too
// late to change the memory.
//
// The Go runtime reads GOMAXPROCS once, before any Go code runs, from the
// environment on the initial stack (right after argv), not from libc's
// environ. So the binary is linked with its own entry point
// (-e hardenedentry, amd64 only): when GOMAXPROCS is unset or empty it
// copies the kernel's argv, environment and auxiliary vector below
// themselves with GOMAXPROCS=1 added, and enters libc's _start on the copy.
// (Wrapping C main with --wrap=main would be simpler, but breaks the test
// link Go uses to probe -no-pie, and the binary would come out a PIE with
// text relocations.) The package's Go init removes the variable again, so
// nothing the runtime starts (hooks, the container's process, helper
// programs) inherits it; libcontainer passes the then empty GOMAXPROCS to
// the init, which adds it again for itself.
//
// Import it for its effect, in the main package.
package oneproc
