package spec

import (
	"errors"

	"golang.org/x/sys/unix"
)

const noFollow = unix.O_NOFOLLOW

// isSymlinkErr reports whether an open with O_NOFOLLOW failed because the
// last path component is a symlink.
func isSymlinkErr(err error) bool { return errors.Is(err, unix.ELOOP) }
