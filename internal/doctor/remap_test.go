package doctor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hardened-runtime/hardened/hardening"
	"github.com/hardened-runtime/hardened/idmap"
)

// TestDoctorRemapRanges: with dockremap named in "remapSubidUsers", its
// range overlapping the pool is the engine's range (kept out of the
// pool), not a conflict; an overlap with another user's IDs is one; a
// remap user without entries is a warning.
func TestDoctorRemapRanges(t *testing.T) {
	t.Parallel()
	pol := hardening.DefaultPolicy()
	pol.UserNamespace.RemapSubIDUsers = []string{"dockremap"}
	tests := []struct {
		name   string
		subids string
		status []string
		detail string // substring of the details
	}{
		{"engine range inside the built-in pool", "dockremap:1879048192:65536\n",
			[]string{OK, Info}, "one range shared by the engine's containers"},
		{"engine range inside hardened's entries", "hardened:300000:131072\ndockremap:300000:65536\n",
			[]string{OK, Info}, "365536-431071 (subid): 1 ranges"},
		{"engine range overlaps podman's", "dockremap:1879048192:65536\ncontainers:1879048192:65536\n",
			[]string{OK, Info, Fail}, "overlap containers's"},
		{"remap user without entries", "kubelet:100000:65536\n",
			[]string{OK, Warn}, "no IDs in both"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := checkPool(fakeDoctorHost(t, map[string]string{"etc/subuid": tt.subids, "etc/subgid": tt.subids}), pol)
			var statuses, details []string
			for _, c := range got {
				statuses = append(statuses, c.Status)
				details = append(details, c.Detail)
				if c.Status == Fail && c.Fix == "" {
					t.Errorf("failed check %+v has no fix", c)
				}
			}
			if strings.Join(statuses, " ") != strings.Join(tt.status, " ") {
				t.Errorf("statuses %v, want %v: %q", statuses, tt.status, details)
			}
			if !strings.Contains(strings.Join(details, "|"), tt.detail) {
				t.Errorf("details %q lack %q", details, tt.detail)
			}
		})
	}
}

// TestDoctorPoolInUse: the pool's count of ranges in use leaves out the
// registry's reservations (a caller's mapping, an engine's shared remap
// range), which take nothing from the pool, and names them apart.
func TestDoctorPoolInUse(t *testing.T) {
	t.Parallel()
	pol := hardening.DefaultPolicy()
	pol.UserNamespace.RemapSubIDUsers = []string{"dockremap"}
	subids := "hardened:300000:131072\ndockremap:500000:65536\n"
	h := fakeDoctorHost(t, map[string]string{"etc/subuid": subids, "etc/subgid": subids})
	pool := []idmap.Range{{Start: 300000, Size: 131072}}
	registry := idmap.NewHostAllocator(pool, pol.UserNamespace.RangeSize)
	registry.Dir = h.Registry
	// The entries' keys name directories that exist, so none is reclaimed.
	live := t.TempDir()
	if _, err := registry.Allocate(filepath.Join(live, "a"), nil); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"b", "c"} {
		if err := registry.Reserve(filepath.Join(live, k), []idmap.Range{{Start: 500000, Size: 65536}}, idmap.EngineRangeKey("dockremap")); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"a", "b", "c"} {
		if err := os.Mkdir(filepath.Join(live, k), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	got := checkPool(h, pol)[0].Detail
	if !strings.Contains(got, "1 in use, 1 free") || !strings.Contains(got, "2 containers on callers' or engines' own mappings") {
		t.Errorf("pool check %q, want 1 in use, 1 free and the 2 reservations named apart", got)
	}
}
