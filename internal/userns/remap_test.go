package userns

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hardened-runtime/hardened/hardening"
	"github.com/hardened-runtime/hardened/idmap"
)

// TestIDPoolWithoutRemapRanges: the pool never holds an engine's remap
// range (remapSubidUsers), whether it comes from the policy, the pool
// user's subordinate IDs or the built-in pool; other users' ranges stay.
func TestIDPoolWithoutRemapRanges(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	subuid, subgid := filepath.Join(dir, "subuid"), filepath.Join(dir, "subgid")
	const lines = "hardened:1000000:262144\ndockremap:1065536:65536\ncontainers:2000000:65536\nbuiltinremap:1879113728:65536\n"
	for _, f := range []string{subuid, subgid} {
		if err := os.WriteFile(f, []byte(lines), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := func(start, size uint32) idmap.Range { return idmap.Range{Start: start, Size: size} }
	tests := []struct {
		name  string
		pol   func(*hardening.UserNamespacePolicy)
		want  []idmap.Range
		error string
	}{
		{"no remap users", func(u *hardening.UserNamespacePolicy) {}, []idmap.Range{r(1000000, 262144)}, ""},
		{"pool user's IDs", func(u *hardening.UserNamespacePolicy) { u.RemapSubIDUsers = []string{"dockremap"} },
			[]idmap.Range{r(1000000, 65536), r(1131072, 131072)}, ""},
		{"explicit pool", func(u *hardening.UserNamespacePolicy) {
			u.Pool, u.RemapSubIDUsers = &idmap.Range{Start: 1000000, Size: 131072}, []string{"dockremap", "nobody-listed"}
		}, []idmap.Range{r(1000000, 65536)}, ""},
		{"built-in pool", func(u *hardening.UserNamespacePolicy) {
			u.SubIDUser, u.RemapSubIDUsers = "unlisted", []string{"builtinremap"}
		}, []idmap.Range{r(0x70000000, 65536), r(1879179264, 0x7FFE0000-1879179264)}, ""},
		{"pool wholly remapped", func(u *hardening.UserNamespacePolicy) {
			u.Pool, u.RemapSubIDUsers = &idmap.Range{Start: 1065536, Size: 65536}, []string{"dockremap"}
		}, nil, "remapSubidUsers"},
	}
	for _, tc := range tests {
		u := hardening.DefaultUserNamespacePolicy()
		tc.pol(&u)
		got, _, err := idPoolFrom(u, subuid, subgid)
		if tc.error != "" {
			if err == nil || !strings.Contains(err.Error(), tc.error) {
				t.Errorf("%s: %v %v, want an error naming %s", tc.name, got, err, tc.error)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v %v, want %v", tc.name, got, err, tc.want)
		}
	}
}
