package hardening

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// TestListKeysAdd: a list key in the file adds to the default; "replace"
// makes it replace the default; exceptions still add.
func TestListKeysAdd(t *testing.T) {
	t.Parallel()
	def := DefaultPolicy()
	tests := []struct {
		name  string
		json  string
		check func(*Policy) bool
	}{
		{"writablePaths adds", `{"writablePaths": ["/srv/"]}`, func(p *Policy) bool {
			return slices.Equal(p.WritablePaths, append(DefaultWritablePaths(), "/srv"))
		}},
		{"writablePaths empty keeps the default", `{"writablePaths": []}`, func(p *Policy) bool {
			return slices.Equal(p.WritablePaths, DefaultWritablePaths())
		}},
		{"writablePaths replaced", `{"replace": ["writablePaths"], "writablePaths": ["/srv"]}`, func(p *Policy) bool {
			return slices.Equal(p.WritablePaths, []string{"/srv"})
		}},
		{"writablePaths replaced by none", `{"replace": ["writablePaths"], "writablePaths": []}`, func(p *Policy) bool {
			return len(p.WritablePaths) == 0
		}},
		{"replace without the key keeps the default", `{"replace": ["writablePaths"]}`, func(p *Policy) bool {
			return slices.Equal(p.WritablePaths, DefaultWritablePaths())
		}},
		{"denySyscalls adds, no duplicate", `{"denySyscalls": ["ptrace", "bpf"]}`, func(p *Policy) bool {
			return slices.Equal(p.DenySyscalls, append(DefaultDenySyscalls(), "ptrace"))
		}},
		{"denySyscalls replaced", `{"replace": ["denySyscalls"], "denySyscalls": ["bpf"]}`, func(p *Policy) bool {
			return slices.Equal(p.DenySyscalls, []string{"bpf"})
		}},
		{"allowedHooks adds: Docker's hook stays", `{"allowedHooks": ["/usr/bin/hook"]}`, func(p *Policy) bool {
			return len(p.AllowedHooks) == len(def.AllowedHooks)+1 && p.AllowedHooks[0].Path == "/usr/bin/dockerd" && p.AllowedHooks[len(p.AllowedHooks)-1].Path == "/usr/bin/hook"
		}},
		{"idmapMountSources adds", `{"idmapMountSources": ["/srv/volumes"]}`, func(p *Policy) bool {
			return slices.Equal(p.IDMapMountSources, append(DefaultIDMapMountSources(), "/srv/volumes"))
		}},
		{"empty-default key: file value", `{"allowCapabilities": ["NET_RAW"]}`, func(p *Policy) bool {
			return slices.Equal(p.AllowCapabilities, []string{"CAP_NET_RAW"})
		}},
		{"no file keys: defaults", `{}`, func(p *Policy) bool {
			return slices.Equal(p.WritablePaths, def.WritablePaths) && slices.Equal(p.DenySyscalls, def.DenySyscalls) && len(p.AllowedHooks) == len(def.AllowedHooks)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := ParsePolicy("test", []byte(tt.json))
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(p) {
				t.Errorf("policy %s: writablePaths %v, denySyscalls %v, allowedHooks %+v, idmapMountSources %v",
					tt.json, p.WritablePaths, p.DenySyscalls, p.AllowedHooks, p.IDMapMountSources)
			}
		})
	}
	for _, bad := range []string{`{"replace": ["allowCapabilities"]}`, `{"replace": ["writablepaths"]}`, `{"replace": "writablePaths"}`} {
		if _, err := ParsePolicy("test", []byte(bad)); !errors.Is(err, ErrInvalidPolicy) || !strings.Contains(err.Error(), `"replace"`) {
			t.Errorf("%s: %v, want an invalid policy naming \"replace\"", bad, err)
		}
	}
}
