// Package prefault maps the binary's whole code segment into the process
// with one madvise(MADV_POPULATE_READ) before the Go runtime starts,
// instead of letting it arrive through page faults.
//
// Every start of this binary (create, start, delete, and the container's
// init that libcontainer re-executes) runs the Go runtime and ~90 package
// inits spread over a 4.4 MB text segment. Nearly every 64 KiB window of
// it gets touched (tests/bench/README.md), one page fault each, and on a
// virtual machine a fault is dear: mapping the segment at once saves
// ~5-10 ms per create-start-delete cycle here (3-5%). The price is the
// ~10% of the text no command touches, ~0.5 MB more resident file pages
// (shared, clean page cache, but counted in RSS).
//
// Only built with the prefault tag (make build BUILDTAGS="seccomp
// urfave_cli_no_docs prefault"). Left out by default: the runtime's
// start-up meets its goals without it and its peak memory does not with
// it (tests/bench/README.md). Fleets on VMs that count start-up time
// before memory can build it in.
//
// Import it for its effect, in the main package.
package prefault
