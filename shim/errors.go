package shim

import "fmt"

// wrapFailure prefixes the error of a command that creates or runs
// processes the way runc does ("runc create failed: ..."); Docker and
// containerd users see this line.
func wrapFailure(command string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("hardened %s failed: %w", command, err)
}
