package hardening

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// HookAllowance is one entry of "allowedHooks": a hook binary and the
// argument shape it may be run with. In the policy file it is either a
// plain string, the binary's absolute path, or an object
// {"path": ..., "args": [...], "env": [...]}.
type HookAllowance struct {
	// Path is the absolute path of the binary. A hook matches when its
	// path as written, or the binary it resolves to on the host, is Path.
	Path string `json:"path"`
	// Args are the patterns the hook's args must match, one for one,
	// args[0] included (see HookArgPlaceholders). Nil (a plain string
	// entry, or an object without "args"): the hook may only be run
	// without arguments, that is with args empty, [Path] or
	// [base name of Path].
	Args []string `json:"args,omitempty"`
	// Env lists environment variables, by name or as a prefix ending in
	// "*", that the hook may set although they change how the binary is
	// loaded or runs (see HookLoaderVariables).
	Env []string `json:"env,omitempty"`
}

// UnmarshalJSON decodes a plain string (the path) or an object with the
// keys path, args and env; unknown keys are refused.
func (h *HookAllowance) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '"' {
		*h = HookAllowance{}
		return json.Unmarshal(data, &h.Path)
	}
	type plain HookAllowance
	var out plain
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&out); err != nil {
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return fmt.Errorf("unknown key %s in a hook entry (path, args, env)", name)
		}
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("trailing data after a hook entry")
	}
	*h = HookAllowance(out)
	return nil
}

// MarshalJSON writes an entry without args and env as a plain string, and
// keeps "args": [] (no arguments at all) apart from no "args".
func (h HookAllowance) MarshalJSON() ([]byte, error) {
	if h.Args == nil && len(h.Env) == 0 {
		return json.Marshal(h.Path)
	}
	wire := struct {
		Path string    `json:"path"`
		Args *[]string `json:"args,omitempty"`
		Env  []string  `json:"env,omitempty"`
	}{Path: h.Path, Env: h.Env}
	if h.Args != nil {
		wire.Args = &h.Args
	}
	return json.Marshal(wire)
}

// HookArgPlaceholders returns the placeholders an args pattern may hold,
// each with the regular expression it stands for. Any other text of a
// pattern matches itself exactly.
//
//   - {hex}: 1 to 64 lower-case hexadecimal digits (an ID, short or long)
//   - {id}: 1 to 128 letters, digits, '_', '.' or '-', not starting with
//     '-' (a container ID as runc accepts it, never a flag)
//   - {path}: an absolute path without whitespace or control characters
//   - {any}: anything, the empty string included; what the binary does
//     with such an argument is then the host's to judge
func HookArgPlaceholders() map[string]string {
	return map[string]string{
		"{hex}":  `[0-9a-f]{1,64}`,
		"{id}":   `[A-Za-z0-9_.][A-Za-z0-9_.-]{0,127}`,
		"{path}": `/[^\x00-\x20\x7f]*`,
		"{any}":  `(?s:.*)`,
	}
}

// findPlaceholder returns the start and end of the leftmost substring of
// s shaped like a placeholder (`{` then lower-case letters or digits then
// `}`), so that a typo ("{pth}") is an error, not a literal; nil for none.
// A scan, not a regular expression: every policy load checks the args
// patterns, and compiling one would cost every load (tests/bench/README.md).
func findPlaceholder(s string) []int {
	for i := 0; i < len(s); i++ {
		if s[i] != '{' {
			continue
		}
		j := i + 1
		for j < len(s) && (s[j] >= 'a' && s[j] <= 'z' || s[j] >= '0' && s[j] <= '9') {
			j++
		}
		if j > i+1 && j < len(s) && s[j] == '}' {
			return []int{i, j + 1}
		}
	}
	return nil
}

// argPatternExpr turns one args pattern into the anchored regular
// expression it stands for. The expression always compiles: literal
// parts are quoted and the placeholders' expressions are fixed.
func argPatternExpr(pat string) (string, error) {
	holders := HookArgPlaceholders()
	var b strings.Builder
	b.WriteString("^")
	rest := pat
	for {
		loc := findPlaceholder(rest)
		if loc == nil {
			b.WriteString(regexp.QuoteMeta(rest))
			break
		}
		name := rest[loc[0]:loc[1]]
		re, ok := holders[name]
		if !ok {
			return "", fmt.Errorf("args pattern %q: unknown placeholder %s (one of {hex}, {id}, {path}, {any})", pat, name)
		}
		b.WriteString(regexp.QuoteMeta(rest[:loc[0]]))
		b.WriteString(re)
		rest = rest[loc[1]:]
	}
	b.WriteString("$")
	return b.String(), nil
}

// compileArgPattern turns one args pattern into an anchored regular
// expression.
func compileArgPattern(pat string) (*regexp.Regexp, error) {
	expr, err := argPatternExpr(pat)
	if err != nil {
		return nil, err
	}
	return regexp.Compile(expr)
}

// argsMatch reports whether a hook's args fit the entry's shape.
func (h HookAllowance) argsMatch(args []string) bool {
	if h.Args == nil {
		return len(args) == 0 || (len(args) == 1 && (args[0] == h.Path || args[0] == filepath.Base(h.Path)))
	}
	if len(args) != len(h.Args) {
		return false
	}
	for i, pat := range h.Args {
		re, err := compileArgPattern(pat)
		if err != nil || !re.MatchString(args[i]) {
			return false
		}
	}
	return true
}

// envAllowed reports whether the entry lets the hook set variable name.
func (h HookAllowance) envAllowed(name string) bool {
	return slices.ContainsFunc(h.Env, func(p string) bool { return nameMatches(p, name) })
}

// nameMatches matches a variable name against a name or a prefix ending
// in "*".
func nameMatches(pattern, name string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(name, prefix)
	}
	return pattern == name
}

// HookLoaderVariables returns the environment variables a hook may not set
// unless its "allowedHooks" entry lists them under "env": those the
// dynamic loader and the C library read to load other code, or to read
// files, which glibc itself ignores for set-user-ID programs
// (sysdeps/generic/unsecvars.h), every LD_* and MALLOC_* name, and the Go
// runtime's GODEBUG (dockerd and most hooks are Go programs). A pattern
// ending in "*" is a prefix.
func HookLoaderVariables() []string {
	return []string{
		"LD_*", "MALLOC_*", "GLIBC_TUNABLES",
		"GCONV_PATH", "GETCONF_DIR", "HOSTALIASES", "LOCALDOMAIN", "LOCPATH",
		"NIS_PATH", "NLSPATH", "RESOLV_HOST_CONF", "RES_OPTIONS", "TMPDIR", "TZDIR",
		"GODEBUG",
	}
}

// loaderVariable reports whether name is on HookLoaderVariables.
func loaderVariable(name string) bool {
	return slices.ContainsFunc(HookLoaderVariables(), func(p string) bool { return nameMatches(p, name) })
}

// DockerSetkeyArgs is the argument shape of Docker's libnetwork-setkey
// prestart hook (Docker 20.10 to current): the hook is dockerd itself
// (/proc/<dockerd pid>/exe) run as "libnetwork-setkey", with the daemon's
// exec root, the container ID and the short network controller ID.
func DockerSetkeyArgs() []string {
	return []string{"libnetwork-setkey", "-exec-root={path}", "{id}", "{hex}"}
}

// DefaultAllowedHooks returns the default of "allowedHooks": dockerd at
// its usual places, with the argument shape of its libnetwork-setkey
// hook only.
func DefaultAllowedHooks() []HookAllowance {
	var out []HookAllowance
	for _, p := range []string{"/usr/bin/dockerd", "/usr/sbin/dockerd", "/usr/local/bin/dockerd"} {
		out = append(out, HookAllowance{Path: p, Args: DockerSetkeyArgs()})
	}
	return out
}

// normalizeHooks validates the entries of key and cleans their paths.
func normalizeHooks(key string, in []HookAllowance) ([]HookAllowance, error) {
	if in == nil {
		return nil, nil
	}
	out := make([]HookAllowance, 0, len(in))
	for _, h := range in {
		if !filepath.IsAbs(h.Path) {
			return nil, fmt.Errorf("key %q: %q is not an absolute path", key, h.Path)
		}
		h.Path = filepath.Clean(h.Path)
		for _, pat := range h.Args {
			if _, err := argPatternExpr(pat); err != nil {
				return nil, fmt.Errorf("key %q: %w", key, err)
			}
		}
		for _, e := range h.Env {
			name := strings.TrimSuffix(e, "*")
			if name == "" || strings.ContainsAny(name, "=*\x00") {
				return nil, fmt.Errorf("key %q: env %q is not a variable name or a prefix ending in \"*\"", key, e)
			}
		}
		h.Args, h.Env = slices.Clone(h.Args), slices.Clone(h.Env)
		if len(h.Env) == 0 {
			h.Env = nil
		}
		out = append(out, h)
	}
	return out, nil
}

// equalHook compares two entries.
func equalHook(a, b HookAllowance) bool {
	return a.Path == b.Path && slices.Equal(a.Args, b.Args) && (a.Args == nil) == (b.Args == nil) && slices.Equal(a.Env, b.Env)
}

// appendNewHooks appends the entries of add not already in dst.
func appendNewHooks(dst []HookAllowance, add ...HookAllowance) []HookAllowance {
	for _, a := range add {
		if !slices.ContainsFunc(dst, func(d HookAllowance) bool { return equalHook(a, d) }) {
			dst = append(dst, a)
		}
	}
	return dst
}

// cloneHooks deep-copies a list of entries.
func cloneHooks(in []HookAllowance) []HookAllowance {
	if in == nil {
		return nil
	}
	out := make([]HookAllowance, len(in))
	for i, h := range in {
		out[i] = HookAllowance{Path: h.Path, Args: slices.Clone(h.Args), Env: slices.Clone(h.Env)}
	}
	return out
}
