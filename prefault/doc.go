// Package prefault maps the binary's whole code segment into the process
// with one madvise(MADV_POPULATE_READ) before the Go runtime starts,
// instead of letting it arrive through page faults.
//
// Every start of this binary (create, start, delete, and the container's
// init that libcontainer re-executes) runs the Go runtime and ~90 package
// inits spread over a 4.4 MB text segment. Nearly every 64 KiB window of
// it gets touched (tests/bench/README.md), one page fault each, and on a
// virtual machine a fault is dear: mapping the segment at once saves
// ~7-10 ms per create-start-delete cycle here (~5%). The price is the
// ~10% of the text no command touches, ~0.6 MB more resident file pages
// (shared, clean page cache, but counted in RSS). Build with the
// noprefault tag to do without.
//
// Import it for its effect, in the main package.
package prefault
