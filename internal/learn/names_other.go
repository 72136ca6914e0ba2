//go:build !(linux && cgo && seccomp)

package learn

import "errors"

// syscallNamer is unavailable in a build without seccomp.
type syscallNamer struct{}

func newSyscallNamer() (*syscallNamer, error) {
	return nil, errors.New("built without seccomp")
}

func (*syscallNamer) name(uint32, int32) (string, error) {
	return "", errors.New("built without seccomp")
}

// nativeNames cannot tell without libseccomp: it keeps every name.
func nativeNames(names []string) []string { return names }
