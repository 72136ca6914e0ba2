package userns

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestChownCheckedActsOnTheCheckedFile: the chown of Docker's files lands
// on the file at the checked path only: not through a directory swapped
// for a symlink since, not on a hard link to another file.
func TestChownCheckedActsOnTheCheckedFile(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown")
	}
	base := t.TempDir()
	victim := filepath.Join(base, "etc")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Mkdir(victim, 0o755))
	must(os.WriteFile(filepath.Join(victim, "hosts"), nil, 0o644))
	real := filepath.Join(base, "containers", "c1")
	must(os.MkdirAll(real, 0o755))
	must(os.WriteFile(filepath.Join(real, "hosts"), nil, 0o644))
	must(os.Link(filepath.Join(victim, "hosts"), filepath.Join(real, "hostname")))
	swapped := filepath.Join(base, "containers", "c2")
	must(os.Symlink(victim, swapped))
	const owner = 123456
	for _, tc := range []struct {
		name, path, wantErr string
	}{
		{"checked file", filepath.Join(real, "hosts"), ""},
		{"directory swapped for a symlink", filepath.Join(swapped, "hosts"), "not to itself"},
		{"hard link to another file", filepath.Join(real, "hostname"), "one link"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := chownChecked(tc.path, owner)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				var st unix.Stat_t
				must(unix.Stat(tc.path, &st))
				if st.Uid != owner || st.Gid != owner {
					t.Errorf("owner %d:%d, want %d", st.Uid, st.Gid, owner)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %v, want one holding %q", err, tc.wantErr)
			}
		})
	}
	var st unix.Stat_t
	must(unix.Stat(filepath.Join(victim, "hosts"), &st))
	if st.Uid != 0 || st.Gid != 0 {
		t.Errorf("the victim file was chowned to %d:%d", st.Uid, st.Gid)
	}
}
