package hardening

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestRewriteOverlayDirs(t *testing.T) {
	upper := func(key, dir string) (string, error) { return key + ":" + strings.ToUpper(dir), nil }
	for _, tc := range []struct {
		name string
		opts []string
		want []string
	}{
		{name: "Podman's :O shape", opts: []string{"lowerdir=/src,upperdir=/s/upper,workdir=/s/work", "private"},
			want: []string{"lowerdir=lowerdir:/SRC,upperdir=upperdir:/S/UPPER,workdir=workdir:/S/WORK", "private"}},
		{name: "every lower layer", opts: []string{"ro", "lowerdir=/a:/b"},
			want: []string{"ro", "lowerdir=lowerdir:/A:lowerdir:/B"}},
		{name: "append syntax", opts: []string{"lowerdir+=/a", "datadir+=/d", "userxattr"},
			want: []string{"lowerdir+=lowerdir+:/A", "datadir+=datadir+:/D", "userxattr"}},
		{name: "no directories", opts: []string{"ro", "index=off"}, want: []string{"ro", "index=off"}},
		{name: "bare key is no directory", opts: []string{"lowerdir"}, want: []string{"lowerdir"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := RewriteOverlayDirs(tc.opts, upper)
			if err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("RewriteOverlayDirs(%q) = %q, %v; want %q", tc.opts, got, err, tc.want)
			}
		})
	}
	boom := errors.New("boom")
	if _, err := RewriteOverlayDirs([]string{"lowerdir=/a"}, func(string, string) (string, error) { return "", boom }); !errors.Is(err, boom) {
		t.Errorf("error of with: got %v", err)
	}
	if !OverlayDirIsLayer("lowerdir") || !OverlayDirIsLayer("datadir+") || OverlayDirIsLayer("upperdir") || OverlayDirIsLayer("workdir") || OverlayDirIsLayer("index") {
		t.Error("OverlayDirIsLayer")
	}
}
