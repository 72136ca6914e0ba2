package hardening

import (
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestWritablePaths(t *testing.T) {
	t.Parallel()
	bindOf := func(rootfs, p string) specs.Mount {
		return specs.Mount{Destination: p, Type: "bind", Source: rootfs + p, Options: WritableMountOptions()}
	}
	const rootfs = "/bundles/example/rootfs"
	tests := []struct {
		name      string
		pol       func(*Policy)
		facts     HostFacts
		tweak     func(*specs.Spec)
		wantDests []string // destinations of all mounts after the rule, in order
	}{
		{
			name:  "all state dirs but the /var/run symlink, after the example's mounts",
			facts: allDirs(rootfs),
			wantDests: []string{"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup",
				"/tmp", "/var/tmp", "/run", "/var/cache", "/var/log", "/var/lib", "/home"},
		},
		{
			name:      "relative root.path resolved against the bundle",
			facts:     HostFacts{Bundle: "/bundles/example", ExistingDirs: map[string]bool{"/tmp": true}},
			tweak:     func(s *specs.Spec) { s.Root.Path = "rootfs" },
			wantDests: []string{"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup", "/tmp"},
		},
		{
			name:  "caller's tmpfs on /tmp and volume on /var are kept, no bind under them",
			facts: allDirs(rootfs),
			tweak: func(s *specs.Spec) {
				s.Mounts = append(s.Mounts,
					specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs"},
					specs.Mount{Destination: "/var/", Type: "bind", Source: "/srv/var", Options: []string{"rbind"}})
			},
			wantDests: []string{"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup", "/tmp", "/var/", "/run", "/home"},
		},
		{
			name:  "binds go before a volume below one of them",
			facts: allDirs(rootfs),
			pol:   func(p *Policy) { p.WritablePaths = []string{"/var/lib", "/tmp"} },
			tweak: func(s *specs.Spec) {
				s.Mounts = append(s.Mounts[:1], specs.Mount{Destination: "/var/lib/postgresql/data", Type: "bind", Source: "/srv/pg", Options: []string{"rbind"}})
			},
			wantDests: []string{"/proc", "/var/lib", "/tmp", "/var/lib/postgresql/data"},
		},
		{name: "writable rootfs needs nothing", facts: allDirs(rootfs), tweak: func(s *specs.Spec) { s.Root.Readonly = false },
			wantDests: []string{"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup"}},
		{name: "no facts, nothing added", tweak: func(s *specs.Spec) { s.Root.Path = "rootfs" },
			wantDests: []string{"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := exampleSpec()
			s.Root.Readonly = true
			if tc.tweak != nil {
				tc.tweak(s)
			}
			pol := DefaultPolicy()
			if tc.pol != nil {
				tc.pol(pol)
			}
			rep := &Report{}
			WritablePaths(s, pol, tc.facts, rep)
			var dests []string
			for _, m := range s.Mounts {
				dests = append(dests, m.Destination)
			}
			if !reflect.DeepEqual(dests, tc.wantDests) {
				t.Errorf("destinations\n%q\nwant\n%q", dests, tc.wantDests)
			}
			for _, m := range s.Mounts {
				if m.Type == "bind" && m.Source == rootfs+m.Destination && !reflect.DeepEqual(m, bindOf(rootfs, m.Destination)) {
					t.Errorf("mount %+v", m)
				}
			}
			// Second pass adds nothing.
			n := len(s.Mounts)
			rep2 := &Report{}
			WritablePaths(s, pol, tc.facts, rep2)
			if len(s.Mounts) != n || len(rep2.Changes) != 0 {
				t.Errorf("second pass changed %v", changedPaths(rep2))
			}
		})
	}
}

func TestReadonlyRootfs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		root        *specs.Root
		keyOn, want bool
		changes     int
	}{
		{"writable becomes read-only", &specs.Root{Path: "rootfs"}, true, true, 1},
		{"read-only stays", &specs.Root{Path: "rootfs", Readonly: true}, true, true, 0},
		{"missing root is created read-only", nil, true, true, 1},
		{"readonlyRootfs false keeps writable", &specs.Root{Path: "rootfs"}, false, false, 0},
	} {
		s := &specs.Spec{Root: tc.root}
		pol := DefaultPolicy()
		pol.ReadonlyRootfs = tc.keyOn
		rep := &Report{}
		ReadonlyRootfs(s, pol, HostFacts{}, rep)
		got := s.Root != nil && s.Root.Readonly
		if got != tc.want || len(rep.Changes) != tc.changes {
			t.Errorf("%s: readonly %v changes %v", tc.name, got, changedPaths(rep))
		}
	}
}

func TestMaskAndReadonlyPaths(t *testing.T) {
	t.Parallel()
	// Privileged clears both lists; the example has runc's lists.
	for _, clear := range []bool{true, false} {
		s := exampleSpec()
		if clear {
			s.Linux.MaskedPaths, s.Linux.ReadonlyPaths = nil, nil
		}
		s.Linux.MaskedPaths = append(s.Linux.MaskedPaths, "/proc/custom")
		rep := &Report{}
		MaskPaths(s, nil, HostFacts{}, rep)
		ReadonlyPaths(s, nil, HostFacts{}, rep)
		for _, p := range DefaultMaskedPaths() {
			if !contains(join(s.Linux.MaskedPaths), p+"|") {
				t.Errorf("clear=%v: %s not masked", clear, p)
			}
		}
		for _, p := range DefaultReadonlyPaths() {
			if !contains(join(s.Linux.ReadonlyPaths), p+"|") {
				t.Errorf("clear=%v: %s not read-only", clear, p)
			}
		}
		if !contains(join(s.Linux.MaskedPaths), "/proc/custom|") {
			t.Error("caller's masked path dropped")
		}
		wantChanges := 1 // runc's example lacks /proc/interrupts and powercap
		if clear {
			wantChanges = 2
		}
		if len(rep.Changes) != wantChanges {
			t.Errorf("clear=%v: changes %v", clear, changedPaths(rep))
		}
	}
}

func join(ss []string) string {
	out := ""
	for _, s := range ss {
		out += s + "|"
	}
	return out
}

func TestLimitPids(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		in       *specs.LinuxResources
		polLimit int64
		want     *int64
	}{
		{"none set", nil, 4096, i64(4096)},
		{"caller limit above lowered", &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(10000)}}, 4096, i64(4096)},
		{"caller limit below kept", &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(100)}}, 4096, i64(100)},
		{"caller limit equal kept", &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(4096)}}, 4096, i64(4096)},
		{"unlimited -1 replaced", &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(-1)}}, 4096, i64(4096)},
		{"unlimited 0 replaced", &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(0)}}, 4096, i64(4096)},
		{"empty pids section", &specs.LinuxResources{Pids: &specs.LinuxPids{}}, 4096, i64(4096)},
		{"pidsLimit 0 keeps a caller's huge limit", &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(1 << 40)}}, 0, i64(1 << 40)},
		{"pidsLimit 0 disables", nil, 0, nil},
	} {
		s := &specs.Spec{Linux: &specs.Linux{Resources: tc.in}}
		pol := DefaultPolicy()
		pol.PidsLimit = tc.polLimit
		LimitPids(s, pol, HostFacts{}, &Report{})
		var got *int64
		if s.Linux.Resources != nil && s.Linux.Resources.Pids != nil {
			got = s.Linux.Resources.Pids.Limit
		}
		if (got == nil) != (tc.want == nil) || (got != nil && *got != *tc.want) {
			t.Errorf("%s: limit %v", tc.name, got)
		}
	}
	// Other resources are kept.
	s := dockerSpec(t)
	LimitPids(s, DefaultPolicy(), HostFacts{}, &Report{})
	if len(s.Linux.Resources.Devices) != 13 {
		t.Error("device rules lost")
	}
}
