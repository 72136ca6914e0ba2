package runtimeconfig

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"

	"github.com/pelletier/go-toml/v2"
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
	// DroppedComments counts the comment lines of the original that the
	// new content does not have (TOML libraries do not keep comments).
	DroppedComments int
}

// InstallContainerd registers rt in config.toml as a runc-v2 runtime of
// the CRI plugin (runtime_type io.containerd.runc.v2, options.BinaryName
// rt.Path), under the table the file's version calls for. Keys an
// existing entry of that name has besides those two are kept. The runc
// runtime's options.SystemdCgroup, if set, is copied: kubelet and the
// runtime must agree on the cgroup driver. rt.Default sets the CRI
// plugin's containerd.default_runtime_name.
func InstallContainerd(config []byte, rt Runtime) (ContainerdEdit, error) {
	if rt.Name == "" || rt.Path == "" {
		return ContainerdEdit{}, errors.New("runtime name and path must be set")
	}
	doc, version, err := parseContainerd(config)
	if err != nil {
		return ContainerdEdit{}, err
	}
	if len(doc) == 0 {
		version = newConfigVersion
		doc["version"] = int64(newConfigVersion)
	}
	edit := ContainerdEdit{Version: version, Table: runtimeTable(version, rt.Name)}
	ctrd, err := tablePath(doc, true, "plugins", criRuntimePlugin[version], "containerd")
	if err != nil {
		return ContainerdEdit{}, err
	}
	runtimes, err := tablePath(ctrd, true, "runtimes")
	if err != nil {
		return ContainerdEdit{}, err
	}
	entry, err := tablePath(runtimes, true, rt.Name)
	if err != nil {
		return ContainerdEdit{}, err
	}
	before := deepCopy(entry)
	entry["runtime_type"] = RuncV2
	options, err := tablePath(entry, true, "options")
	if err != nil {
		return ContainerdEdit{}, err
	}
	options["BinaryName"] = rt.Path
	detail := ""
	if runcOptions, err := tablePath(runtimes, false, "runc", "options"); err == nil && runcOptions != nil {
		if systemd, ok := runcOptions["SystemdCgroup"]; ok {
			options["SystemdCgroup"] = systemd
			detail = fmt.Sprintf(", options.SystemdCgroup %v (as runc's)", systemd)
		}
	}
	if !reflect.DeepEqual(before, entry) {
		edit.Notes = append(edit.Notes, fmt.Sprintf("set %s: runtime_type %q, options.BinaryName %q%s", edit.Table, RuncV2, rt.Path, detail))
	}
	if rt.Default && ctrd["default_runtime_name"] != rt.Name {
		ctrd["default_runtime_name"] = rt.Name
		edit.Notes = append(edit.Notes, fmt.Sprintf("set default_runtime_name to %q", rt.Name))
	}
	return finishContainerd(config, doc, edit)
}

// UninstallContainerd removes the runtime's table, and default_runtime_name
// when it names the runtime; tables left empty by that are removed too. A
// file without the entry is left as it is (Changed false).
func UninstallContainerd(config []byte, name string) (ContainerdEdit, error) {
	doc, version, err := parseContainerd(config)
	if err != nil {
		return ContainerdEdit{}, err
	}
	edit := ContainerdEdit{Version: version, Table: runtimeTable(version, name)}
	path := []string{"plugins", criRuntimePlugin[version], "containerd"}
	ctrd, err := tablePath(doc, false, path...)
	if err != nil || ctrd == nil {
		return finishContainerd(config, doc, edit)
	}
	if runtimes, err := tablePath(ctrd, false, "runtimes"); err == nil && runtimes != nil {
		if _, ok := runtimes[name]; ok {
			delete(runtimes, name)
			edit.Notes = append(edit.Notes, "removed "+edit.Table)
			if len(runtimes) == 0 {
				delete(ctrd, "runtimes")
			}
		}
	}
	if ctrd["default_runtime_name"] == name {
		delete(ctrd, "default_runtime_name")
		edit.Notes = append(edit.Notes, fmt.Sprintf("removed default_runtime_name (it named %q; containerd falls back to runc)", name))
	}
	pruneEmpty(doc, path)
	return finishContainerd(config, doc, edit)
}

// parseContainerd decodes config.toml and returns its version.
func parseContainerd(config []byte) (map[string]any, int64, error) {
	doc := map[string]any{}
	if err := toml.Unmarshal(config, &doc); err != nil {
		var derr *toml.DecodeError
		if errors.As(err, &derr) {
			row, col := derr.Position()
			return nil, 0, fmt.Errorf("config.toml: %w: line %d, column %d: %s", ErrMalformed, row, col, derr.Error())
		}
		return nil, 0, fmt.Errorf("config.toml: %w: %s", ErrMalformed, err)
	}
	version := int64(1)
	if v, ok := doc["version"]; ok {
		n, ok := v.(int64)
		if !ok {
			return nil, 0, fmt.Errorf("config.toml: %w: version must be an integer, not %v", ErrMalformed, v)
		}
		version = n
	}
	if _, ok := criRuntimePlugin[version]; !ok {
		return nil, 0, fmt.Errorf("config.toml: version %d is not supported (1, 2 and 3 are)", version)
	}
	return doc, version, nil
}

// tablePath walks (and with create, makes) nested tables. A key that holds
// something other than a table is an error; a missing table without create
// is (nil, nil).
func tablePath(t map[string]any, create bool, keys ...string) (map[string]any, error) {
	for i, k := range keys {
		v, ok := t[k]
		if !ok {
			if !create {
				return nil, nil
			}
			next := map[string]any{}
			t[k] = next
			t = next
			continue
		}
		next, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("config.toml: %w: %s must be a table", ErrMalformed, tomlKey(keys[:i+1]))
		}
		t = next
	}
	return t, nil
}

// pruneEmpty removes the tables along path that are empty, deepest first.
func pruneEmpty(doc map[string]any, path []string) {
	for n := len(path); n > 0; n-- {
		parent, err := tablePath(doc, false, path[:n-1]...)
		if err != nil || parent == nil {
			return
		}
		child, ok := parent[path[n-1]].(map[string]any)
		if !ok || len(child) > 0 {
			return
		}
		delete(parent, path[n-1])
	}
}

func finishContainerd(original []byte, doc map[string]any, edit ContainerdEdit) (ContainerdEdit, error) {
	edit.Changed = len(edit.Notes) > 0
	if !edit.Changed {
		edit.Data = original
		return edit, nil
	}
	var b bytes.Buffer
	enc := toml.NewEncoder(&b)
	enc.SetIndentTables(true)
	if err := enc.Encode(doc); err != nil {
		return ContainerdEdit{}, fmt.Errorf("config.toml: encode: %w", err)
	}
	edit.Data = b.Bytes()
	edit.DroppedComments = countComments(original) - countComments(edit.Data)
	return edit, nil
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
			fmt.Fprintf(&b, "%q", k)
		}
	}
	return b.String()
}

func isBareKey(k string) bool {
	if k == "" {
		return false
	}
	for _, r := range k {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// countComments counts lines whose first non-blank character is '#'.
func countComments(data []byte) int {
	n := 0
	for _, line := range bytes.Split(data, []byte("\n")) {
		if t := bytes.TrimSpace(line); len(t) > 0 && t[0] == '#' {
			n++
		}
	}
	return n
}

// deepCopy copies nested tables so a later comparison sees changes.
func deepCopy(t map[string]any) map[string]any {
	c := make(map[string]any, len(t))
	for k, v := range t {
		if sub, ok := v.(map[string]any); ok {
			v = deepCopy(sub)
		}
		c[k] = v
	}
	return c
}
