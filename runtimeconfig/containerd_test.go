package runtimeconfig

import (
	"errors"
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
