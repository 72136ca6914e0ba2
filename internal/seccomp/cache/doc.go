// Package cache compiles each distinct seccomp filter once and lets
// every later container init load the compiled program instead of
// building it again with libseccomp.
//
// libcontainer builds the filter inside the container's init: it adds one
// libseccomp rule per syscall, has libseccomp compile them to BPF
// (seccomp_export_bpf), patches the program and loads it. For Docker's
// profile that is a large part of every create (tests/bench/README.md),
// spent the same way for every container with the same profile, and
// libcontainer takes no precompiled program.
//
// The package interposes libseccomp's entry points in this binary (C
// definitions the linker prefers to libseccomp's, as foreignabi does for
// seccomp_init):
//
//   - In the runtime, Cache.Ensure runs this binary as a helper (HelperArg)
//     that builds the container's filter with libcontainer's own code while
//     the interposer records every call that shapes the program (the
//     library version, the native architecture, the filter's attributes
//     and architectures, then each rule in order) and the program
//     libseccomp exports for it. The pair is written to a root-only
//     directory (Dir), one file per distinct configuration.
//   - The container's init reads that directory before it enters any
//     namespace (a C constructor that runs before libcontainer's nsexec),
//     while it is still the runtime's own process on the host. When
//     libcontainer then builds the filter, the rules are recorded and held
//     back; at export, if an entry's recorded calls are byte for byte the
//     same as this filter's, its program is returned and libseccomp never
//     compiles. Otherwise the held-back rules go to libseccomp in order
//     and everything proceeds as without the cache.
//
// So a container gets exactly the program libseccomp would have built for
// it: the match is on the complete call sequence, not on a hash, and the
// program was built by the same code from the same calls. Only root can
// write the directory, and the init ignores entries that are not owned by
// root or are writable by others.
package cache
