package runtimeconfig

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// RuncV2 is the shim containerd starts for a runc-compatible runtime; its
// options' BinaryName names the binary it drives instead of runc.
const RuncV2 = "io.containerd.runc.v2"

// criRuntimePlugin maps containerd's config.toml version to the plugin
// that holds the CRI runtimes:
//   - 1 (no "version" key; containerd 1.x): plugins.cri
//   - 2 (containerd 1.x, and read by 2.x): plugins."io.containerd.grpc.v1.cri"
//   - 3 (containerd 2.x): plugins."io.containerd.cri.v1.runtime"
var criRuntimePlugin = map[int64]string{
	1: "cri",
	2: "io.containerd.grpc.v1.cri",
	3: "io.containerd.cri.v1.runtime",
}

// newConfigVersion is the version written into an empty config.toml: the
// newest that containerd 1.6, 1.7 and 2.x all read.
const newConfigVersion = 2

// ContainerdEdit is an Edit of config.toml, with what the caller must tell
// the user.
type ContainerdEdit struct {
	Edit
	// Version is the config.toml version the edit was made for.
	Version int64
	// Table is the TOML table of the runtime, e.g.
	// plugins."io.containerd.grpc.v1.cri".containerd.runtimes.hardened.
	Table string
}

// InstallContainerd registers rt in config.toml as a runc-v2 runtime of
// the CRI plugin (runtime_type io.containerd.runc.v2, options.BinaryName
// rt.Path), under the table the file's version calls for. Keys an
// existing entry of that name has besides those two are kept. The runc
// runtime's options.SystemdCgroup, if set, is copied: kubelet and the
// runtime must agree on the cgroup driver. rt.Default sets the CRI
// plugin's containerd.default_runtime_name.
//
// The file is edited in place: values are replaced where they are, new
// keys go after their table's last key and new tables at the end, and
// every other byte (comments, order, layout) is kept.
func InstallContainerd(config []byte, rt Runtime) (ContainerdEdit, error) {
	if rt.Name == "" || rt.Path == "" {
		return ContainerdEdit{}, errors.New("runtime name and path must be set")
	}
	if !utf8.ValidString(rt.Name) || !utf8.ValidString(rt.Path) {
		return ContainerdEdit{}, errors.New("runtime name and path must be UTF-8 (TOML strings are)")
	}
	ed, version, err := readContainerd(config)
	if err != nil {
		return ContainerdEdit{}, err
	}
	if f := ed.file; len(f.tables) == 1 && len(f.tables[0].keyValues) == 0 {
		version = newConfigVersion
		if _, err := ed.setKey(nil, "version", strconv.Itoa(newConfigVersion), nil); err != nil {
			return ContainerdEdit{}, fmt.Errorf("config.toml: %w", err)
		}
	}
	edit := ContainerdEdit{Version: version, Table: runtimeTable(version, rt.Name)}
	ctrd := []string{"plugins", criRuntimePlugin[version], "containerd"}
	entry := joinPath(ctrd, []string{"runtimes", rt.Name})
	options := joinPath(entry, []string{"options"})
	if err := checkTablePath(ed.file, options); err != nil {
		return ContainerdEdit{}, err
	}
	systemd := ""
	if kv := ed.file.keyValue(joinPath(ctrd, []string{"runtimes", "runc", "options", "SystemdCgroup"})); kv != nil {
		systemd = kv.rawValue(ed.file.data)
	}

	entrySettings := []keySetting{
		{entry, "runtime_type", tomlString(RuncV2), isTOMLString(RuncV2)},
		{options, "BinaryName", tomlString(rt.Path), isTOMLString(rt.Path)},
	}
	detail := ""
	if systemd != "" {
		entrySettings = append(entrySettings, keySetting{options, "SystemdCgroup", systemd, func(raw string) bool { return raw == systemd }})
		detail = fmt.Sprintf(", options.SystemdCgroup %s (as runc's)", systemd)
	}
	entryChanged := false
	for _, s := range entrySettings {
		changed, err := ed.setKey(s.table, s.key, s.value, s.isSet)
		if err != nil {
			return ContainerdEdit{}, fmt.Errorf("config.toml: %w", err)
		}
		entryChanged = entryChanged || changed
	}
	if entryChanged {
		edit.Notes = append(edit.Notes, fmt.Sprintf("set %s: runtime_type %q, options.BinaryName %q%s", edit.Table, RuncV2, rt.Path, detail))
	}
	settings := entrySettings
	if rt.Default {
		dflt := keySetting{ctrd, "default_runtime_name", tomlString(rt.Name), isTOMLString(rt.Name)}
		changed, err := ed.setKey(dflt.table, dflt.key, dflt.value, dflt.isSet)
		if err != nil {
			return ContainerdEdit{}, fmt.Errorf("config.toml: %w", err)
		}
		if changed {
			edit.Notes = append(edit.Notes, fmt.Sprintf("set default_runtime_name to %q", rt.Name))
		}
		settings = append(settings, dflt)
	}
	// ed.file was read from the final text: check that it says what was
	// meant, so that a bug in the editor gives an error, not a wrong file.
	for _, s := range settings {
		path := joinPath(s.table, []string{s.key})
		if kv := ed.file.keyValue(path); kv == nil || !s.isSet(kv.rawValue(ed.file.data)) {
			return ContainerdEdit{}, fmt.Errorf("config.toml: the edited file does not set %s as meant (a bug)", tomlKey(path))
		}
	}
	return finishContainerd(config, ed.data(), edit), nil
}

// keySetting is a key an install sets: its table, the raw TOML value it
// gets, and whether a raw value already means that.
type keySetting struct {
	table      []string
	key, value string
	isSet      func(raw string) bool
}

// isTOMLString returns whether a raw value is a string equal to want.
func isTOMLString(want string) func(raw string) bool {
	return func(raw string) bool {
		s, err := decodeTOMLString(raw)
		return err == nil && s == want
	}
}

// UninstallContainerd removes the runtime's table, and default_runtime_name
// when it names the runtime; tables left empty by that are removed too. A
// file without the entry is left as it is (Changed false).
func UninstallContainerd(config []byte, name string) (ContainerdEdit, error) {
	ed, version, err := readContainerd(config)
	if err != nil {
		return ContainerdEdit{}, err
	}
	edit := ContainerdEdit{Version: version, Table: runtimeTable(version, name)}
	ctrd := []string{"plugins", criRuntimePlugin[version], "containerd"}
	runtimes := joinPath(ctrd, []string{"runtimes"})
	entry := joinPath(runtimes, []string{name})
	if err := checkTablePath(ed.file, entry); err != nil {
		if errors.Is(err, ErrMalformed) {
			// Not a table on the way: there is no entry to remove.
			return finishContainerd(config, config, edit), nil
		}
		return ContainerdEdit{}, err
	}
	removedEntry := false
	for {
		var t *tomlTable
		for _, candidate := range ed.file.tables[1:] {
			if hasPathPrefix(candidate.path, entry) {
				t = candidate
				break
			}
		}
		if t == nil {
			break
		}
		if err := ed.removeTable(t); err != nil {
			return ContainerdEdit{}, fmt.Errorf("config.toml: %w", err)
		}
		removedEntry = true
	}
	if removedEntry {
		edit.Notes = append(edit.Notes, "removed "+edit.Table)
		if err := pruneEmptyTable(ed, runtimes); err != nil {
			return ContainerdEdit{}, err
		}
	}
	if dflt, ok := ed.file.stringValue(joinPath(ctrd, []string{"default_runtime_name"})); ok && dflt == name {
		removed, err := ed.removeKey(ctrd, "default_runtime_name")
		if err != nil {
			return ContainerdEdit{}, fmt.Errorf("config.toml: %w", err)
		}
		if removed {
			edit.Notes = append(edit.Notes, fmt.Sprintf("removed default_runtime_name (it named %q; containerd falls back to runc)", name))
		}
	}
	if len(edit.Notes) > 0 {
		for n := len(ctrd); n > 0; n-- {
			if err := pruneEmptyTable(ed, ctrd[:n]); err != nil {
				return ContainerdEdit{}, err
			}
		}
	}

	f := ed.file
	if f.hasDescendants(entry) || f.keyValue(entry) != nil {
		return ContainerdEdit{}, fmt.Errorf("config.toml: the edited file still has %s (a bug); the file was not changed", edit.Table)
	}
	if dflt, ok := f.stringValue(joinPath(ctrd, []string{"default_runtime_name"})); ok && dflt == name {
		return ContainerdEdit{}, errors.New("config.toml: the edited file still names the runtime in default_runtime_name (a bug); the file was not changed")
	}
	return finishContainerd(config, ed.data(), edit), nil
}

// pruneEmptyTable removes the [table] at path if nothing is left in it.
func pruneEmptyTable(ed *tomlEditor, path []string) error {
	t := ed.file.table(path)
	if t == nil || len(t.keyValues) > 0 || ed.file.hasDescendants(path) {
		return nil
	}
	if err := ed.removeTable(t); err != nil {
		return fmt.Errorf("config.toml: %w", err)
	}
	return nil
}

// readContainerd reads config.toml and returns an editor for it and the
// file's version.
func readContainerd(config []byte) (*tomlEditor, int64, error) {
	ed, err := newTOMLEditor(config)
	if err != nil {
		return nil, 0, fmt.Errorf("config.toml: %w: %w", ErrMalformed, err)
	}
	f := ed.file
	version := int64(1)
	for _, t := range f.tables {
		if len(t.path) > 0 && t.path[0] == "version" {
			return nil, 0, fmt.Errorf("config.toml: %w: line %d: version must be an integer, not a table", ErrMalformed, t.line)
		}
	}
	for _, kv := range f.tables[0].keyValues {
		if kv.key[0] != "version" {
			continue
		}
		raw := kv.rawValue(f.data)
		n, err := strconv.ParseInt(raw, 0, 64)
		if len(kv.key) > 1 || err != nil || strings.HasPrefix(raw, "0") && len(raw) > 1 && raw[1] >= '0' && raw[1] <= '9' {
			return nil, 0, fmt.Errorf("config.toml: %w: line %d: version must be an integer, not %s", ErrMalformed, kv.line, raw)
		}
		version = n
	}
	if _, ok := criRuntimePlugin[version]; !ok {
		return nil, 0, fmt.Errorf("config.toml: version %d is not supported (1, 2 and 3 are)", version)
	}
	return ed, version, nil
}

// checkTablePath checks that each table on path (plugins, plugins.X, ...)
// is either not defined yet or defined by a [table] header, the only form
// the editor changes. A value that is not a table, or an array of tables,
// is ErrMalformed; a dotted key or an inline table is refused.
func checkTablePath(f *tomlFile, path []string) error {
	for n := 1; n <= len(path); n++ {
		want := path[:n]
		for _, t := range f.tables[1:] {
			if t.array && equalPath(t.path, want) {
				return fmt.Errorf("config.toml: %w: line %d: %s must be a table, not an array of tables", ErrMalformed, t.line, tomlKey(want))
			}
		}
		for _, t := range f.tables {
			for _, kv := range t.keyValues {
				abs := joinPath(t.path, kv.key)
				switch {
				case !hasPathPrefix(abs, want) || len(t.path) >= len(want):
				case len(abs) == len(want) && kv.inline == nil:
					return fmt.Errorf("config.toml: %w: line %d: %s must be a table", ErrMalformed, kv.line, tomlKey(want))
				default:
					return fmt.Errorf("config.toml: line %d: %s is defined with a dotted key or an inline table, which this editor does not change (%w); write it as a [%s] table",
						kv.line, tomlKey(want), errors.ErrUnsupported, tomlKey(want))
				}
			}
		}
	}
	return nil
}

func finishContainerd(original, data []byte, edit ContainerdEdit) ContainerdEdit {
	edit.Changed = len(edit.Notes) > 0
	edit.Data = data
	if !edit.Changed {
		edit.Data = original
	}
	return edit
}

func runtimeTable(version int64, name string) string {
	return tomlKey([]string{"plugins", criRuntimePlugin[version], "containerd", "runtimes", name})
}

// tomlKey renders a dotted key, quoting the parts that need it.
func tomlKey(keys []string) string {
	var b bytes.Buffer
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('.')
		}
		if isBareKey(k) {
			b.WriteString(k)
		} else {
			b.WriteString(tomlString(k))
		}
	}
	return b.String()
}

func isBareKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		if !isBareKeyByte(k[i]) {
			return false
		}
	}
	return true
}
