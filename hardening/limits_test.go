package hardening

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestLimitPidsUnified(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"max": "4096", "100000": "4096", "-1": "4096", "0": "4096", "junk": "4096", "100": "100", " 4096 ": " 4096 "} {
		s := exampleSpec()
		s.Linux.Resources = &specs.LinuxResources{Unified: map[string]string{"pids.max": in, "memory.high": "max"}}
		rep := &Report{}
		LimitPids(s, DefaultPolicy(), HostFacts{}, rep)
		if got := s.Linux.Resources.Unified["pids.max"]; got != want {
			t.Errorf("pids.max %q -> %q, want %q", in, got, want)
		}
		if s.Linux.Resources.Unified["memory.high"] != "max" {
			t.Error("other unified keys changed")
		}
		if changed := strings.Contains(join(changePaths(rep)), `unified["pids.max"]`); changed != (in != want) {
			t.Errorf("pids.max %q: report %v", in, rep.Changes)
		}
	}
}

func changePaths(r *Report) []string {
	var out []string
	for _, c := range r.Changes {
		out = append(out, c.Rule+":"+c.Path)
	}
	return out
}

func TestClampUpdate(t *testing.T) {
	t.Parallel()
	allowAll := specs.LinuxDeviceCgroup{Allow: true, Access: "rwm"}
	for _, tc := range []struct {
		name      string
		mode      string
		pidsLimit int64
		in        specs.LinuxResources
		wantPids  *int64 // nil: no pids section expected
		wantErr   string
	}{
		{name: "above the ceiling lowered", in: specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(100000)}}, wantPids: i64(4096)},
		{name: "unlimited -1 becomes the ceiling", in: specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(-1)}}, wantPids: i64(4096)},
		{name: "unlimited 0 becomes the ceiling", in: specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(0)}}, wantPids: i64(4096)},
		{name: "lower kept", in: specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(50)}}, wantPids: i64(50)},
		{name: "no pids given, none added", in: specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(1 << 30)}}},
		{name: "pidsLimit 0 disables", pidsLimit: -1, in: specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(100000)}}, wantPids: i64(100000)},
		{name: "audit changes nothing", mode: ModeAudit, in: specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(100000)}}, wantPids: i64(100000)},
		{name: "off changes nothing", mode: ModeOff, in: specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(-1)}}, wantPids: i64(-1)},
		{name: "device allow-all refused", in: specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{allowAll}, Pids: &specs.LinuxPids{Limit: i64(-1)}},
			wantPids: i64(-1), wantErr: `device cgroup allows a *:* rwm (rule host-devices, allow with "allowDevices": ["a *:*"])`},
		{name: "device allow-all in audit is reported only", mode: ModeAudit, in: specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{allowAll}}},
		{name: "standard device rules pass", in: specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: true, Type: "c", Major: i64(1), Minor: i64(3), Access: "rwm"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pol := DefaultPolicy()
			if tc.mode != "" {
				pol.Mode = tc.mode
			}
			if tc.pidsLimit < 0 {
				pol.PidsLimit = 0
			}
			res := tc.in
			rep, err := ClampUpdate(&res, pol)
			if tc.wantErr != "" {
				if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want a refusal holding %q", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if tc.mode == ModeAudit && strings.Contains(tc.name, "device") && !rep.Refused() {
				t.Error("audit did not report the refusal")
			}
			switch {
			case tc.wantPids == nil && res.Pids != nil:
				t.Errorf("pids section added: %+v", res.Pids)
			case tc.wantPids != nil && (res.Pids == nil || res.Pids.Limit == nil || *res.Pids.Limit != *tc.wantPids):
				t.Errorf("pids %+v, want %d", res.Pids, *tc.wantPids)
			}
		})
	}
}

func TestRefuseDeviceNodePaths(t *testing.T) {
	t.Parallel()
	hostNodes := HostFacts{DeviceNodes: map[string]DeviceNode{
		"/dev/null": {Type: "c", Major: 1, Minor: 3},
		"/dev/fuse": {Type: "c", Major: 10, Minor: 229},
		"/dev/sda":  {Type: "b", Major: 8, Minor: 0},
		"/dev/file": {},
	}}
	add := func(d specs.LinuxDevice) func(*specs.Spec) {
		return func(s *specs.Spec) { s.Linux.Devices = append(s.Linux.Devices, d) }
	}
	rule := RefuseDeviceNodePaths
	runRefusalCases(t, RuleDeviceNodes, rule, []refusalCase{
		{name: "no devices"},
		{name: "matching host node", facts: hostNodes, tweak: add(devNode("/dev/null", "c", 1, 3))},
		{name: "u is a character device", facts: hostNodes, tweak: add(devNode("/dev/fuse", "u", 10, 229))},
		{name: "ptmx is never bound from the host", tweak: add(devNode("/dev/ptmx", "c", 5, 2))},
		{name: "host file outside /dev", facts: hostNodes, tweak: add(devNode("/etc/passwd", "c", 1, 3)),
			want: []string{"linux.devices[0] /etc/passwd is not a clean path under /dev"}},
		{name: "dot-dot out of /dev", facts: hostNodes, tweak: add(devNode("/dev/../etc/shadow", "c", 1, 3)),
			want: []string{"/dev/../etc/shadow is not a clean path under /dev"}},
		{name: "relative path", tweak: add(devNode("dev/null", "c", 1, 3)), want: []string{"dev/null is not a clean path"}},
		{name: "/dev itself", tweak: add(devNode("/dev", "c", 1, 3)), want: []string{"/dev is not a clean path"}},
		{name: "no node on the host", facts: hostNodes, tweak: add(devNode("/dev/xvda", "b", 8, 0)),
			want: []string{"linux.devices[0] /dev/xvda (b 8:0): the host has no device node there"}},
		{name: "facts unknown refuses", tweak: add(devNode("/dev/null", "c", 1, 3)), want: []string{"the host has no device node there"}},
		{name: "host file in /dev", facts: hostNodes, tweak: add(devNode("/dev/file", "c", 1, 3)),
			want: []string{"/dev/file (c 1:3): the host's /dev/file is not a device node"}},
		{name: "type mismatch", facts: hostNodes, tweak: add(devNode("/dev/sda", "c", 8, 0)),
			want: []string{"/dev/sda (c 8:0): the host's /dev/sda is b 8:0"}},
		{name: "number mismatch", facts: hostNodes, tweak: add(devNode("/dev/null", "c", 1, 5)),
			want: []string{"/dev/null (c 1:5): the host's /dev/null is c 1:3"}},
		{name: "each bad entry named", facts: hostNodes, tweak: func(s *specs.Spec) {
			add(devNode("/dev/null", "c", 1, 3))(s)
			add(devNode("/tmp/x", "c", 1, 3))(s)
		}, want: []string{"linux.devices[1] /tmp/x"}},
	})
}

func TestRefuseDeviceNodePathsMessage(t *testing.T) {
	t.Parallel()
	s := exampleSpec()
	s.Linux.Devices = []specs.LinuxDevice{devNode("/etc/passwd", "c", 1, 3)}
	_, err := Harden(s, DefaultPolicy(), HostFacts{})
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "(rule device-nodes, no policy key allows it)") {
		t.Fatalf("error %v", err)
	}
}

func TestGatherDeviceNodes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// Only paths under /dev are looked at; a symlink on the way is
	// not followed (/dev/stdin -> /proc/self/fd/0 on most hosts).
	s := exampleSpec()
	s.Linux.Devices = []specs.LinuxDevice{
		devNode("/dev/null", "c", 1, 3),
		devNode("/dev/stdin", "c", 1, 3),
		devNode("/dev/fd/0", "c", 1, 3),
		devNode(filepath.Join(dir, "x"), "c", 1, 3),
		devNode("/dev/../dev/null", "c", 1, 3),
		devNode("/dev/does-not-exist-here", "c", 1, 3),
	}
	got := GatherDeviceNodes(s)
	if n, ok := got["/dev/null"]; !ok || n != (DeviceNode{Type: "c", Major: 1, Minor: 3}) {
		t.Errorf("/dev/null: %+v %v", n, ok)
	}
	for _, p := range []string{"/dev/fd/0", filepath.Join(dir, "x"), "/dev/../dev/null", "/dev/does-not-exist-here"} {
		if n, ok := got[p]; ok {
			t.Errorf("%s: %+v, want left out", p, n)
		}
	}
	if fi, err := os.Lstat("/dev/stdin"); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		if n, ok := got["/dev/stdin"]; ok {
			t.Errorf("/dev/stdin is a symlink but gave %+v", n)
		}
	}
	if GatherDeviceNodes(exampleSpec()) != nil {
		t.Error("no devices should give nil")
	}
}

func TestClampRlimits(t *testing.T) {
	t.Parallel()
	facts := HostFacts{ProcessLimits: ProcessLimits{RlimitHard: map[string]uint64{"RLIMIT_NOFILE": 1 << 20, "RLIMIT_NPROC": 1000}}}
	for _, tc := range []struct {
		name  string
		facts HostFacts
		in    []specs.POSIXRlimit
		want  []specs.POSIXRlimit
		paths []string
	}{
		{"within the ceiling kept", facts,
			[]specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
			[]specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}}, nil},
		{"hard above lowered, soft kept below", facts,
			[]specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1 << 30, Soft: 1024}},
			[]specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1 << 20, Soft: 1024}}, []string{"rlimits:process.rlimits[0].hard"}},
		{"both above lowered", facts,
			[]specs.POSIXRlimit{{Type: "RLIMIT_NPROC", Hard: 5000, Soft: 5000}},
			[]specs.POSIXRlimit{{Type: "RLIMIT_NPROC", Hard: 1000, Soft: 1000}}, []string{"rlimits:process.rlimits[0].hard", "rlimits:process.rlimits[0].soft"}},
		{"lower-case type", facts,
			[]specs.POSIXRlimit{{Type: "rlimit_nofile", Hard: 1 << 30, Soft: 1 << 30}},
			[]specs.POSIXRlimit{{Type: "rlimit_nofile", Hard: 1 << 20, Soft: 1 << 20}}, []string{"rlimits:process.rlimits[0].hard", "rlimits:process.rlimits[0].soft"}},
		{"unknown ceiling kept", facts,
			[]specs.POSIXRlimit{{Type: "RLIMIT_CORE", Hard: ^uint64(0), Soft: 0}},
			[]specs.POSIXRlimit{{Type: "RLIMIT_CORE", Hard: ^uint64(0), Soft: 0}}, nil},
		{"unknown facts change nothing", HostFacts{},
			[]specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1 << 30, Soft: 1 << 30}},
			[]specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1 << 30, Soft: 1 << 30}}, nil},
	} {
		p := &specs.Process{Rlimits: tc.in}
		rep := &Report{}
		ClampRlimits(p, nil, tc.facts, rep)
		if string(jsonValue(p.Rlimits)) != string(jsonValue(tc.want)) {
			t.Errorf("%s: %+v, want %+v", tc.name, p.Rlimits, tc.want)
		}
		if join(changePaths(rep)) != join(tc.paths) {
			t.Errorf("%s: changes %v, want %v", tc.name, changePaths(rep), tc.paths)
		}
	}
}

func TestClampOOMScoreAdj(t *testing.T) {
	t.Parallel()
	ip := func(v int) *int { return &v }
	for _, tc := range []struct {
		name   string
		min    int
		floor  *int
		in     *int
		want   *int
		change bool
	}{
		{"absent stays absent", 0, nil, nil, nil, false},
		{"-1000 raised to 0", 0, nil, ip(-1000), ip(0), true},
		{"-1 raised to 0", 0, nil, ip(-1), ip(0), true},
		{"0 kept", 0, nil, ip(0), ip(0), false},
		{"positive kept", 0, nil, ip(500), ip(500), false},
		{"policy allows -997", -1000, nil, ip(-997), ip(-997), false},
		{"policy allows, kernel floor holds", -1000, ip(-500), ip(-997), ip(-500), true},
		{"kernel floor above the policy's only matters below it", -1000, ip(0), ip(-1), ip(0), true},
	} {
		p := &specs.Process{OOMScoreAdj: tc.in}
		pol := DefaultPolicy()
		pol.MinOOMScoreAdj = tc.min
		rep := &Report{}
		ClampOOMScoreAdj(p, pol, HostFacts{ProcessLimits: ProcessLimits{OOMScoreAdjFloor: tc.floor}}, rep)
		if (p.OOMScoreAdj == nil) != (tc.want == nil) || (p.OOMScoreAdj != nil && *p.OOMScoreAdj != *tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, p.OOMScoreAdj, tc.want)
		}
		if (len(rep.Changes) == 1) != tc.change || (tc.change && rep.Changes[0].Path != "process.oomScoreAdj") {
			t.Errorf("%s: changes %+v", tc.name, rep.Changes)
		}
	}
}

func TestGatherProcessLimits(t *testing.T) {
	t.Parallel()
	pl := GatherProcessLimits()
	capable, err := hasSysResource()
	if err != nil {
		t.Skip(err)
	}
	if pl.OOMScoreAdjFloor == nil || *pl.OOMScoreAdjFloor > 0 {
		t.Errorf("floor %v, want a value <= 0", pl.OOMScoreAdjFloor)
	}
	if capable {
		if pl.RlimitHard != nil {
			t.Errorf("with CAP_SYS_RESOURCE: %v, want no ceilings", pl.RlimitHard)
		}
		return
	}
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	if pl.RlimitHard["RLIMIT_NOFILE"] != rl.Max || len(pl.RlimitHard) != len(rlimitResources()) {
		t.Errorf("ceilings %v, NOFILE hard %d", pl.RlimitHard, rl.Max)
	}
}

func TestPolicyLimitKeys(t *testing.T) {
	t.Parallel()
	p, err := ParsePolicy("p.json", []byte(`{"maxConfigSize": 65536, "minOomScoreAdj": -998}`))
	if err != nil || p.MaxConfigSize != 65536 || p.MinOOMScoreAdj != -998 {
		t.Fatalf("%+v %v", p, err)
	}
	if d := DefaultPolicy(); d.MaxConfigSize != 4<<20 || d.MinOOMScoreAdj != 0 {
		t.Errorf("defaults %d %d", d.MaxConfigSize, d.MinOOMScoreAdj)
	}
	for body, want := range map[string]string{
		`{"maxConfigSize": 0}`:          `key "maxConfigSize": 0 is not a size`,
		`{"maxConfigSize": -1}`:         `key "maxConfigSize"`,
		`{"maxConfigSize": 1073741824}`: `key "maxConfigSize"`,
		`{"minOomScoreAdj": -1001}`:     `key "minOomScoreAdj": -1001 is not from -1000 to 1000`,
		`{"minOomScoreAdj": 1001}`:      `key "minOomScoreAdj"`,
	} {
		if _, err := ParsePolicy("p.json", []byte(body)); !errors.Is(err, ErrInvalidPolicy) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", body, err, want)
		}
	}
}

// TestHasSysResourceAgreesWithCapabilityPackage: the one capget(2) of
// hasSysResource reads what the capability package's Load reads.
func TestHasSysResourceAgreesWithCapabilityPackage(t *testing.T) {
	t.Parallel()
	c, err := capability.NewPid2(0)
	if err == nil {
		err = c.Load()
	}
	if err != nil {
		t.Skip(err)
	}
	got, err := hasSysResource()
	if err != nil {
		t.Fatal(err)
	}
	if want := c.Get(capability.EFFECTIVE, capability.CAP_SYS_RESOURCE); got != want {
		t.Errorf("hasSysResource = %v, the capability package says %v", got, want)
	}
}
