//go:build linux && cgo && !noprefault

package prefault

/*
#include <stdint.h>
#include <sys/mman.h>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

extern char __executable_start[], etext[];

// Runs before libcontainer's nsexec constructor (default priority), so the
// container's init gets its code mapped before it sets up namespaces. A
// kernel older than 5.14 answers EINVAL: nothing changes then.
__attribute__((constructor(102))) static void prefault_text(void)
{
	uintptr_t start = (uintptr_t)__executable_start & ~(uintptr_t)4095;
	uintptr_t end = ((uintptr_t)etext + 4095) & ~(uintptr_t)4095;

	madvise((void *)start, end - start, MADV_POPULATE_READ);
}
*/
import "C"
