package spec

import (
	"fmt"
)

// validID reports whether id is what runc and containerd accept: an
// alphanumeric first character, then only [A-Za-z0-9_+.-]. That keeps an
// ID safe to use as a single path component. (Not a regexp: compiling one
// at package init would cost every command of the runtime; the figure is
// in tests/bench/README.md, "Figures behind code comments".)
func validID(id string) bool {
	for i := 0; i < len(id); i++ {
		c := id[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '_' && c != '+' && c != '.' && c != '-') {
			return false
		}
	}
	return id != ""
}

// maxIDLength bounds an ID so that paths built from it stay short.
const maxIDLength = 1024

// ValidateID reports whether id is safe to use as a container ID and as a
// path component under the runtime's state root.
func ValidateID(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: container id cannot be empty", ErrInvalidID)
	case len(id) > maxIDLength:
		return fmt.Errorf("%w: container id is longer than %d bytes", ErrInvalidID, maxIDLength)
	case id == "." || id == "..", !validID(id):
		return fmt.Errorf("%w %q: only letters, digits and _+.- are allowed, starting with a letter or digit", ErrInvalidID, id)
	}
	return nil
}
