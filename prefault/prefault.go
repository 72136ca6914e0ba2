//go:build linux && cgo && prefault

package prefault

/*
#include <stdint.h>
#include <sys/mman.h>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

extern char __executable_start[], etext[];

// prefault_range maps [start, end) readable, page aligned outward. A
// kernel older than 5.14 answers EINVAL: nothing changes then.
static int prefault_range(uintptr_t start, uintptr_t end)
{
	start &= ~(uintptr_t)4095;
	end = (end + 4095) & ~(uintptr_t)4095;
	return madvise((void *)start, end - start, MADV_POPULATE_READ);
}

// Runs before libcontainer's nsexec constructor (default priority), so the
// container's init gets its code mapped before it sets up namespaces.
__attribute__((constructor(102))) static void prefault_text(void)
{
	prefault_range((uintptr_t)__executable_start, (uintptr_t)etext);
}
*/
import "C"

import "unsafe"

// populate is what the constructor does to the text segment, for a test
// on a mapping of its own.
func populate(b []byte) error {
	start := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	_, err := C.prefault_range(C.uintptr_t(start), C.uintptr_t(start+uintptr(len(b))))
	return err
}
