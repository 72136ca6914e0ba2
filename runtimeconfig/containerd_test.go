package runtimeconfig

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"
)

// A version 2 config.toml as Debian's containerd writes it, trimmed, with
// comments, a systemd runc and values of several TOML types.
const containerdV2 = `# containerd config, managed by hand
version = 2
root = "/var/lib/containerd"
oom_score = -999
disabled_plugins = []

[grpc]
  address = "/run/containerd/containerd.sock"
  max_recv_message_size = 16777216

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.9"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = true
  # registry mirrors
  [[plugins."io.containerd.grpc.v1.cri".registry.mirrors_list]]
    host = "mirror.example"
    ratio = 0.5
`

const containerdV3 = `version = 3
[plugins."io.containerd.cri.v1.runtime".containerd]
  default_runtime_name = "runc"
`

const containerdV1 = `[plugins.cri.containerd]
  snapshotter = "overlayfs"
`

func decodeTOML(t *testing.T, data []byte) map[string]any {
	t.Helper()
	m := map[string]any{}
	if err := toml.Unmarshal(data, &m); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
	return m
}

func lookup(m map[string]any, keys ...string) any {
	var v any = m
	for _, k := range keys {
		t, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = t[k]
	}
	return v
}

func TestInstallContainerd(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		rt      Runtime
		version int64
		plugin  string
		systemd any
		dflt    any
	}{
		{"empty file gets version 2", "", hardened, 2, "io.containerd.grpc.v1.cri", nil, nil},
		{"version 2", containerdV2, hardened, 2, "io.containerd.grpc.v1.cri", true, "runc"},
		{"version 2 default", containerdV2, Runtime{Name: "hardened", Path: "/usr/bin/hardened", Default: true}, 2, "io.containerd.grpc.v1.cri", true, "hardened"},
		{"version 3", containerdV3, hardened, 3, "io.containerd.cri.v1.runtime", nil, "runc"},
		{"version 1", containerdV1, hardened, 1, "cri", nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			edit, err := InstallContainerd([]byte(tc.in), tc.rt)
			if err != nil {
				t.Fatal(err)
			}
			if !edit.Changed || edit.Version != tc.version {
				t.Fatalf("changed %v version %d; want version %d", edit.Changed, edit.Version, tc.version)
			}
			got := decodeTOML(t, edit.Data)
			rt := []string{"plugins", tc.plugin, "containerd", "runtimes", "hardened"}
			if v := lookup(got, append(rt, "runtime_type")...); v != RuncV2 {
				t.Errorf("runtime_type = %v", v)
			}
			if v := lookup(got, append(rt, "options", "BinaryName")...); v != "/usr/bin/hardened" {
				t.Errorf("BinaryName = %v", v)
			}
			if v := lookup(got, append(rt, "options", "SystemdCgroup")...); v != tc.systemd {
				t.Errorf("SystemdCgroup = %v, want %v", v, tc.systemd)
			}
			if v := lookup(got, "plugins", tc.plugin, "containerd", "default_runtime_name"); v != tc.dflt {
				t.Errorf("default_runtime_name = %v, want %v", v, tc.dflt)
			}
			if !strings.Contains(edit.Table, `runtimes.hardened`) || !strings.Contains(edit.Table, tc.plugin) {
				t.Errorf("table %q", edit.Table)
			}
			// Installing again changes nothing.
			again, err := InstallContainerd(edit.Data, tc.rt)
			if err != nil || again.Changed {
				t.Errorf("second install: changed %v (%q), %v", again.Changed, again.Notes, err)
			}
		})
	}
}

func TestContainerdRoundTrip(t *testing.T) {
	t.Parallel()
	for _, in := range []string{containerdV2, containerdV3, containerdV1} {
		installed, err := InstallContainerd([]byte(in), Runtime{Name: "hardened", Path: "/usr/bin/hardened"})
		if err != nil {
			t.Fatal(err)
		}
		removed, err := UninstallContainerd(installed.Data, "hardened")
		if err != nil {
			t.Fatal(err)
		}
		if !removed.Changed {
			t.Fatalf("uninstall changed nothing in\n%s", installed.Data)
		}
		if got, want := decodeTOML(t, removed.Data), decodeTOML(t, []byte(in)); !reflect.DeepEqual(got, want) {
			t.Errorf("install+uninstall:\ngot  %#v\nwant %#v\nfile:\n%s", got, want, removed.Data)
		}
	}
}

func TestUninstallContainerd(t *testing.T) {
	t.Parallel()
	in := `version = 2
[plugins."io.containerd.grpc.v1.cri".containerd]
  default_runtime_name = "hardened"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.hardened]
    runtime_type = "io.containerd.runc.v2"
`
	edit, err := UninstallContainerd([]byte(in), "hardened")
	if err != nil {
		t.Fatal(err)
	}
	if got := decodeTOML(t, edit.Data); !reflect.DeepEqual(got, map[string]any{"version": int64(2)}) {
		t.Errorf("got %v", got)
	}
	if len(edit.Notes) != 2 {
		t.Errorf("notes %q", edit.Notes)
	}
	unchanged, err := UninstallContainerd([]byte(containerdV2), "hardened")
	if err != nil || unchanged.Changed || string(unchanged.Data) != containerdV2 {
		t.Errorf("uninstall where not installed: changed %v, %v", unchanged.Changed, err)
	}
}

func TestContainerdMalformed(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, detail string }{
		{"syntax", "version = 2\n[plugins\n", "line 2"},
		{"duplicate table", "[grpc]\n[grpc]\n", "line 2"},
		{"version string", `version = "2"`, "version must be an integer"},
		{"plugins not a table", "version = 2\nplugins = 3\n", "plugins must be a table"},
		{"runtimes not a table", "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd]\nruntimes = []\n", "runtimes must be a table"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := InstallContainerd([]byte(tc.in), hardened)
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.detail) {
				t.Errorf("error %v, want ErrMalformed mentioning %q", err, tc.detail)
			}
		})
	}
	if _, err := InstallContainerd([]byte("version = 4\n"), hardened); err == nil || !strings.Contains(err.Error(), "version 4 is not supported") {
		t.Errorf("version 4: %v", err)
	}
}

// referenceInstall is InstallContainerd as the go-toml implementation did
// it, on the decoded file: what the decoded result of the editor must be.
func referenceInstall(in map[string]any, rt Runtime) (map[string]any, error) {
	doc := copyTable(in)
	version := int64(1)
	if v, ok := doc["version"].(int64); ok {
		version = v
	}
	if len(doc) == 0 {
		version = newConfigVersion
		doc["version"] = int64(newConfigVersion)
	}
	plugin, ok := criRuntimePlugin[version]
	if !ok {
		return nil, errors.New("unsupported version")
	}
	entry, err := referenceTable(doc, true, "plugins", plugin, "containerd", "runtimes", rt.Name, "options")
	if err != nil {
		return nil, err
	}
	entry["BinaryName"] = rt.Path
	if systemd := lookup(doc, "plugins", plugin, "containerd", "runtimes", "runc", "options", "SystemdCgroup"); systemd != nil {
		entry["SystemdCgroup"] = systemd
	}
	lookup(doc, "plugins", plugin, "containerd", "runtimes", rt.Name).(map[string]any)["runtime_type"] = RuncV2
	if rt.Default {
		lookup(doc, "plugins", plugin, "containerd").(map[string]any)["default_runtime_name"] = rt.Name
	}
	return doc, nil
}

// referenceUninstall is UninstallContainerd as the go-toml implementation
// did it; changed says whether it removed anything.
func referenceUninstall(in map[string]any, name string) (doc map[string]any, changed bool) {
	doc = copyTable(in)
	version := int64(1)
	if v, ok := doc["version"].(int64); ok {
		version = v
	}
	path := []string{"plugins", criRuntimePlugin[version], "containerd"}
	ctrd, err := referenceTable(doc, false, path...)
	if err != nil || ctrd == nil {
		return doc, false
	}
	if runtimes, ok := ctrd["runtimes"].(map[string]any); ok {
		if _, ok := runtimes[name]; ok {
			delete(runtimes, name)
			changed = true
			if len(runtimes) == 0 {
				delete(ctrd, "runtimes")
			}
		}
	}
	if ctrd["default_runtime_name"] == name {
		delete(ctrd, "default_runtime_name")
		changed = true
	}
	if !changed {
		// The file is returned as it was: nothing is pruned.
		return copyTable(in), false
	}
	for n := len(path); n > 0; n-- {
		parent, _ := referenceTable(doc, false, path[:n-1]...)
		if child, ok := parent[path[n-1]].(map[string]any); !ok || len(child) > 0 {
			break
		}
		delete(parent, path[n-1])
	}
	return doc, changed
}

func referenceTable(t map[string]any, create bool, keys ...string) (map[string]any, error) {
	for _, k := range keys {
		v, ok := t[k]
		if !ok {
			if !create {
				return nil, nil
			}
			v = map[string]any{}
			t[k] = v
		}
		next, ok := v.(map[string]any)
		if !ok {
			return nil, errors.New(k + " is not a table")
		}
		t = next
	}
	return t, nil
}

func copyTable(t map[string]any) map[string]any {
	c := make(map[string]any, len(t))
	for k, v := range t {
		if sub, ok := v.(map[string]any); ok {
			v = copyTable(sub)
		}
		c[k] = v
	}
	return c
}

// hasNaN reports whether a decoded value holds a NaN, which DeepEqual
// never finds equal.
func hasNaN(v any) bool {
	switch v := v.(type) {
	case float64:
		return math.IsNaN(v)
	case map[string]any:
		for _, e := range v {
			if hasNaN(e) {
				return true
			}
		}
	case []any:
		for _, e := range v {
			if hasNaN(e) {
				return true
			}
		}
	}
	return false
}

// checkContainerdEdits checks install and uninstall of config against the
// reference, for any config go-toml reads; it returns the install's
// result, or ok false when the editor refused the file or go-toml does
// not read it.
func checkContainerdEdits(t *testing.T, config []byte, rt Runtime) (edit ContainerdEdit, ok bool) {
	t.Helper()
	in := map[string]any{}
	if toml.Unmarshal(config, &in) != nil || hasNaN(in) {
		return ContainerdEdit{}, false
	}
	uninstalled, err := UninstallContainerd(config, rt.Name)
	if err == nil {
		want, changed := referenceUninstall(in, rt.Name)
		if uninstalled.Changed != changed || !changed && !bytes.Equal(uninstalled.Data, config) {
			t.Fatalf("uninstall: changed %v, want %v; file:\n%s", uninstalled.Changed, changed, uninstalled.Data)
		}
		if got := decodeTOML(t, uninstalled.Data); !reflect.DeepEqual(got, want) {
			t.Fatalf("uninstall of\n%s\ngave\n%s\ngot  %#v\nwant %#v", config, uninstalled.Data, got, want)
		}
	}
	edit, err = InstallContainerd(config, rt)
	if err != nil {
		return edit, false
	}
	want, err := referenceInstall(in, rt)
	if err != nil {
		t.Fatalf("install of\n%s\nsucceeded, the reference fails: %v", config, err)
	}
	if got := decodeTOML(t, edit.Data); !reflect.DeepEqual(got, want) {
		t.Fatalf("install of\n%s\ngave\n%s\ngot  %#v\nwant %#v", config, edit.Data, got, want)
	}
	if edit.Changed == reflect.DeepEqual(in, want) || !edit.Changed && !bytes.Equal(edit.Data, config) {
		t.Fatalf("install: changed %v (%q) for\n%s", edit.Changed, edit.Notes, config)
	}
	again, err := InstallContainerd(edit.Data, rt)
	if err != nil || again.Changed || !bytes.Equal(again.Data, edit.Data) {
		t.Fatalf("second install: changed %v (%q), %v; file:\n%s", again.Changed, again.Notes, err, edit.Data)
	}
	removed, err := UninstallContainerd(edit.Data, rt.Name)
	if err != nil {
		t.Fatalf("uninstall after install: %v; file:\n%s", err, edit.Data)
	}
	wantRemoved, _ := referenceUninstall(want, rt.Name)
	if got := decodeTOML(t, removed.Data); !reflect.DeepEqual(got, wantRemoved) {
		t.Fatalf("uninstall of\n%s\ngave\n%s\ngot  %#v\nwant %#v", edit.Data, removed.Data, got, wantRemoved)
	}
	return edit, true
}

func TestContainerdKeepsLayout(t *testing.T) {
	t.Parallel()
	for _, in := range []string{containerdV2, containerdV3, containerdV1, strings.ReplaceAll(containerdV2, "\n", "\r\n")} {
		installed, err := InstallContainerd([]byte(in), hardened)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(installed.Data), in) {
			t.Errorf("install changed the existing lines:\n%s", installed.Data)
		}
		removed, err := UninstallContainerd(installed.Data, hardened.Name)
		if err != nil || string(removed.Data) != in {
			t.Errorf("install+uninstall is not the original (%v):\n%s", err, removed.Data)
		}
	}
	// A value is replaced where it is; the comment after it stays.
	in := "version = 3 # three\n[plugins.\"io.containerd.cri.v1.runtime\".containerd]\n  default_runtime_name = 'runc' # was runc\n  # end\n"
	edit, err := InstallContainerd([]byte(in), Runtime{Name: "hardened", Path: "/usr/bin/hardened", Default: true})
	if err != nil {
		t.Fatal(err)
	}
	want := "version = 3 # three\n[plugins.\"io.containerd.cri.v1.runtime\".containerd]\n  default_runtime_name = \"hardened\" # was runc\n  # end\n"
	if !strings.HasPrefix(string(edit.Data), want) {
		t.Errorf("got\n%s", edit.Data)
	}
}

const cri = `plugins."io.containerd.grpc.v1.cri"`

// containerdHostileInputs are files an editor that is not a full TOML
// reader could get wrong; the fuzz test starts from them too.
var containerdHostileInputs = []struct {
	name string
	in   string
	rt   Runtime
	// err is what the error must mention; "" for success.
	err string
	// exact: uninstall after install gives back the input byte for byte.
	exact bool
	// contains are texts the installed file must have.
	contains []string
}{
	{
		name: "strings with comment, bracket, quote and equals characters",
		in: "version = 2\n# [" + cri + ".containerd.runtimes.hardened]\nnote = \"a # not a comment [plugins] = x \\\" ]\"\nlit = 'C:\\path # [x]'\n" +
			"ml = \"\"\"\n[" + cri + ".containerd]\ndefault_runtime_name = \"runc\" # \\\"\"\"\n\"\"\"\nmll = '''\n[grpc] '''\n" +
			"quoted = \"\"\"a\"\"\"\"\"\n[" + cri + ".containerd]\n  default_runtime_name = \"runc\"\n",
		rt:    hardened,
		exact: true,
	},
	{
		name: "multi-line arrays with comments and strings",
		in: "version = 2\n[" + cri + ".containerd.runtimes.runc]\n  runtime_type = \"io.containerd.runc.v2\"\n  pod_annotations = [\n    \"a]#\", # comment ]\n    [ 'x', \"y\" ],\n  ]\n" +
			"  [" + cri + ".containerd.runtimes.runc.options]\n    SystemdCgroup = false\n",
		rt:       hardened,
		exact:    true,
		contains: []string{"SystemdCgroup = false\n"},
	},
	{
		name:     "CRLF line endings",
		in:       strings.ReplaceAll(containerdV3, "\n", "\r\n"),
		rt:       Runtime{Name: "hardened", Path: "/usr/bin/hardened", Default: true},
		contains: []string{"default_runtime_name = \"hardened\"\r\n", "BinaryName = \"/usr/bin/hardened\"\r\n"},
	},
	{
		name:     "no trailing newline",
		in:       "version = 2\n[" + cri + ".containerd]\n  snapshotter = \"overlayfs\" # last",
		rt:       Runtime{Name: "hardened", Path: "/usr/bin/hardened", Default: true},
		contains: []string{"snapshotter = \"overlayfs\" # last\n  default_runtime_name = \"hardened\"\n"},
	},
	{
		name:     "comments only",
		in:       "# nothing yet\n",
		rt:       hardened,
		contains: []string{"# nothing yet\nversion = 2\n"},
	},
	{
		name: "tables in unusual order",
		in: "version = 2\n[" + cri + ".containerd.runtimes.hardened.options]\n  BinaryName = \"/old/hardened\"\n[" + cri + ".containerd.runtimes.runc.options]\n  SystemdCgroup = true\n" +
			"[" + cri + ".containerd]\n  snapshotter = \"overlayfs\"\n",
		rt:       hardened,
		contains: []string{"options]\n  BinaryName = \"/usr/bin/hardened\"\n  SystemdCgroup = true\n["},
	},
	{
		name: "existing entry with extra keys",
		in: "version = 2\n[" + cri + ".containerd.runtimes.hardened]\n  runtime_type = 'io.containerd.runc.v1'\n  pod_annotations = [\"*\"]\n  privileged_without_host_devices = true\n" +
			"  [" + cri + ".containerd.runtimes.hardened.options]\n    BinaryName = \"/usr/local/bin/hardened\"\n    Root = \"/run/hardened\"\n",
		rt:       hardened,
		contains: []string{"  runtime_type = \"io.containerd.runc.v2\"\n  pod_annotations = [\"*\"]\n  privileged_without_host_devices = true\n", "    BinaryName = \"/usr/bin/hardened\"\n    Root = \"/run/hardened\"\n"},
	},
	{
		name:     "spaces around dots, literal key parts, a name that needs quotes",
		in:       "version = 2\n[ plugins . 'io.containerd.grpc.v1.cri' . \"containerd\" ]\n\tsnapshotter = \"overlayfs\"\n",
		rt:       Runtime{Name: "my.runtime", Path: "/opt/my runtime", Default: true},
		contains: []string{"\tsnapshotter = \"overlayfs\"\n\tdefault_runtime_name = \"my.runtime\"\n", "[" + cri + ".containerd.runtimes.\"my.runtime\"]\n"},
	},
	{
		name:     "runc options as an inline table",
		in:       "version = 2\n[" + cri + ".containerd.runtimes.runc]\n  options = { SystemdCgroup = true, BinaryName = \"runc\" }\n",
		rt:       hardened,
		exact:    true,
		contains: []string{"SystemdCgroup = true\n"},
	},
	{
		name:  "arrays of tables elsewhere",
		in:    "version = 2\n[[proxy_plugins.a]]\n  x = 1\n  [proxy_plugins.a.b]\n    y = 1\n[[proxy_plugins.a]]\n  [proxy_plugins.a.b]\n    y = 2\n",
		rt:    hardened,
		exact: true,
	},
	{name: "dotted key on the path", in: "version = 2\n[" + cri + "]\n  containerd.runtimes.runc.runtime_type = \"x\"\n", rt: hardened, err: "line 3: " + cri + ".containerd is defined with a dotted key"},
	{name: "dotted key from the root", in: "version = 2\nplugins.\"io.containerd.grpc.v1.cri\".containerd.snapshotter = \"x\"\n", rt: hardened, err: "line 2: plugins is defined with a dotted key"},
	{name: "inline runtimes", in: "version = 2\n[" + cri + ".containerd]\n  runtimes = { runc = { runtime_type = \"x\" } }\n", rt: hardened, err: "runtimes is defined with a dotted key or an inline table"},
	{name: "inline entry", in: "version = 2\n[" + cri + ".containerd.runtimes]\n  hardened = { runtime_type = \"x\" }\n", rt: hardened, err: "runtimes.hardened is defined with"},
	{name: "inline options", in: "version = 2\n[" + cri + ".containerd.runtimes.hardened]\n  options = {}\n", rt: hardened, err: "hardened.options is defined with"},
	{name: "array of tables on the path", in: "version = 2\n[[" + cri + ".containerd.runtimes]]\n", rt: hardened, err: "runtimes must be a table"},
	{name: "key defined twice", in: "version = 2\na = 1\na = 2\n", rt: hardened, err: "line 3: key a is defined twice"},
	{name: "unterminated string", in: "version = 2\na = \"x\n", rt: hardened, err: "line 2: basic strings cannot have new lines"},
	{name: "unterminated multi-line string", in: "version = 2\na = '''x\n\n", rt: hardened, err: "line 3: multiline literal string not terminated"},
	{name: "unterminated array", in: "version = 2\na = [1,\n2\n", rt: hardened, err: "line 3: array is incomplete"},
	{name: "bad header", in: "version = 2\n[a.]\n", rt: hardened, err: "line 2: invalid character at start of key"},
	{name: "table after a value", in: "version = 2\na = 1\n[a.b]\n", rt: hardened, err: "line 3: a is already defined as a value"},
	{name: "garbage after a value", in: "version = 2 3\n", rt: hardened, err: "line 1: expected newline"},
	{name: "a key that is a dotted table", in: "version = 2\n[" + cri + ".containerd.runtimes.hardened]\n  runtime_type.x = 1\n", rt: hardened, err: "line 3: " + cri + ".containerd.runtimes.hardened.runtime_type is a table"},
}

func TestContainerdHostileInputs(t *testing.T) {
	t.Parallel()
	for _, tc := range containerdHostileInputs {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.err != "" {
				_, err := InstallContainerd([]byte(tc.in), tc.rt)
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one mentioning %q", err, tc.err)
				}
				if !errors.Is(err, ErrMalformed) && !errors.Is(err, errors.ErrUnsupported) {
					t.Errorf("error %v is neither ErrMalformed nor ErrUnsupported", err)
				}
				return
			}
			edit, ok := checkContainerdEdits(t, []byte(tc.in), tc.rt)
			if !ok {
				t.Fatalf("install refused the file or go-toml does not read it")
			}
			for _, c := range tc.contains {
				if !strings.Contains(string(edit.Data), c) {
					t.Errorf("result lacks %q:\n%s", c, edit.Data)
				}
			}
			if strings.Contains(tc.in, "\r\n") && strings.Count(string(edit.Data), "\n") != strings.Count(string(edit.Data), "\r\n") {
				t.Errorf("result mixes line endings: %q", edit.Data)
			}
			if tc.exact {
				removed, err := UninstallContainerd(edit.Data, tc.rt.Name)
				if err != nil || string(removed.Data) != tc.in {
					t.Errorf("install+uninstall is not the original (%v):\n%s", err, removed.Data)
				}
			}
		})
	}
}

// containerdSeeds are the fuzz test's starting points.
var containerdSeeds = []string{
	"", containerdV1, containerdV2, containerdV3,
	strings.ReplaceAll(containerdV2, "\n", "\r\n"),
	"version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd]\n  default_runtime_name = \"hardened\"\n  [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.hardened]\n    runtime_type = \"io.containerd.runc.v2\"\n",
	"version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]\n  options = { SystemdCgroup = true }\n  a = [\n 1, # ]\n \"]\" ]\n",
	"version = 3\nx = \"\"\"\n[plugins]\n\"\"\"\n[[a]]\n[a.b]\n[[a]]\n[a.b]\n",
}

func FuzzInstallContainerd(f *testing.F) {
	for _, s := range containerdSeeds {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	for _, tc := range containerdHostileInputs {
		f.Add([]byte(tc.in), tc.rt.Default)
	}
	f.Fuzz(func(t *testing.T, config []byte, dflt bool) {
		checkContainerdEdits(t, config, Runtime{Name: "hardened", Path: "/usr/bin/hardened", Default: dflt})
	})
}

func TestTOMLString(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "/usr/bin/hardened", `a "quoted" \ path`, "tab\tnew\nline\r\x00\x1b\x7f", "ünïcode ☃ \U0001F600", "# [x] = '''"} {
		raw := tomlString(s)
		var got struct{ V string }
		if err := toml.Unmarshal([]byte("V = "+raw), &got); err != nil || got.V != s {
			t.Errorf("go-toml reads %s as %q (%v), want %q", raw, got.V, err, s)
		}
		if decoded, err := decodeTOMLString(raw); err != nil || decoded != s {
			t.Errorf("decodeTOMLString(%s) = %q, %v", raw, decoded, err)
		}
	}
	for raw, want := range map[string]string{
		`'C:\x'`:                       `C:\x`,
		"'''\nline\n'''":               "line\n",
		"\"\"\"\r\na \\\r\n   b\"\"\"": "a b",
		`"\u00e9\U0001F600"`:           "é\U0001F600",
	} {
		if got, err := decodeTOMLString(raw); err != nil || got != want {
			t.Errorf("decodeTOMLString(%s) = %q, %v; want %q", raw, got, err, want)
		}
	}
	if _, err := InstallContainerd(nil, Runtime{Name: "hardened", Path: "/bin/\xff"}); err == nil {
		t.Error("a path that is not UTF-8 was accepted")
	}
}
