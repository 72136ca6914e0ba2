//go:build linux && amd64 && cgo

package oneproc

/*
#cgo LDFLAGS: -Wl,-e,hardenedentry

extern int oneproc_added;
extern void hardenedentry(void);
*/
import "C"

import (
	"os"
	"unsafe"
)

func init() {
	if Added() {
		os.Unsetenv("GOMAXPROCS")
	}
}

// Added reports whether this process started with GOMAXPROCS=1 added by
// the package (and since removed from its environment).
func Added() bool {
	return C.oneproc_added != 0
}

// entryAddress is where hardenedentry is, for a test of the link.
func entryAddress() uintptr {
	return uintptr(unsafe.Pointer(C.hardenedentry))
}
