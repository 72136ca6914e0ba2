package doctor

import (
	"strings"
	"testing"

	"github.com/hardened-runtime/hardened/hardening"
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
