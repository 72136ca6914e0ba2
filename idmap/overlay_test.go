package idmap

import (
	"os"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"
)

func TestParseOverlayOptions(t *testing.T) {
	for _, tc := range []struct {
		name, opts string
		want       Overlay
		err        bool
	}{
		{
			name: "docker",
			opts: `rw,lowerdir=/var/lib/docker/overlay2/l/A:/var/lib/docker/overlay2/l/B,upperdir=/d/u,workdir=/d/w,uuid=on`,
			want: Overlay{Lower: []string{"/var/lib/docker/overlay2/l/A", "/var/lib/docker/overlay2/l/B"}, Upper: "/d/u", Work: "/d/w", Options: []string{"uuid=on"}},
		},
		{
			name: "relative (docker's long option form)",
			opts: `rw,lowerdir=l/A:l/B,upperdir=x/diff,workdir=x/work`,
			want: Overlay{Lower: []string{"l/A", "l/B"}, Upper: "x/diff", Work: "x/work"},
		},
		{
			name: "fsconfig lowerdir+ and datadir+, escapes, kept options",
			opts: `rw,lowerdir+=/a,lowerdir+=/sp\040ace:x,datadir+=/d,upperdir=/u,workdir=/w,redirect_dir=on,metacopy=on,index=on`,
			want: Overlay{Lower: []string{"/a", "/sp ace:x"}, Data: []string{"/d"}, Upper: "/u", Work: "/w", Options: []string{"redirect_dir=on", "metacopy=on"}},
		},
		{
			name: "data-only layers after ::, escaped colon",
			opts: `ro,lowerdir=/a\:b:/c::/d`,
			want: Overlay{Lower: []string{"/a:b", "/c"}, Data: []string{"/d"}},
		},
		{
			name: "podman (containers/storage): short symlinked lowers, uuid, fsync=volatile",
			opts: `rw,lowerdir=/s/overlay/l/Z542B6QSKG:/s/overlay/l/SK2PQFXTAM,upperdir=/s/overlay/x/diff,workdir=/s/overlay/x/work,uuid=on,fsync=volatile`,
			want: Overlay{Lower: []string{"/s/overlay/l/Z542B6QSKG", "/s/overlay/l/SK2PQFXTAM"}, Upper: "/s/overlay/x/diff", Work: "/s/overlay/x/work", Options: []string{"uuid=on", "fsync=volatile"}},
		},
		{
			name: "rootless: userxattr, index and nfs_export dropped, an unknown option passed through",
			opts: `rw,lowerdir=/a,upperdir=/u,workdir=/w,userxattr,index=on,nfs_export=on,xino=off,casefold_future=on`,
			want: Overlay{Lower: []string{"/a"}, Upper: "/u", Work: "/w", Options: []string{"userxattr", "xino=off", "casefold_future=on"}, Unknown: []string{"casefold_future=on"}},
		},
		{name: "no lowerdir", opts: `rw,upperdir=/u,workdir=/w`, err: true},
		{name: "empty layer", opts: `rw,lowerdir=/a::`, err: true},
		{name: "upper without work", opts: `rw,lowerdir=/a,upperdir=/u`, err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseOverlayOptions(tc.opts)
			if tc.err {
				if err == nil {
					t.Fatalf("got %+v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestParseMountInfoTopMount(t *testing.T) {
	const mi = `26 1 0:24 / / rw - ext4 /dev/root rw
44 26 0:38 / /var/lib/docker/overlay2/x/merged rw,relatime - overlay overlay rw,lowerdir=/l1,upperdir=/u,workdir=/w
45 44 0:38 / /var/lib/docker/overlay2/x/merged rw,relatime - overlay overlay rw,lowerdir+=/run/s/lower0,upperdir=/u,workdir=/w
46 26 0:40 / /with\040space rw shared:3 - tmpfs tmpfs rw
`
	ms, err := ParseMountInfo([]byte(mi))
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 4 {
		t.Fatalf("%d entries, want 4: %+v", len(ms), ms)
	}
	top, ok := TopMount(ms, "/var/lib/docker/overlay2/x/merged")
	if !ok || top.SuperOptions != "rw,lowerdir+=/run/s/lower0,upperdir=/u,workdir=/w" {
		t.Errorf("top mount %+v, want the stacked one", top)
	}
	if sp, ok := TopMount(ms, "/with space"); !ok || sp.FSType != "tmpfs" {
		t.Errorf("escaped mount point: %+v %v", sp, ok)
	}
	if _, ok := TopMount(ms, "/nowhere"); ok {
		t.Error("found a mount at /nowhere")
	}
}

func TestOverlayResolve(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"l/A", "l/B", "x/diff", "x/work"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	o := Overlay{Lower: []string{"l/A", "l/B"}, Upper: "x/diff", Work: "x/work"}
	if err := o.Resolve("/nonexistent", dir); err != nil {
		t.Fatal(err)
	}
	want := Overlay{Lower: []string{dir + "/l/A", dir + "/l/B"}, Upper: dir + "/x/diff", Work: dir + "/x/work"}
	if !reflect.DeepEqual(o, want) {
		t.Errorf("got %+v, want %+v", o, want)
	}
	bad := Overlay{Lower: []string{"l/missing"}}
	if err := bad.Resolve(dir); err == nil {
		t.Error("a layer that exists under no base resolved")
	}
}

// TestOverlayFromIDMappedLowers is the kernel behaviour the runtime relies
// on (facts/kernel.md): an overlay of idmapped lower layers with a plain
// upperdir shows the image's files with the mapped owners and puts new
// files into the upperdir with the creator's host ID; ShiftOwners moves
// the layer between container IDs and the range.
func TestOverlayFromIDMappedLowers(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	mk := func(p string) string {
		p = filepath.Join(dir, p)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	l1, l2, up, work, c1, c2, merged := mk("l1"), mk("l2"), mk("up"), mk("work"), mk("c1"), mk("c2"), mk("merged")
	os.WriteFile(filepath.Join(l1, "top"), []byte("1"), 0o644)
	os.WriteFile(filepath.Join(l2, "user"), []byte("2"), 0o755)
	os.Chown(filepath.Join(l2, "user"), 1000, 1000)
	os.WriteFile(filepath.Join(up, "written"), nil, 0o755)
	syscall.Chmod(filepath.Join(up, "written"), 0o4755)

	rng := Range{Start: 1 << 21, Size: DefaultRangeSize}
	shift := func(id uint32) (uint32, bool) {
		if id < rng.Size {
			return rng.Start + id, true
		}
		return 0, false
	}
	if n, err := ShiftOwners(up, shift); err != nil || n != 2 {
		t.Fatalf("ShiftOwners: %d files, %v; want 2 (the upperdir and its file)", n, err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(up, "written"), &st); err != nil || st.Uid != rng.Start || st.Mode&0o7777 != 0o4755 {
		t.Fatalf("shifted file: uid %d mode %o, want %d and 4755 (set-user-ID kept)", st.Uid, st.Mode&0o7777, rng.Start)
	}
	ns, err := UsernsFile(Mapping{ContainerID: 0, Host: rng})
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	for src, dst := range map[string]string{l1: c1, l2: c2} {
		if err := CloneIDMapped(src, dst, ns); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { Unmount(dst) })
	}
	if err := MountOverlay(Overlay{Lower: []string{c1, c2}, Upper: up, Work: work}, merged); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { Unmount(merged) })
	for name, want := range map[string]uint32{"top": rng.Start, "user": rng.Start + 1000, "written": rng.Start} {
		if err := syscall.Stat(filepath.Join(merged, name), &st); err != nil || st.Uid != want {
			t.Errorf("%s through the overlay: uid %d (%v), want %d", name, st.Uid, err, want)
		}
	}
	ms, err := ReadMountInfo()
	if err != nil {
		t.Fatal(err)
	}
	top, ok := TopMount(ms, merged)
	if !ok {
		t.Fatal("rebuilt overlay not in mountinfo")
	}
	ov, err := ParseOverlayOptions(top.SuperOptions)
	if err != nil || !reflect.DeepEqual(ov.Lower, []string{c1, c2}) || ov.Upper != up {
		t.Errorf("mountinfo of the rebuilt overlay: %+v %v", ov, err)
	}
}
