package runtimeconfig

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Podman's containers.conf tables and keys this package touches: a
// runtime is a list of candidate paths under [engine.runtimes], the
// default runtime [engine] runtime. containers.conf has no per-runtime
// arguments; Podman passes its --runtime-flag KEY=VALUE to the runtime as
// --KEY=VALUE.
var (
	podmanEngine   = []string{"engine"}
	podmanRuntimes = []string{"engine", "runtimes"}
)

const podmanDefaultKey = "runtime"

// InstallPodman registers rt in containers.conf as [engine.runtimes]
// NAME = ["PATH"], replacing an entry of that name, and with rt.Default
// sets [engine] runtime. The file is edited in place like config.toml
// (InstallContainerd): comments, order and layout are kept. Empty input is
// an empty file (Debian ships none in /etc/containers).
func InstallPodman(config []byte, rt Runtime) (Edit, error) {
	if rt.Name == "" || rt.Path == "" {
		return Edit{}, errors.New("runtime name and path must be set")
	}
	if !utf8.ValidString(rt.Name) || !utf8.ValidString(rt.Path) {
		return Edit{}, errors.New("runtime name and path must be UTF-8 (TOML strings are)")
	}
	ed, err := readPodman(config)
	if err != nil {
		return Edit{}, err
	}
	if err := checkTablePath(ed.file, podmanRuntimes); err != nil {
		return Edit{}, podmanError(err)
	}
	var edit Edit
	var settings []keySetting
	if rt.Default {
		settings = append(settings, keySetting{podmanEngine, podmanDefaultKey, tomlString(rt.Name), isTOMLString(rt.Name)})
	}
	settings = append(settings, keySetting{podmanRuntimes, rt.Name, "[" + tomlString(rt.Path) + "]", isTOMLPathList(rt.Path)})
	for _, s := range settings {
		changed, err := ed.setKey(s.table, s.key, s.value, s.isSet)
		if err != nil {
			return Edit{}, podmanError(err)
		}
		if changed {
			edit.Notes = append(edit.Notes, fmt.Sprintf("set %s to %s", tomlKey(joinPath(s.table, []string{s.key})), s.value))
		}
	}
	for _, s := range settings {
		path := joinPath(s.table, []string{s.key})
		if kv := ed.file.keyValue(path); kv == nil || !s.isSet(kv.rawValue(ed.file.data)) {
			return Edit{}, fmt.Errorf("containers.conf: the edited file does not set %s as meant (a bug)", tomlKey(path))
		}
	}
	return finishPodman(config, ed.data(), edit), nil
}

// UninstallPodman removes NAME from [engine.runtimes] and [engine]
// runtime when it names the runtime. The tables stay (Podman's own
// containers.conf keeps its commented-out runtimes in them). A file
// without the entry is left as it is (Changed false).
func UninstallPodman(config []byte, name string) (Edit, error) {
	ed, err := readPodman(config)
	if err != nil {
		return Edit{}, err
	}
	var edit Edit
	if err := checkTablePath(ed.file, podmanRuntimes); err != nil {
		if errors.Is(err, ErrMalformed) {
			return finishPodman(config, config, edit), nil
		}
		return Edit{}, podmanError(err)
	}
	removed, err := ed.removeKey(podmanRuntimes, name)
	if err != nil {
		return Edit{}, podmanError(err)
	}
	if removed {
		edit.Notes = append(edit.Notes, "removed "+tomlKey(joinPath(podmanRuntimes, []string{name})))
		if err := pruneBareTable(ed, podmanRuntimes); err != nil {
			return Edit{}, podmanError(err)
		}
	}
	if dflt, ok := ed.file.stringValue(joinPath(podmanEngine, []string{podmanDefaultKey})); ok && dflt == name {
		if removed, err := ed.removeKey(podmanEngine, podmanDefaultKey); err != nil {
			return Edit{}, podmanError(err)
		} else if removed {
			edit.Notes = append(edit.Notes, fmt.Sprintf("removed engine.runtime (it named %q; Podman falls back to its default)", name))
		}
	}
	if ed.file.keyValue(joinPath(podmanRuntimes, []string{name})) != nil {
		return Edit{}, fmt.Errorf("containers.conf: the edited file still has engine.runtimes.%s (a bug); the file was not changed", name)
	}
	return finishPodman(config, ed.data(), edit), nil
}

// pruneBareTable removes the [table] at path when nothing is left in it,
// not even a comment (Podman's own file keeps commented-out runtimes in
// [engine.runtimes], which then stays).
func pruneBareTable(ed *tomlEditor, path []string) error {
	f := ed.file
	t := f.table(path)
	if t == nil || len(t.keyValues) > 0 || f.hasDescendants(path) {
		return nil
	}
	end := len(f.data)
	for _, other := range f.tables {
		if other.start > t.start && other.start < end {
			end = other.start
		}
	}
	if len(bytes.TrimSpace(f.data[t.headerEnd:end])) > 0 {
		return nil
	}
	return ed.removeTable(t)
}

func readPodman(config []byte) (*tomlEditor, error) {
	ed, err := newTOMLEditor(config)
	if err != nil {
		return nil, fmt.Errorf("containers.conf: %w: %w", ErrMalformed, err)
	}
	return ed, nil
}

// podmanError names containers.conf in an error of the shared TOML
// helpers, which speak of config.toml; errors.Is still sees what it
// wraps (ErrMalformed, errors.ErrUnsupported).
func podmanError(err error) error {
	return renamedError{msg: "containers.conf: " + strings.TrimPrefix(err.Error(), "config.toml: "), err: err}
}

type renamedError struct {
	msg string
	err error
}

func (e renamedError) Error() string { return e.msg }
func (e renamedError) Unwrap() error { return e.err }

func finishPodman(original, data []byte, edit Edit) Edit {
	edit.Changed = len(edit.Notes) > 0
	edit.Data = data
	if !edit.Changed {
		edit.Data = original
	}
	return edit
}

// isTOMLPathList returns whether a raw value is an array holding the one
// string want (a trailing comma and any layout allowed).
func isTOMLPathList(want string) func(raw string) bool {
	return func(raw string) bool {
		raw = strings.TrimSpace(raw)
		if !strings.HasPrefix(raw, "[") || !strings.HasSuffix(raw, "]") {
			return false
		}
		inner := strings.TrimSuffix(strings.TrimSpace(raw[1:len(raw)-1]), ",")
		s, err := decodeTOMLString(strings.TrimSpace(inner))
		return err == nil && s == want
	}
}
