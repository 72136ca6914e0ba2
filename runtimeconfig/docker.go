package runtimeconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrMalformed marks a configuration file that cannot be parsed, or whose
// structure is not what the engine expects (e.g. "runtimes" not an
// object). The file must be fixed by hand; nothing is written.
var ErrMalformed = errors.New("malformed configuration")

// Runtime is what gets registered.
type Runtime struct {
	// Name is the runtime's name in the engine ("hardened"): what
	// `docker run --runtime=NAME` and a Kubernetes RuntimeClass handler use.
	Name string
	// Path is the absolute path of the runtime binary.
	Path string
	// Default also makes it the engine's default runtime.
	Default bool
	// Args are passed to the runtime before every command (Docker's
	// "runtimeArgs"), e.g. ["--policy=/etc/hardened/audit.json"] for a
	// second runtime beside the default one. Docker only.
	Args []string
}

// Edit is the result of editing a configuration.
type Edit struct {
	// Data is the new file content.
	Data []byte
	// Changed is false when the file already said what was asked; the
	// caller then need not write it.
	Changed bool
	// Notes describe each change, one line each, for the user.
	Notes []string
}

// FileEdit returns the edit itself. Engine-specific edits embed Edit
// (ContainerdEdit), so a caller handles every engine's edit alike.
func (e Edit) FileEdit() Edit { return e }

// Docker's daemon.json keys this package touches.
const (
	dockerRuntimesKey = "runtimes"
	dockerDefaultKey  = "default-runtime"
)

// InstallDocker adds rt to daemon.json's "runtimes" as {"path": rt.Path},
// replacing an entry of the same name, and with rt.Default sets
// "default-runtime". Empty input is an empty configuration. Every other
// key keeps its raw value and its position.
func InstallDocker(config []byte, rt Runtime) (Edit, error) {
	if rt.Name == "" || rt.Path == "" {
		return Edit{}, errors.New("runtime name and path must be set")
	}
	top, err := parseObject(config, "daemon.json")
	if err != nil {
		return Edit{}, err
	}
	var edit Edit
	runtimes, err := subObject(top, dockerRuntimesKey)
	if err != nil {
		return Edit{}, err
	}
	entry, _ := json.Marshal(dockerRuntimeEntry{Path: rt.Path, RuntimeArgs: rt.Args})
	what := "path " + rt.Path
	if len(rt.Args) > 0 {
		args, _ := json.Marshal(rt.Args)
		what += " and runtimeArgs " + string(args)
	}
	if old, ok := runtimes.get(rt.Name); ok {
		if !sameJSON(old, entry) {
			edit.Notes = append(edit.Notes, fmt.Sprintf("replaced runtime %q (was %s) with %s", rt.Name, compact(old), what))
			runtimes.set(rt.Name, entry)
		}
	} else {
		edit.Notes = append(edit.Notes, fmt.Sprintf("added runtime %q with %s", rt.Name, what))
		runtimes.set(rt.Name, entry)
	}
	top.set(dockerRuntimesKey, runtimes.encode())
	if rt.Default {
		name, _ := json.Marshal(rt.Name)
		if old, ok := top.get(dockerDefaultKey); !ok || !sameJSON(old, name) {
			edit.Notes = append(edit.Notes, fmt.Sprintf("set %q to %q", dockerDefaultKey, rt.Name))
			top.set(dockerDefaultKey, name)
		}
	}
	return top.finish(config, edit)
}

// dockerRuntimeEntry is one entry of daemon.json's "runtimes".
type dockerRuntimeEntry struct {
	Path        string   `json:"path"`
	RuntimeArgs []string `json:"runtimeArgs,omitempty"`
}

// UninstallDocker removes the runtime name from daemon.json's "runtimes"
// (and "runtimes" itself when that leaves it empty), and removes
// "default-runtime" when it names that runtime, since dockerd refuses a
// default runtime it does not know. A file without the entry is left as
// it is (Changed false).
func UninstallDocker(config []byte, name string) (Edit, error) {
	top, err := parseObject(config, "daemon.json")
	if err != nil {
		return Edit{}, err
	}
	var edit Edit
	if _, ok := top.get(dockerRuntimesKey); ok {
		runtimes, err := subObject(top, dockerRuntimesKey)
		if err != nil {
			return Edit{}, err
		}
		if runtimes.remove(name) {
			edit.Notes = append(edit.Notes, fmt.Sprintf("removed runtime %q", name))
			if len(runtimes.keys) == 0 {
				top.remove(dockerRuntimesKey)
			} else {
				top.set(dockerRuntimesKey, runtimes.encode())
			}
		}
	}
	quoted, _ := json.Marshal(name)
	if old, ok := top.get(dockerDefaultKey); ok && sameJSON(old, quoted) {
		top.remove(dockerDefaultKey)
		edit.Notes = append(edit.Notes, fmt.Sprintf("removed %q (it named %q; Docker falls back to runc)", dockerDefaultKey, name))
	}
	return top.finish(config, edit)
}

// object is a JSON object that keeps its keys in order and its values as
// raw bytes.
type object struct {
	name   string // for errors: "daemon.json" or `daemon.json "runtimes"`
	keys   []string
	values map[string]json.RawMessage
}

// parseObject decodes one JSON object. Blank input is an empty object.
// Duplicate keys are refused: dockerd would silently take the last one,
// and an edit of the first would then have no effect.
func parseObject(data []byte, name string) (*object, error) {
	obj := &object{name: name, values: map[string]json.RawMessage{}}
	if len(bytes.TrimSpace(data)) == 0 {
		return obj, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	malformed := func(err error) error {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			err = errors.New("unexpected end of input")
		}
		return fmt.Errorf("%s: %w: %s (at byte %d)", name, ErrMalformed, err, dec.InputOffset())
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, malformed(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("%s: %w: must be a JSON object, not %s", name, ErrMalformed, describeToken(tok))
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, malformed(err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, malformed(fmt.Errorf("object key expected"))
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, malformed(fmt.Errorf("value of %q: %w", key, err))
		}
		if _, dup := obj.values[key]; dup {
			return nil, fmt.Errorf("%s: %w: key %q appears twice", name, ErrMalformed, key)
		}
		obj.keys = append(obj.keys, key)
		obj.values[key] = raw
	}
	if _, err := dec.Token(); err != nil {
		return nil, malformed(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%s: %w: data after the top-level object (at byte %d)", name, ErrMalformed, dec.InputOffset())
	}
	return obj, nil
}

// subObject returns the object under key, or a new empty one if absent.
func subObject(parent *object, key string) (*object, error) {
	name := fmt.Sprintf("%s %q", parent.name, key)
	raw, ok := parent.get(key)
	if !ok || string(raw) == "null" {
		return &object{name: name, values: map[string]json.RawMessage{}}, nil
	}
	if bytes.TrimSpace(raw)[0] != '{' {
		return nil, fmt.Errorf("%s: %w: must be a JSON object", name, ErrMalformed)
	}
	return parseObject(raw, name)
}

func (o *object) get(key string) (json.RawMessage, bool) {
	v, ok := o.values[key]
	return v, ok
}

// set replaces key's value in place, or appends key.
func (o *object) set(key string, value json.RawMessage) {
	if _, ok := o.values[key]; !ok {
		o.keys = append(o.keys, key)
	}
	o.values[key] = value
}

func (o *object) remove(key string) bool {
	if _, ok := o.values[key]; !ok {
		return false
	}
	delete(o.values, key)
	for i, k := range o.keys {
		if k == key {
			o.keys = append(o.keys[:i], o.keys[i+1:]...)
			break
		}
	}
	return true
}

// encode writes the object compactly, values as they came.
func (o *object) encode() json.RawMessage {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		name, _ := json.Marshal(k)
		b.Write(name)
		b.WriteByte(':')
		b.Write(o.values[k])
	}
	b.WriteByte('}')
	return b.Bytes()
}

// finish renders the object indented (daemon.json is edited by people)
// and reports whether it differs in meaning from the original.
func (o *object) finish(original []byte, edit Edit) (Edit, error) {
	var b bytes.Buffer
	if err := json.Indent(&b, o.encode(), "", "  "); err != nil {
		return Edit{}, fmt.Errorf("%s: encode: %w", o.name, err)
	}
	b.WriteByte('\n')
	edit.Data = b.Bytes()
	edit.Changed = len(edit.Notes) > 0
	if !edit.Changed {
		edit.Data = original
	}
	return edit, nil
}

// sameJSON reports whether two JSON texts mean the same value.
func sameJSON(a, b []byte) bool {
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	ea, _ := json.Marshal(va)
	eb, _ := json.Marshal(vb)
	return bytes.Equal(ea, eb)
}

func compact(raw []byte) string {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return string(raw)
	}
	return b.String()
}

func describeToken(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		if v == '[' {
			return "an array"
		}
		return string(v)
	case string:
		return "a string"
	case json.Number, float64:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return strings.TrimSpace(fmt.Sprint(tok))
}
