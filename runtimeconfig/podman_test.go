package runtimeconfig

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func TestInstallPodman(t *testing.T) {
	t.Parallel()
	debian, err := os.ReadFile("testdata/containers.conf.debian12")
	if err != nil {
		t.Fatal(err)
	}
	rt := Runtime{Name: "hardened", Path: "/usr/bin/hardened"}
	for _, tc := range []struct {
		name    string
		in      string
		dflt    bool
		want    string // the whole output; "" to skip
		contain []string
		changed bool
		err     error
	}{
		{name: "empty file", in: "", changed: true,
			want: "[engine.runtimes]\n  hardened = [\"/usr/bin/hardened\"]\n"},
		{name: "empty file, default", in: "", dflt: true, changed: true,
			want: "[engine]\n  runtime = \"hardened\"\n\n[engine.runtimes]\n  hardened = [\"/usr/bin/hardened\"]\n"},
		{name: "Debian's containers.conf: comments kept, entry under the header", in: string(debian), changed: true,
			contain: []string{"#runc = [", "# Paths to look for a valid OCI runtime (crun, runc, kata, runsc, krun, etc)\n[engine.runtimes]\n  hardened = [\"/usr/bin/hardened\"]\n#crun = [\n"}},
		{name: "already there: unchanged", in: "# mine\n[engine.runtimes]\nhardened = [ \"/usr/bin/hardened\", ]\n", want: "# mine\n[engine.runtimes]\nhardened = [ \"/usr/bin/hardened\", ]\n"},
		{name: "another path replaced in place, comment kept", in: "[engine.runtimes]\nhardened = [\"/opt/old\"] # old\nrunc = [\"/usr/sbin/runc\"]\n", changed: true,
			want: "[engine.runtimes]\nhardened = [\"/usr/bin/hardened\"] # old\nrunc = [\"/usr/sbin/runc\"]\n"},
		{name: "default replaces another", in: "[engine]\nruntime = \"crun\"\n", dflt: true, changed: true,
			want: "[engine]\nruntime = \"hardened\"\n\n[engine.runtimes]\n  hardened = [\"/usr/bin/hardened\"]\n"},
		{name: "engine is not a table: malformed", in: "engine = \"x\"\n", err: ErrMalformed},
		{name: "dotted key: not edited", in: "engine.runtimes.crun = [\"/usr/bin/crun\"]\n", err: errors.ErrUnsupported},
		{name: "broken TOML", in: "[engine\n", err: ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := rt
			r.Default = tc.dflt
			ed, err := InstallPodman([]byte(tc.in), r)
			if tc.err != nil {
				if !errors.Is(err, tc.err) || !strings.HasPrefix(err.Error(), "containers.conf: ") {
					t.Fatalf("err %v, want %v naming containers.conf", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ed.Changed != tc.changed {
				t.Errorf("changed %v, want %v (notes %v)", ed.Changed, tc.changed, ed.Notes)
			}
			if tc.want != "" && string(ed.Data) != tc.want {
				t.Errorf("got\n%s\nwant\n%s", ed.Data, tc.want)
			}
			for _, c := range tc.contain {
				if !strings.Contains(string(ed.Data), c) {
					t.Errorf("output lacks %q", c)
				}
			}
			// Installing again changes nothing; uninstalling gives back
			// the input when the install only added.
			again, err := InstallPodman(ed.Data, r)
			if err != nil || again.Changed {
				t.Errorf("second install: changed %v, %v", again.Changed, err)
			}
			if tc.in == string(debian) {
				un, err := UninstallPodman(ed.Data, r.Name)
				if err != nil || string(un.Data) != tc.in {
					t.Errorf("uninstall after install does not give back Debian's file (%v)", err)
				}
			}
		})
	}
}

func TestUninstallPodman(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in, want string
		changed        bool
	}{
		{name: "entry and default removed", in: "[engine]\nruntime = \"hardened\"\ncgroup_manager = \"cgroupfs\"\n\n[engine.runtimes]\n# keep\nhardened = [\"/usr/bin/hardened\"]\nrunc = [\"/usr/sbin/runc\"]\n", changed: true,
			want: "[engine]\ncgroup_manager = \"cgroupfs\"\n\n[engine.runtimes]\n# keep\nrunc = [\"/usr/sbin/runc\"]\n"},
		{name: "another default kept", in: "[engine]\nruntime = \"crun\"\n[engine.runtimes]\nhardened = [\"/usr/bin/hardened\"]\n", changed: true,
			want: "[engine]\nruntime = \"crun\"\n"},
		{name: "nothing to remove", in: "[engine]\nruntime = \"crun\"\n", want: "[engine]\nruntime = \"crun\"\n"},
		{name: "empty", in: "", want: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ed, err := UninstallPodman([]byte(tc.in), "hardened")
			if err != nil {
				t.Fatal(err)
			}
			if ed.Changed != tc.changed || string(ed.Data) != tc.want {
				t.Errorf("changed %v, got\n%s\nwant (changed %v)\n%s", ed.Changed, ed.Data, tc.changed, tc.want)
			}
		})
	}
}
