package hardening

import (
	"encoding/json"
	"reflect"
	"runtime"
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// allowingRules returns the rules of p that let name run: any action that
// does not block. For clone, a rule that only allows it without namespace
// flags does not count.
func allowingRules(p *specs.LinuxSeccomp, name string) []specs.LinuxSyscall {
	var out []specs.LinuxSyscall
	for _, r := range p.Syscalls {
		if !slices.Contains(r.Names, name) {
			continue
		}
		switch r.Action {
		case specs.ActErrno, specs.ActKill, specs.ActKillProcess, specs.ActKillThread, specs.ActTrap:
			continue
		}
		if name == "clone" && len(r.Args) == 1 && r.Args[0].Op == specs.OpMaskedEqual && r.Args[0].Value == namespaceFlags && r.Args[0].ValueTwo == 0 {
			continue
		}
		out = append(out, r)
	}
	return out
}

// checkDenied fails when any syscall of deny is allowed by p.
func checkDenied(t testing.TB, p *specs.LinuxSeccomp, deny []string) {
	t.Helper()
	if !SeccompBlocks(p) {
		t.Fatalf("profile does not block: %+v", p)
	}
	for _, n := range deny {
		if r := allowingRules(p, n); len(r) > 0 {
			t.Errorf("%s allowed by %+v", n, r)
		}
	}
}

func TestEnforceSeccomp(t *testing.T) {
	t.Parallel()
	eperm := uint(1)
	tests := []struct {
		name        string
		caps        []string
		allow       []string
		in          *specs.LinuxSeccomp
		wantProfile string // "docker-default" or "caller"
		check       func(t *testing.T, p *specs.LinuxSeccomp)
	}{
		{name: "absent is replaced", in: nil, wantProfile: "docker-default"},
		{name: "empty section is replaced", in: &specs.LinuxSeccomp{}, wantProfile: "docker-default"},
		{
			name:        "allow by default with deny rules is replaced, the denials kept",
			in:          &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"mount"}, Action: specs.ActErrno}}},
			wantProfile: "docker-default with the caller's denials",
		},
		{name: "log by default is replaced", in: &specs.LinuxSeccomp{DefaultAction: specs.ActLog}, wantProfile: "docker-default"},
		{
			name: "caller profile is kept but cannot allow denied syscalls",
			in: &specs.LinuxSeccomp{DefaultAction: specs.ActKillProcess, Syscalls: []specs.LinuxSyscall{
				{Names: []string{"read", "io_uring_setup", "write"}, Action: specs.ActAllow},
				{Names: []string{"setns"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 1, Value: 0x40000000, Op: specs.OpEqualTo}}},
				{Names: []string{"bpf"}, Action: specs.ActNotify},
				{Names: []string{"clone"}, Action: specs.ActAllow},
				{Names: []string{"mkdir"}, Action: specs.ActErrno, ErrnoRet: &eperm},
			}},
			wantProfile: "caller",
			check: func(t *testing.T, p *specs.LinuxSeccomp) {
				if p.DefaultAction != specs.ActKillProcess {
					t.Errorf("default action %s, want the caller's", p.DefaultAction)
				}
				if !slices.Equal(p.Syscalls[0].Names, []string{"read", "write"}) {
					t.Errorf("first rule %v, want read, write", p.Syscalls[0].Names)
				}
				if !slices.Equal(p.Syscalls[1].Names, []string{"mkdir"}) {
					t.Errorf("second rule %v, want the caller's mkdir rule", p.Syscalls[1].Names)
				}
			},
		},
		{
			// Docker's profile allows unshare, setns, bpf and clone with
			// namespace flags to CAP_SYS_ADMIN; the deny-list still wins.
			name:        "SYS_ADMIN allowed by policy does not reopen denied syscalls",
			caps:        []string{"CAP_SYS_ADMIN"},
			allow:       []string{"CAP_SYS_ADMIN"},
			in:          nil,
			wantProfile: "docker-default",
			check: func(t *testing.T, p *specs.LinuxSeccomp) {
				if len(allowingRules(p, "mount")) == 0 {
					t.Error("mount not allowed: profile not evaluated against CAP_SYS_ADMIN")
				}
			},
		},
		{
			name:        "without SYS_ADMIN mount stays denied by the default profile",
			caps:        []string{"CAP_CHOWN"},
			in:          nil,
			wantProfile: "docker-default",
			check: func(t *testing.T, p *specs.LinuxSeccomp) {
				if len(allowingRules(p, "mount")) != 0 {
					t.Error("mount allowed without CAP_SYS_ADMIN")
				}
				var clone3 []specs.LinuxSyscall
				for _, r := range p.Syscalls {
					if slices.Contains(r.Names, "clone3") {
						clone3 = append(clone3, r)
					}
				}
				if len(clone3) != 1 || clone3[0].Action != specs.ActErrno || *clone3[0].ErrnoRet != 38 {
					t.Errorf("clone3 rules %+v, want one ERRNO(ENOSYS)", clone3)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pol := DefaultPolicy()
			pol.AllowCapabilities = tc.allow
			s := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: tc.caps}}, Linux: &specs.Linux{Seccomp: tc.in}}
			rep := &Report{}
			if err := EnforceSeccomp(s, pol, HostFacts{}, rep); err != nil {
				t.Fatal(err)
			}
			checkDenied(t, s.Linux.Seccomp, pol.DenySyscalls)
			if len(rep.Changes) != 1 || rep.Changes[0].Path != "linux.seccomp" {
				t.Fatalf("changes %v", changedPaths(rep))
			}
			if got := string(rep.Changes[0].After); !contains(got, `"profile":"`+tc.wantProfile+`"`) {
				t.Errorf("after = %s, want profile %s", got, tc.wantProfile)
			}
			if tc.check != nil {
				tc.check(t, s.Linux.Seccomp)
			}
			// Idempotent: a second pass changes nothing.
			rep2 := &Report{}
			if err := EnforceSeccomp(s, pol, HostFacts{}, rep2); err != nil || len(rep2.Changes) != 0 {
				t.Errorf("second pass: err %v changes %v", err, changedPaths(rep2))
			}
		})
	}
}

func TestSeccompDenyListRelaxed(t *testing.T) {
	t.Parallel()
	pol := DefaultPolicy()
	pol.DenySyscalls = nil
	s := dockerSpec(t)
	if err := EnforceSeccomp(s, pol, HostFacts{}, &Report{}); err != nil {
		t.Fatal(err)
	}
	if len(allowingRules(s.Linux.Seccomp, "io_uring_setup")) == 0 {
		t.Error("with an empty deny-list the caller's io_uring rule should stay")
	}
}

func contains(s, sub string) bool {
	return len(sub) == 0 || (len(s) >= len(sub) && indexOf(s, sub) >= 0)
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

func TestSeccompNativeABIOnly(t *testing.T) {
	t.Parallel()
	native := NativeSeccompArch()
	if native == "" {
		t.Skip("no native seccomp architecture known for this GOARCH")
	}
	callerArches := []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}
	tests := []struct {
		name       string
		allow32bit bool
		in         *specs.LinuxSeccomp
		want       []specs.Arch
	}{
		{name: "docker profile cut to native", in: nil, want: []specs.Arch{native}},
		{name: "caller profile cut to native", in: &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Architectures: callerArches}, want: []specs.Arch{native}},
		{name: "caller profile without list gets native", in: &specs.LinuxSeccomp{DefaultAction: specs.ActErrno}, want: []specs.Arch{native}},
		{name: "allow32bit keeps the caller's list", allow32bit: true, in: &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Architectures: callerArches}, want: callerArches},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pol := DefaultPolicy()
			pol.Allow32Bit = tc.allow32bit
			s := &specs.Spec{Process: &specs.Process{}, Linux: &specs.Linux{Seccomp: tc.in}}
			if err := EnforceSeccomp(s, pol, HostFacts{}, &Report{}); err != nil {
				t.Fatal(err)
			}
			if got := s.Linux.Seccomp.Architectures; !slices.Equal(got, tc.want) {
				t.Errorf("architectures %v, want %v", got, tc.want)
			}
		})
	}
	// With the key, Docker's profile keeps every ABI it lists for this
	// architecture (x86_64, x86, x32 on amd64).
	pol := DefaultPolicy()
	pol.Allow32Bit = true
	s := &specs.Spec{Process: &specs.Process{}}
	if err := EnforceSeccomp(s, pol, HostFacts{}, &Report{}); err != nil {
		t.Fatal(err)
	}
	if got := s.Linux.Seccomp.Architectures; len(got) < 1 || got[0] != native || (runtime.GOARCH == "amd64" && len(got) != 3) {
		t.Errorf("allow32bit, docker profile: architectures %v, want %s first and, on amd64, x86 and x32", got, native)
	}
}

// sameSeccomp decides whether EnforceSeccomp records a change; it must say
// what comparing the JSON written to config.json would say.
func TestSameSeccompAgreesWithJSON(t *testing.T) {
	zero, one := uint(0), uint(1)
	base := func() *specs.LinuxSeccomp {
		return &specs.LinuxSeccomp{
			DefaultAction:   specs.ActErrno,
			DefaultErrnoRet: &one,
			Architectures:   []specs.Arch{specs.ArchX86_64},
			Syscalls: []specs.LinuxSyscall{
				{Names: []string{"read", "write"}, Action: specs.ActAllow},
				{Names: []string{"socket"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 1, Op: specs.OpEqualTo}}},
				{Names: []string{"kexec_load"}, Action: specs.ActErrno, ErrnoRet: &one},
			},
		}
	}
	tests := []struct {
		name   string
		change func(*specs.LinuxSeccomp)
	}{
		{"same", func(*specs.LinuxSeccomp) {}},
		{"default action", func(s *specs.LinuxSeccomp) { s.DefaultAction = specs.ActKillProcess }},
		{"default errno nil", func(s *specs.LinuxSeccomp) { s.DefaultErrnoRet = nil }},
		{"default errno 0", func(s *specs.LinuxSeccomp) { s.DefaultErrnoRet = &zero }},
		{"default errno equal, other pointer", func(s *specs.LinuxSeccomp) { v := uint(1); s.DefaultErrnoRet = &v }},
		{"architectures empty", func(s *specs.LinuxSeccomp) { s.Architectures = []specs.Arch{} }},
		{"architectures nil", func(s *specs.LinuxSeccomp) { s.Architectures = nil }},
		{"architectures added", func(s *specs.LinuxSeccomp) { s.Architectures = append(s.Architectures, specs.ArchX86) }},
		{"flags empty", func(s *specs.LinuxSeccomp) { s.Flags = []specs.LinuxSeccompFlag{} }},
		{"flag", func(s *specs.LinuxSeccomp) { s.Flags = []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog} }},
		{"listener path", func(s *specs.LinuxSeccomp) { s.ListenerPath = "/run/agent.sock" }},
		{"listener metadata", func(s *specs.LinuxSeccomp) { s.ListenerMetadata = "x" }},
		{"syscalls nil", func(s *specs.LinuxSeccomp) { s.Syscalls = nil }},
		{"syscalls empty", func(s *specs.LinuxSeccomp) { s.Syscalls = []specs.LinuxSyscall{} }},
		{"rule dropped", func(s *specs.LinuxSeccomp) { s.Syscalls = s.Syscalls[:2] }},
		{"names nil", func(s *specs.LinuxSeccomp) { s.Syscalls[0].Names = nil }},
		{"names reordered", func(s *specs.LinuxSeccomp) { s.Syscalls[0].Names = []string{"write", "read"} }},
		{"rule action", func(s *specs.LinuxSeccomp) { s.Syscalls[0].Action = specs.ActLog }},
		{"rule errno nil", func(s *specs.LinuxSeccomp) { s.Syscalls[2].ErrnoRet = nil }},
		{"rule errno 0 where nil", func(s *specs.LinuxSeccomp) { s.Syscalls[0].ErrnoRet = &zero }},
		{"args empty", func(s *specs.LinuxSeccomp) { s.Syscalls[0].Args = []specs.LinuxSeccompArg{} }},
		{"arg value", func(s *specs.LinuxSeccomp) { s.Syscalls[1].Args[0].Value = 2 }},
		{"arg valueTwo", func(s *specs.LinuxSeccomp) { s.Syscalls[1].Args[0].ValueTwo = 2 }},
		{"arg op", func(s *specs.LinuxSeccomp) { s.Syscalls[1].Args[0].Op = specs.OpNotEqual }},
		{"arg index", func(s *specs.LinuxSeccomp) { s.Syscalls[1].Args[0].Index = 1 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := base(), base()
			tc.change(b)
			checkSameSeccomp(t, a, b)
			checkSameSeccomp(t, b, a)
		})
	}
	checkSameSeccomp(t, nil, nil)
	checkSameSeccomp(t, nil, base())
	checkSameSeccomp(t, base(), nil)
}

// A field added to the runtime-spec's seccomp types must be compared too.
func TestSameSeccompComparesEveryField(t *testing.T) {
	for typ, want := range map[reflect.Type][]string{
		reflect.TypeFor[specs.LinuxSeccomp](): {"DefaultAction", "DefaultErrnoRet", "Architectures", "Flags", "ListenerPath", "ListenerMetadata", "Syscalls"},
		reflect.TypeFor[specs.LinuxSyscall](): {"Names", "Action", "ErrnoRet", "Args"},
	} {
		var got []string
		for i := range typ.NumField() {
			got = append(got, typ.Field(i).Name)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%v has fields %v; sameSeccomp compares %v", typ, got, want)
		}
	}
}

// Any two profiles that decode from JSON: sameSeccomp agrees with their
// JSON encodings.
func FuzzSameSeccomp(f *testing.F) {
	f.Add([]byte(`{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,"architectures":["SCMP_ARCH_X86_64"]}`), []byte(`{"defaultAction":"SCMP_ACT_ERRNO","architectures":[]}`))
	f.Add([]byte(`{"syscalls":[{"names":["a","b"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"SCMP_CMP_EQ"}]}]}`), []byte(`{"syscalls":[{"names":["a","b"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"valueTwo":0,"op":"SCMP_CMP_EQ"}]}]}`))
	f.Add([]byte(`{"syscalls":[{"names":["a"],"action":"SCMP_ACT_ERRNO","errnoRet":0}]}`), []byte(`{"syscalls":[{"names":["a"],"action":"SCMP_ACT_ERRNO"}]}`))
	f.Fuzz(func(t *testing.T, x, y []byte) {
		var a, b specs.LinuxSeccomp
		if json.Unmarshal(x, &a) != nil || json.Unmarshal(y, &b) != nil {
			return
		}
		checkSameSeccomp(t, &a, &b)
	})
}

func checkSameSeccomp(t *testing.T, a, b *specs.LinuxSeccomp) {
	t.Helper()
	ja, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := sameSeccomp(a, b), string(ja) == string(jb); got != want {
		t.Errorf("sameSeccomp = %v, JSON equal = %v:\n%s\n%s", got, want, ja, jb)
	}
}
