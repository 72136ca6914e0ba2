package create

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/runc/libcontainer/specconv"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hardened-runtime/hardened/hardening"
	"github.com/hardened-runtime/hardened/internal/audit"
	"github.com/hardened-runtime/hardened/spec"
)

// What the conversion changes in libcontainer's config, where config.json
// keeps its meaning, is noted in the Report (and so in the audit record):
// a FIFO's major:minor and a bind mount's data options cleared for
// libcontainer, RLIMIT_AS deferred to start. Nothing is noted when there
// is nothing to adjust, and off mode (no Report) gets none.
func TestConvertNotes(t *testing.T) {
	t.Setenv(seccompCacheEnv, "off")
	zero := uint32(0)
	for _, tc := range []struct {
		name  string
		edit  func(*specs.Spec)
		rules []string
	}{
		{"nothing to adjust", func(*specs.Spec) {}, nil},
		{"FIFO with numbers", func(s *specs.Spec) {
			s.Linux.Devices = append(s.Linux.Devices, specs.LinuxDevice{Path: "/dev/fifo", Type: "p", Major: 8, Minor: 666, UID: &zero, GID: &zero})
		}, []string{RuleCompat}},
		{"bind mount with data options", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "bind", Source: "/tmp", Options: []string{"bind", "mode=755", "size=1k"}})
		}, []string{RuleCompat}},
		{"RLIMIT_AS", func(s *specs.Spec) {
			s.Process.Rlimits = append(s.Process.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_AS", Soft: 1 << 30, Hard: 1 << 30})
		}, []string{RuleDeferredRlimit}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := specconv.Example()
			s.Root.Path = t.TempDir()
			tc.edit(s)
			log := filepath.Join(t.TempDir(), "audit.log")
			c := &creation{
				opts:    Options{ID: "notes"},
				bundle:  &spec.Bundle{Dir: t.TempDir(), Spec: s},
				checked: &hardening.Checked{Report: &hardening.Report{}},
				audit:   &createAudit{log: audit.Log{Path: log}},
			}
			if err := c.convert(); err != nil {
				t.Fatal(err)
			}
			// The audit record is written once converted, with the notes.
			data, err := os.ReadFile(log)
			if err != nil {
				t.Fatal(err)
			}
			var rec audit.Record
			if err := json.Unmarshal(data, &rec); err != nil {
				t.Fatal(err)
			}
			var recorded []string
			for _, n := range rec.Notes {
				recorded = append(recorded, n.Rule)
			}
			if strings.Join(recorded, ",") != strings.Join(tc.rules, ",") {
				t.Errorf("audit record notes %v, want rules %v", rec.Notes, tc.rules)
			}
			var got []string
			for _, n := range c.checked.Report.Notes {
				got = append(got, n.Rule)
				if n.Message == "" {
					t.Errorf("note of %s without a message", n.Rule)
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.rules, ",") {
				t.Errorf("notes %v, want rules %v", c.checked.Report.Notes, tc.rules)
			}
			for _, rl := range c.cfg.Rlimits {
				if tc.name == "RLIMIT_AS" && rl.Type == unix.RLIMIT_AS {
					t.Error("RLIMIT_AS left for libcontainer")
				}
			}
			// Off mode: converted the same, nothing to note into.
			s2 := specconv.Example()
			s2.Root.Path = s.Root.Path
			tc.edit(s2)
			off := &creation{opts: Options{ID: "notes"}, bundle: &spec.Bundle{Dir: c.bundle.Dir, Spec: s2}, audit: &createAudit{}}
			if err := off.convert(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A bind mount's relative source is resolved against the bundle, never
// the working directory, and the bundle label names the bundle.
func TestLibcontainerConfigBundlePaths(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	s := specconv.Example()
	s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "bind", Source: "data", Options: []string{"bind"}})
	cfg, _, err := libcontainerConfig(Options{ID: "paths"}, &spec.Bundle{Dir: dir, Spec: s}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Rootfs != filepath.Join(dir, "rootfs") {
		t.Errorf("rootfs %s, want %s", cfg.Rootfs, filepath.Join(dir, "rootfs"))
	}
	found := false
	for _, m := range cfg.Mounts {
		if m.Destination == "/data" {
			found = true
			if m.Source != filepath.Join(dir, "data") {
				t.Errorf("bind source %s, want %s", m.Source, filepath.Join(dir, "data"))
			}
		}
	}
	if !found {
		t.Error("bind mount /data lost")
	}
	for _, l := range cfg.Labels {
		if strings.HasPrefix(l, "bundle=") && l != "bundle="+dir {
			t.Errorf("label %s, want bundle=%s", l, dir)
		}
	}
	// The bundle's own spec is not touched by the conversion.
	if s.Mounts[len(s.Mounts)-1].Source != "data" || s.Root.Path != "rootfs" {
		t.Errorf("the bundle's spec changed: root %s, mount %+v", s.Root.Path, s.Mounts[len(s.Mounts)-1])
	}
}
