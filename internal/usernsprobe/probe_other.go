//go:build !(linux && cgo)

package usernsprobe

import (
	"errors"

	"github.com/hardened-runtime/hardened/idmap"
)

// ProbeArg is the hidden first argument of the helper run of the binary.
const ProbeArg = "__hardened-userns-probe"

// Read needs the C helper: without cgo the mappings stay unknown.
func Read(nsPath string) (uids, gids []idmap.Mapping, err error) {
	return nil, nil, errors.New("user namespace " + nsPath + ": mappings cannot be read (built without cgo)")
}
