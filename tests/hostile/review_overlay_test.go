package hostile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// reviewOverlayMount adds an overlay mount at /mnt with options opts.
func reviewOverlayMount(opts ...string) func(*testing.T, *testutil.Bundle, *specs.Spec) {
	return func(_ *testing.T, _ *testutil.Bundle, s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Type: "overlay", Source: "overlay", Options: opts})
	}
}

// TestReviewOverlayHostPaths: an overlay mount takes its host directories
// from its options (lowerdir, upperdir, workdir), not from its source,
// and the host-mounts rule only read the sources of bind mounts. A
// config.json with lowerdir=/etc:/root read the host's /etc (passwd,
// hostname, the engines' and the policy's configuration) and whatever
// the mapped user may read under /root, where a bind of either is
// refused. Now each directory of an overlay's options is checked like a
// bind source (lower and data layers as read-only, upper and work as
// read-write), resolved through symlinks; a relative one, or options
// with escapes, are refused.
func TestReviewOverlayHostPaths(t *testing.T) {
	expectAllRefused(t, []attack{
		{name: "lowerdir=/etc:/root", tweak: reviewOverlayMount("lowerdir=/etc:/root"),
			want: []string{"overlay mount at /mnt: lowerdir /etc exposes /etc/shadow", `(rule host-mounts, allow with "allowHostMounts": ["/etc"]`}},
		{name: "lowerdir /root as a second layer", tweak: reviewOverlayMount("ro", "lowerdir=/tmp:/root"),
			want: []string{"overlay mount at /mnt: lowerdir /root", `"allowHostMounts": ["/root"]`}},
		{name: "upperdir in the engine's state", tweak: reviewOverlayMount("lowerdir=/tmp", "upperdir=/var/lib/docker/u", "workdir=/var/lib/docker/w"),
			want: []string{"overlay mount at /mnt: upperdir /var/lib/docker/u", "rule host-mounts"}},
		{name: "lowerdir smuggled after a comma in one option", tweak: reviewOverlayMount("lowerdir=/tmp,lowerdir=/etc"),
			want: []string{"overlay mount at /mnt: lowerdir /etc", "rule host-mounts"}},
		{name: "lowerdir+ (the append syntax)", tweak: reviewOverlayMount("lowerdir+=/root"),
			want: []string{"overlay mount at /mnt: lowerdir+ /root", "rule host-mounts"}},
		{name: "relative lowerdir", tweak: reviewOverlayMount("lowerdir=../../../../../../etc"),
			want: []string{"overlay mount at /mnt: lowerdir ../../../../../../etc is not an absolute path (rule host-mounts, no policy key allows it)"}},
		{name: "escaped separator", tweak: reviewOverlayMount(`lowerdir=/tmp\:/etc`),
			want: []string{`overlay mount at /mnt: option "lowerdir=/tmp\\:/etc" holds an escape`, "rule host-mounts"}},
		{name: "lowerdir through a symlink in the rootfs to /etc", tweak: func(t *testing.T, b *testutil.Bundle, s *specs.Spec) {
			link := filepath.Join(b.Rootfs, "hostetc")
			if err := os.Symlink("/etc", link); err != nil {
				t.Fatal(err)
			}
			reviewOverlayMount("lowerdir="+link)(t, b, s)
		}, want: []string{"overlay mount at /mnt: lowerdir", "(resolves to /etc) exposes /etc/shadow", "rule host-mounts"}},
	})

	// An overlay of the container's own files still runs.
	t.Run("lowerdir in the rootfs", func(t *testing.T) {
		rt := testutil.NewRuntime(t)
		b := testutil.NewBundle(t)
		b.Edit(t, func(s *specs.Spec) {
			// Two layers: an overlay without an upper layer needs them.
			reviewOverlayMount("lowerdir="+filepath.Join(b.Rootfs, "etc")+":"+filepath.Join(b.Rootfs, "bin"))(t, b, s)
		})
		if out, exit := runInside(t, rt, b, "ls /mnt"); exit != 0 || !strings.Contains(out, "busybox") {
			t.Errorf("overlay of the rootfs's /etc: exit %d, ls /mnt:\n%s", exit, out)
		}
	})
}
