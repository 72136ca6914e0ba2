package runtimeconfig

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

var hardened = Runtime{Name: "hardened", Path: "/usr/bin/hardened"}

// A daemon.json with settings of every JSON type, a nested object and a
// number that float64 would round.
const dockerBase = `{
  "log-level": "warn",
  "max-concurrent-downloads": 2,
  "storage-driver": "overlay2",
  "debug": false,
  "registry-mirrors": ["https://mirror.example"],
  "log-opts": {"max-size": "10m", "max-file": "3"},
  "default-ulimits": {"nofile": {"Name": "nofile", "Hard": 64000, "Soft": 64000}},
  "big": 12345678901234567890,
  "runtimes": {"other": {"path": "/opt/other", "runtimeArgs": ["--x"]}}
}`

func decode(t *testing.T, data []byte) map[string]any {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
	return m
}

func TestInstallDocker(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		in     string
		rt     Runtime
		want   map[string]any // keys checked in the result (JSON text)
		absent []string
		notes  int
	}{
		{
			name:  "empty file",
			in:    "",
			rt:    hardened,
			want:  map[string]any{"runtimes": `{"hardened":{"path":"/usr/bin/hardened"}}`},
			notes: 1,
		},
		{
			name:  "blank object",
			in:    "{}\n",
			rt:    hardened,
			want:  map[string]any{"runtimes": `{"hardened":{"path":"/usr/bin/hardened"}}`},
			notes: 1,
		},
		{
			name: "other settings kept",
			in:   dockerBase,
			rt:   hardened,
			want: map[string]any{
				"runtimes": `{"other":{"path":"/opt/other","runtimeArgs":["--x"]},"hardened":{"path":"/usr/bin/hardened"}}`,
				"big":      `12345678901234567890`,
			},
			absent: []string{"default-runtime"},
			notes:  1,
		},
		{
			name:  "default",
			in:    `{"default-runtime": "runc"}`,
			rt:    Runtime{Name: "hardened", Path: "/usr/bin/hardened", Default: true},
			want:  map[string]any{"default-runtime": `"hardened"`},
			notes: 2,
		},
		{
			name:  "replaces a stale entry",
			in:    `{"runtimes": {"hardened": {"path": "/usr/local/bin/hardened", "runtimeArgs": ["--debug"]}}}`,
			rt:    hardened,
			want:  map[string]any{"runtimes": `{"hardened":{"path":"/usr/bin/hardened"}}`},
			notes: 1,
		},
		{
			name:  "already installed",
			in:    `{"runtimes": {"hardened": {"path": "/usr/bin/hardened"}}}`,
			rt:    hardened,
			notes: 0,
		},
		{
			name:  "second runtime with runtimeArgs beside the first",
			in:    `{"runtimes": {"hardened": {"path": "/usr/bin/hardened"}}}`,
			rt:    Runtime{Name: "hardened-audit", Path: "/usr/bin/hardened", Args: []string{"--policy=/etc/hardened/audit.json"}},
			want:  map[string]any{"runtimes": `{"hardened":{"path":"/usr/bin/hardened"},"hardened-audit":{"path":"/usr/bin/hardened","runtimeArgs":["--policy=/etc/hardened/audit.json"]}}`},
			notes: 1,
		},
		{
			name:  "runtimeArgs already there",
			in:    `{"runtimes": {"hardened-audit": {"path": "/usr/bin/hardened", "runtimeArgs": ["--debug"]}}}`,
			rt:    Runtime{Name: "hardened-audit", Path: "/usr/bin/hardened", Args: []string{"--debug"}},
			notes: 0,
		},
		{
			name:  "null runtimes",
			in:    `{"runtimes": null}`,
			rt:    hardened,
			want:  map[string]any{"runtimes": `{"hardened":{"path":"/usr/bin/hardened"}}`},
			notes: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			edit, err := InstallDocker([]byte(tc.in), tc.rt)
			if err != nil {
				t.Fatal(err)
			}
			if len(edit.Notes) != tc.notes || edit.Changed != (tc.notes > 0) {
				t.Fatalf("notes %q, changed %v; want %d notes", edit.Notes, edit.Changed, tc.notes)
			}
			if !edit.Changed {
				if string(edit.Data) != tc.in {
					t.Fatalf("unchanged edit rewrote the file:\n%s", edit.Data)
				}
				return
			}
			got := decode(t, edit.Data)
			for k, v := range tc.want {
				if !reflect.DeepEqual(got[k], decode(t, []byte(`{"v":`+v.(string)+`}`))["v"]) {
					t.Errorf("%s = %v, want %s", k, got[k], v)
				}
			}
			for _, k := range tc.absent {
				if _, ok := got[k]; ok {
					t.Errorf("%s set: %v", k, got[k])
				}
			}
			// Every key of the input other than the edited ones survives.
			if strings.TrimSpace(tc.in) != "" {
				in := decode(t, []byte(tc.in))
				for k, v := range in {
					if _, edited := tc.want[k]; edited {
						continue
					}
					if !reflect.DeepEqual(got[k], v) {
						t.Errorf("%s changed: %v -> %v", k, v, got[k])
					}
				}
			}
		})
	}
}

func TestInstallDockerKeepsKeyOrderAndRawValues(t *testing.T) {
	t.Parallel()
	edit, err := InstallDocker([]byte(dockerBase), hardened)
	if err != nil {
		t.Fatal(err)
	}
	out := string(edit.Data)
	order := []string{`"log-level"`, `"max-concurrent-downloads"`, `"storage-driver"`, `"debug"`, `"registry-mirrors"`, `"log-opts"`, `"default-ulimits"`, `"big": 12345678901234567890`, `"runtimes"`, `"other"`, `"hardened"`}
	last := -1
	for _, s := range order {
		i := strings.Index(out, s)
		if i <= last {
			t.Fatalf("%s out of order or missing in:\n%s", s, out)
		}
		last = i
	}
}

func TestDockerRoundTrip(t *testing.T) {
	t.Parallel()
	for _, in := range []string{dockerBase, `{}`, `{"default-runtime": "runc", "runtimes": {}}`} {
		installed, err := InstallDocker([]byte(in), Runtime{Name: "hardened", Path: "/usr/bin/hardened", Default: true})
		if err != nil {
			t.Fatal(err)
		}
		removed, err := UninstallDocker(installed.Data, "hardened")
		if err != nil {
			t.Fatal(err)
		}
		want := decode(t, []byte(in))
		got := decode(t, removed.Data)
		// Removing the default runtime cannot restore "runc": the
		// setting is dropped, and dockerd's default is runc.
		if want["default-runtime"] == "runc" {
			delete(want, "default-runtime")
		}
		if rt, ok := want["runtimes"].(map[string]any); ok && len(rt) == 0 {
			delete(want, "runtimes")
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("install+uninstall of %s:\ngot  %v\nwant %v", in, got, want)
		}
	}
}

func TestUninstallDocker(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
		changed        bool
	}{
		{"not installed", `{"log-level": "warn"}`, `{"log-level": "warn"}`, false},
		{"empty", ``, ``, false},
		{"only entry", `{"runtimes": {"hardened": {"path": "/usr/bin/hardened"}}, "debug": true}`, `{"debug": true}`, true},
		{"keeps others", `{"runtimes": {"a": {"path": "/a"}, "hardened": {"path": "/h"}}}`, `{"runtimes": {"a": {"path": "/a"}}}`, true},
		{"default runtime", `{"default-runtime": "hardened", "runtimes": {"hardened": {"path": "/h"}}}`, `{}`, true},
		{"other default kept", `{"default-runtime": "crun", "runtimes": {"hardened": {"path": "/h"}}}`, `{"default-runtime": "crun"}`, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			edit, err := UninstallDocker([]byte(tc.in), "hardened")
			if err != nil {
				t.Fatal(err)
			}
			if edit.Changed != tc.changed {
				t.Fatalf("changed %v, want %v (notes %q)", edit.Changed, tc.changed, edit.Notes)
			}
			if !tc.changed {
				if string(edit.Data) != tc.in {
					t.Fatalf("unchanged edit rewrote the file: %s", edit.Data)
				}
				return
			}
			if !reflect.DeepEqual(decode(t, edit.Data), decode(t, []byte(tc.want))) {
				t.Errorf("got %s, want %s", edit.Data, tc.want)
			}
		})
	}
}

func TestDockerMalformed(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, detail string }{
		{"truncated", `{"log-level": "warn",`, "unexpected end of input"},
		{"trailing comma", `{"a": 1,}`, "at byte"},
		{"array", `["runtimes"]`, "must be a JSON object, not an array"},
		{"string", `"x"`, "must be a JSON object, not a string"},
		{"trailing data", `{"a": 1} {"b": 2}`, "data after the top-level object"},
		{"duplicate key", `{"runtimes": {}, "runtimes": {}}`, `key "runtimes" appears twice`},
		{"runtimes not an object", `{"runtimes": ["hardened"]}`, `daemon.json "runtimes": malformed configuration: must be a JSON object`},
		{"comment", "// docker\n{}", "at byte"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for op, f := range map[string]func([]byte) (Edit, error){
				"install":   func(b []byte) (Edit, error) { return InstallDocker(b, hardened) },
				"uninstall": func(b []byte) (Edit, error) { return UninstallDocker(b, "hardened") },
			} {
				_, err := f([]byte(tc.in))
				if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.detail) || !strings.HasPrefix(err.Error(), "daemon.json") {
					t.Errorf("%s: error %v, want ErrMalformed mentioning %q", op, err, tc.detail)
				}
			}
		})
	}
}
