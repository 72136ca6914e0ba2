package spec

import (
	"fmt"
	"regexp"
)

// validID matches the IDs runc and containerd accept: it must start with
// an alphanumeric character and may then contain only [\w+.-]. That keeps
// an ID safe to use as a single path component.
var validID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_+.-]*$`)

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
	case id == "." || id == "..", !validID.MatchString(id):
		return fmt.Errorf("%w %q: only letters, digits and _+.- are allowed, starting with a letter or digit", ErrInvalidID, id)
	}
	return nil
}
