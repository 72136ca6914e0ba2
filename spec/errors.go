package spec

import "errors"

// ErrInvalidBundle classifies a bundle that cannot be used: missing,
// unreadable, symlinked, malformed JSON or an invalid configuration.
var ErrInvalidBundle = errors.New("invalid bundle")

// ErrInvalidID classifies a container ID that is not safe to use.
var ErrInvalidID = errors.New("invalid container id")
