package spec

import (
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// IsBind reports whether m is a bind mount, as runc decides it: type
// "bind", or a "bind" or "rbind" option with any type.
func IsBind(m specs.Mount) bool {
	return m.Type == "bind" || slices.Contains(m.Options, "bind") || slices.Contains(m.Options, "rbind")
}

// Within reports whether path p is dir or below it. Both must be clean
// (filepath.Clean) and of the same kind, absolute or relative: it compares
// components, so /a/bc is not within /a/b, and everything is within /.
func Within(p, dir string) bool {
	return p == dir || dir == "/" || strings.HasPrefix(p, dir+"/")
}
