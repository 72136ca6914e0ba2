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
