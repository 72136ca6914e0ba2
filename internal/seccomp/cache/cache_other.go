//go:build !(linux && cgo && seccomp)

package cache

import (
	"fmt"
	"os"

	"github.com/opencontainers/runc/libcontainer/configs"
)

// Ensure does nothing in a build without seccomp.
func (c Cache) Ensure(*configs.Seccomp) error { return nil }

// HelperMain fails in a build without seccomp.
func HelperMain([]string) int {
	fmt.Fprintln(os.Stderr, HelperArg+": built without seccomp")
	return 1
}
