//go:build linux && cgo && seccomp

package foreignabi

import (
	"testing"

	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// TestBadArchIsENOSYS checks the override from C and through
// libseccomp-golang, the path libcontainer takes.
func TestBadArchIsENOSYS(t *testing.T) {
	want := uint32(0x00050000 | unix.ENOSYS) // SCMP_ACT_ERRNO(ENOSYS)
	if got := badArchAction(); got != want {
		t.Errorf("bad-architecture action %#x, want ERRNO(ENOSYS) %#x", got, want)
	}
	f, err := libseccomp.NewFilter(libseccomp.ActErrno)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Release()
	act, err := f.GetBadArchAction()
	if err != nil {
		t.Fatal(err)
	}
	if act != libseccomp.ActErrno.SetReturnCode(int16(unix.ENOSYS)) {
		t.Errorf("libseccomp-golang filter: bad-architecture action %v, want ERRNO(ENOSYS)", act)
	}
}
