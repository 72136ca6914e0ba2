package idmap

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestRangeOverlapsWithin(t *testing.T) {
	t.Parallel()
	a := Range{Start: 100000, Size: 65536}
	tests := []struct {
		name            string
		b               Range
		overlap, inside bool
	}{
		{"same", a, true, true},
		{"adjacent after", Range{Start: 165536, Size: 65536}, false, false},
		{"adjacent before", Range{Start: 34464, Size: 65536}, false, false},
		{"last ID shared", Range{Start: 165535, Size: 10}, true, false},
		{"inside", Range{Start: 100001, Size: 2}, true, true},
		{"empty", Range{Start: 100001}, false, true},
	}
	for _, tt := range tests {
		if got := a.Overlaps(tt.b); got != tt.overlap {
			t.Errorf("%s: %s overlaps %s = %v, want %v", tt.name, a, tt.b, got, tt.overlap)
		}
		if got := tt.b.Overlaps(a); got != tt.overlap {
			t.Errorf("%s: not symmetric", tt.name)
		}
		if got := tt.b.Within(a); got != tt.inside {
			t.Errorf("%s: %s within %s = %v, want %v", tt.name, tt.b, a, got, tt.inside)
		}
	}
}

func TestRangeValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		r    Range
		want bool
	}{
		{Range{Start: 1, Size: 65536}, true},
		{Range{Start: 0, Size: 65536}, false},
		{Range{Start: 5, Size: 0}, false},
		{Range{Start: MaxID, Size: 1}, true},
		{Range{Start: MaxID, Size: 2}, false},
		{Range{Start: 0xFFFF0000, Size: 0xFFFF}, true},
		{Range{Start: 0xFFFF0000, Size: 0x10000}, false},
	}
	for _, tt := range tests {
		if err := tt.r.Validate(); (err == nil) != tt.want {
			t.Errorf("Validate(%+v) = %v, want ok=%v", tt.r, err, tt.want)
		}
	}
}

func TestBuiltinPoolAvoidsUsualRanges(t *testing.T) {
	t.Parallel()
	for _, p := range BuiltinPool() {
		if err := p.Validate(); err != nil {
			t.Fatal(err)
		}
		for _, other := range []Range{
			{Start: 1, Size: 99999 + 1000*65536},             // root..., useradd's subuid ranges
			{Start: 0x80000, Size: 0x6FFFFFFF - 0x80000 + 1}, // systemd-nspawn
			{Start: 0x7FFE0000, Size: 0x10000},               // systemd foreign range
			{Start: 1 << 31, Size: 1<<31 - 1},
		} {
			if p.Overlaps(other) {
				t.Errorf("builtin pool %s overlaps %s", p, other)
			}
		}
		if p.Size%DefaultRangeSize != 0 || p.Size/DefaultRangeSize < 4000 {
			t.Errorf("builtin pool %s: %d ranges", p, p.Size/DefaultRangeSize)
		}
	}
}

func TestSubIDRangesAndResolvePool(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	subuid := filepath.Join(dir, "subuid")
	subgid := filepath.Join(dir, "subgid")
	os.WriteFile(subuid, []byte("# comment\nalice:100000:65536\nhardened:300000:655360\nhardened:0:70000\n"), 0o644)
	os.WriteFile(subgid, []byte("alice:100000:65536\nhardened:400000:655360\nhardened:0:70000\n"), 0o644)
	badgid := filepath.Join(dir, "badgid")
	os.WriteFile(badgid, []byte("hardened:5000000:65536\n"), 0o644)

	tests := []struct {
		name     string
		explicit []Range
		gid      string
		user     string
		want     []Range
		source   PoolSource
		err      bool
	}{
		{name: "policy pool wins", explicit: []Range{{Start: 1 << 24, Size: 1 << 20}}, gid: subgid, user: "hardened",
			want: []Range{{Start: 1 << 24, Size: 1 << 20}}, source: SourcePolicy},
		{name: "policy pool with root refused", explicit: []Range{{Start: 0, Size: 1 << 20}}, gid: subgid, user: "hardened", err: true},
		{name: "subid: common IDs, root cut out", gid: subgid, user: "hardened",
			want: []Range{{Start: 1, Size: 69999}, {Start: 400000, Size: 555360}}, source: SourceSubID},
		{name: "unknown user: builtin", gid: subgid, user: "nobody", want: BuiltinPool(), source: SourceBuiltin},
		{name: "no user: builtin", gid: subgid, user: "", want: BuiltinPool(), source: SourceBuiltin},
		{name: "missing files: builtin", gid: filepath.Join(dir, "none"), user: "bob", want: BuiltinPool(), source: SourceBuiltin},
		{name: "uids and gids disjoint", gid: badgid, user: "alice", err: false, want: nil},
	}
	for _, tt := range tests {
		uid := subuid
		if tt.name == "missing files: builtin" {
			uid = filepath.Join(dir, "none")
		}
		got, src, err := ResolvePool(tt.explicit, uid, tt.gid, tt.user)
		if tt.name == "uids and gids disjoint" {
			// alice has uids but no gids in badgid: no common IDs.
			if err == nil {
				t.Errorf("%s: no error, pool %v", tt.name, got)
			}
			continue
		}
		if (err != nil) != tt.err {
			t.Errorf("%s: err = %v, want error %v", tt.name, err, tt.err)
			continue
		}
		if err != nil {
			continue
		}
		if !reflect.DeepEqual(got, tt.want) || src != tt.source {
			t.Errorf("%s: pool %v from %s, want %v from %s", tt.name, got, src, tt.want, tt.source)
		}
	}
}

func TestReadIDMap(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "uid_map")
	os.WriteFile(p, []byte("         0     100000      65536\n     65536          0          1\n"), 0o644)
	got, err := ReadIDMap(p)
	if err != nil {
		t.Fatal(err)
	}
	want := []Mapping{{0, Range{100000, 65536}}, {65536, Range{0, 1}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if !MapsHostRoot(got) || MapsHostRoot(got[:1]) {
		t.Errorf("MapsHostRoot wrong")
	}
}
