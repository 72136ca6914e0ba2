package spec

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestWithin(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		p, dir string
		want   bool
	}{
		{"/a/b", "/a/b", true},
		{"/a/b/c", "/a/b", true},
		{"/a/bc", "/a/b", false},
		{"/a", "/a/b", false},
		{"/anything", "/", true},
		{"/", "/", true},
		{"a/b", "a", true},
	} {
		if got := Within(tc.p, tc.dir); got != tc.want {
			t.Errorf("Within(%q, %q) = %v, want %v", tc.p, tc.dir, got, tc.want)
		}
	}
}

func TestIsBind(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		m    specs.Mount
		want bool
	}{
		{specs.Mount{Type: "bind"}, true},
		{specs.Mount{Type: "none", Options: []string{"rbind", "ro"}}, true},
		{specs.Mount{Options: []string{"bind"}}, true},
		{specs.Mount{Type: "tmpfs", Options: []string{"nosuid"}}, false},
		{specs.Mount{Type: "proc"}, false},
	} {
		if got := IsBind(tc.m); got != tc.want {
			t.Errorf("IsBind(%+v) = %v, want %v", tc.m, got, tc.want)
		}
	}
}

func TestBindReadOnly(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		opts []string
		want bool
	}{
		{nil, false},
		{[]string{"rbind", "ro"}, true},
		{[]string{"ro", "rw"}, false},
		{[]string{"rw", "ro"}, true},
		// The recursive attributes come last in runc and decide.
		{[]string{"rbind", "ro", "rrw"}, false},
		{[]string{"rrw", "ro"}, false},
		{[]string{"rro", "rw"}, true},
		{[]string{"rro", "rrw", "ro"}, false},
		{[]string{"rrw", "rro"}, true},
	} {
		if got := BindReadOnly(tc.opts); got != tc.want {
			t.Errorf("BindReadOnly(%q) = %v, want %v", tc.opts, got, tc.want)
		}
	}
}

func TestBindSource(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		source, bundle, want string
	}{
		{"/srv/data", "/b", "/srv/data"},
		{"/srv//data/../x/", "/b", "/srv/x"},
		{"data", "/b", "/b/data"},
		{"./rootfs/../data", "/b", "/b/data"},
		{"../escape", "/b", "/escape"},
		{"data", "/", "/data"},
	} {
		if got := BindSource(specs.Mount{Source: tc.source, Type: "bind"}, tc.bundle); got != tc.want {
			t.Errorf("BindSource(%q, bundle %q) = %q, want %q", tc.source, tc.bundle, got, tc.want)
		}
	}
}
