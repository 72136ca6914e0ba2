package shim

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestWriteExampleSpec(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		rootless bool
		setup    func(t *testing.T, dir string)
		err      string
		check    func(t *testing.T, s *specs.Spec)
	}{
		{
			name: "plain",
			check: func(t *testing.T, s *specs.Spec) {
				if s.Root == nil || s.Root.Path != "rootfs" || s.Process == nil || len(s.Process.Args) == 0 {
					t.Errorf("not runc's example: root %+v process %+v", s.Root, s.Process)
				}
				if len(s.Linux.UIDMappings) != 0 {
					t.Errorf("uid mappings in a rootful example: %+v", s.Linux.UIDMappings)
				}
			},
		},
		{
			name:     "rootless maps the caller and joins a user namespace",
			rootless: true,
			check: func(t *testing.T, s *specs.Spec) {
				if len(s.Linux.UIDMappings) != 1 || len(s.Linux.GIDMappings) != 1 {
					t.Errorf("mappings = %+v %+v, want one each", s.Linux.UIDMappings, s.Linux.GIDMappings)
				}
				var user bool
				for _, ns := range s.Linux.Namespaces {
					user = user || ns.Type == specs.UserNamespace
				}
				if !user {
					t.Error("no user namespace in the rootless example")
				}
			},
		},
		{
			name: "an existing config.json is kept",
			setup: func(t *testing.T, dir string) {
				if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"mine":1}`), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			err: "already exists; remove it first",
		},
		{
			name: "a dangling symlink in its place is not followed",
			setup: func(t *testing.T, dir string) {
				if err := os.Symlink(filepath.Join(dir, "elsewhere.json"), filepath.Join(dir, "config.json")); err != nil {
					t.Fatal(err)
				}
			},
			err: "already exists",
		},
		{
			name:  "missing bundle directory",
			setup: func(t *testing.T, dir string) { os.Remove(dir) },
			err:   "no such file or directory",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if tc.setup != nil {
				tc.setup(t, dir)
			}
			before, _ := os.ReadFile(filepath.Join(dir, "config.json"))
			err := writeExampleSpec(dir, tc.rootless)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), dir) {
					t.Fatalf("error = %v, want one naming %s and containing %q", err, dir, tc.err)
				}
				after, _ := os.ReadFile(filepath.Join(dir, "config.json"))
				if string(after) != string(before) {
					t.Errorf("config.json changed from %q to %q", before, after)
				}
				if _, err := os.Stat(filepath.Join(dir, "elsewhere.json")); err == nil {
					t.Error("the symlink's target was created")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(filepath.Join(dir, "config.json"))
			if err != nil {
				t.Fatal(err)
			}
			var s specs.Spec
			dec := json.NewDecoder(strings.NewReader(string(data)))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&s); err != nil {
				t.Fatalf("decoding the written spec: %v", err)
			}
			tc.check(t, &s)
		})
	}
}
