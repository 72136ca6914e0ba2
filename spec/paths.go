package spec

import (
	"path/filepath"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// IsBind reports whether m is a bind mount, as runc decides it: type
// "bind", or a "bind" or "rbind" option with any type.
func IsBind(m specs.Mount) bool {
	return m.Type == "bind" || slices.Contains(m.Options, "bind") || slices.Contains(m.Options, "rbind")
}

// BindReadOnly reports whether a bind mount with options opts ends up
// read-only, as runc sets it up: "ro" and "rw" (the last of them wins)
// set the flag of the top mount only, then a recursive attribute ("rro"
// or "rrw", the last of them wins) sets or clears it on the top mount and
// on every mount below it (mount_setattr with AT_RECURSIVE), so it
// decides. Without "rro", the mounts an rbind brings along keep their
// own flags: the runtime makes the clone of a read-only bind's source
// read-only throughout (userns Stage.PinBinds).
func BindReadOnly(opts []string) bool {
	ro, rec, recSet := false, false, false
	for _, o := range opts {
		switch o {
		case "ro":
			ro = true
		case "rw":
			ro = false
		case "rro":
			rec, recSet = true, true
		case "rrw":
			rec, recSet = false, true
		}
	}
	if recSet {
		return rec
	}
	return ro
}

// BindSource returns the host path a bind mount's source names, as the
// runtime hands it to libcontainer: a relative source is taken against
// bundleDir. The path is clean.
func BindSource(m specs.Mount, bundleDir string) string {
	if filepath.IsAbs(m.Source) {
		return filepath.Clean(m.Source)
	}
	return filepath.Join(bundleDir, m.Source)
}

// Within reports whether path p is dir or below it. Both must be clean
// (filepath.Clean) and of the same kind, absolute or relative: it compares
// components, so /a/bc is not within /a/b, and everything is within /.
func Within(p, dir string) bool {
	return p == dir || dir == "/" || strings.HasPrefix(p, dir+"/")
}
