//go:build linux && cgo && seccomp

package learn

import (
	"fmt"

	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// syscallNamer resolves the numbers of notifications to names.
type syscallNamer struct {
	native libseccomp.ScmpArch
	cache  map[int64]string
}

func newSyscallNamer() (*syscallNamer, error) {
	native, err := libseccomp.GetNativeArch()
	if err != nil {
		return nil, fmt.Errorf("native seccomp architecture: %w", err)
	}
	return &syscallNamer{native: native, cache: map[int64]string{}}, nil
}

// name returns the name of call nr made through audit architecture arch.
func (s *syscallNamer) name(arch uint32, nr int32) (string, error) {
	k := int64(arch)<<32 | int64(uint32(nr))
	if n, ok := s.cache[k]; ok {
		return n, nil
	}
	a := s.native
	switch {
	case arch == unix.AUDIT_ARCH_I386:
		a = libseccomp.ArchX86
	case s.native == libseccomp.ArchAMD64 && nr&0x40000000 != 0:
		a = libseccomp.ArchX32
	}
	n, err := libseccomp.ScmpSyscall(nr).GetNameByArch(a)
	if err != nil {
		return "", fmt.Errorf("system call %d (arch %#x): %w", nr, arch, err)
	}
	s.cache[k] = n
	return n, nil
}

// nativeNames keeps the names that have a native system call number.
func nativeNames(names []string) []string {
	var out []string
	for _, n := range names {
		if nr, err := libseccomp.GetSyscallFromName(n); err == nil && nr >= 0 {
			out = append(out, n)
		}
	}
	return out
}
