// Package foreignabi makes every seccomp filter that libseccomp builds in
// this binary answer a syscall made through an ABI the filter does not
// list with ENOSYS, instead of libseccomp's default of killing the
// thread (SIGSYS).
//
// libcontainer compiles the container's filter with libseccomp inside the
// container's init and exposes no bad-architecture action. The hardening
// policy lists only the native ABI in the profile (compiling for x86 and
// x32 as well would slow every container start several times over,
// tests/bench/README.md), so a 32-bit syscall, an
// int 0x80 from a 64-bit program or an x32 syscall meets that action. A
// kill by SIGSYS looks like a crash; ENOSYS is what a kernel without
// ia32 emulation answers, and what a program can report.
//
// It does so by defining seccomp_init here: the linker binds
// libseccomp-golang's call to this definition, which calls libseccomp's
// own (found with dlsym(RTLD_NEXT)) and then sets
// SCMP_FLTATR_ACT_BADARCH. libseccomp must be linked dynamically (a static
// libseccomp.a fails the link with a duplicate symbol rather than
// silently keeping the kill). The package has no Go API; import it for
// its effect, once, in the main package.
package foreignabi
