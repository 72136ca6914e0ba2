package execspec

import (
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestParseUser(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		uid     uint32
		gid     uint32
		hasGID  bool
		wantErr string
	}{
		{in: "1000:1000", uid: 1000, gid: 1000, hasGID: true},
		{in: "0", uid: 0},
		{in: "1000", uid: 1000},
		{in: "65534:0", uid: 65534, gid: 0, hasGID: true},
		{in: "4294967295:4294967295", uid: 4294967295, gid: 4294967295, hasGID: true},
		{in: "nobody", wantErr: `--user "nobody": uid: "nobody" is not a numeric ID`},
		{in: "1000:wheel", wantErr: `--user "1000:wheel": gid: "wheel" is not a numeric ID`},
		{in: ":1000", wantErr: `uid: "" is not a numeric ID`},
		{in: "1000:", wantErr: `gid: "" is not a numeric ID`},
		{in: "-1", wantErr: `uid: "-1" is not a numeric ID`},
		{in: "4294967296", wantErr: `uid: "4294967296" is not a numeric ID`},
		{in: "1:2:3", wantErr: `gid: "2:3" is not a numeric ID`},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			uid, gid, hasGID, err := parseUser(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("parseUser(%q) error = %v, want one containing %q", tc.in, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseUser(%q): %v", tc.in, err)
			}
			if uid != tc.uid || gid != tc.gid || hasGID != tc.hasGID {
				t.Errorf("parseUser(%q) = %d, %d, %v; want %d, %d, %v", tc.in, uid, gid, hasGID, tc.uid, tc.gid, tc.hasGID)
			}
		})
	}
}

// bundleProcessFixture is the process of a config.json made by `runc spec`,
// terminal on as `runc spec` writes it.
func bundleProcessFixture() *specs.Process {
	caps := []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	return &specs.Process{
		Terminal: true,
		User:     specs.User{UID: 0, GID: 0},
		Args:     []string{"sh"},
		Env:      []string{"PATH=/bin", "TERM=xterm"},
		Cwd:      "/",
		Capabilities: &specs.LinuxCapabilities{
			Bounding:  append([]string(nil), caps...),
			Effective: append([]string(nil), caps...),
			Permitted: append([]string(nil), caps...),
		},
		NoNewPrivileges: true,
	}
}

func TestOverridesApply(t *testing.T) {
	t.Parallel()
	no := false
	tests := []struct {
		name  string
		o     Overrides
		tweak func(p *specs.Process) // applied to the fixture first
		want  func(p *specs.Process) // the expected result, from the fixture
	}{
		{
			name: "command only: args replaced, terminal off",
			o:    Overrides{Args: []string{"id", "-u"}},
			want: func(p *specs.Process) { p.Args = []string{"id", "-u"}; p.Terminal = false },
		},
		{
			name: "tty, cwd, env appended",
			o:    Overrides{Args: []string{"sh"}, TTY: true, Cwd: "/tmp", Env: []string{"FOO=bar"}},
			want: func(p *specs.Process) {
				p.Cwd = "/tmp"
				p.Env = []string{"PATH=/bin", "TERM=xterm", "FOO=bar"}
			},
		},
		{
			name: "user with gid and additional gids",
			o:    Overrides{Args: []string{"sh"}, User: "1000:100", AdditionalGids: []int64{7, 8}},
			want: func(p *specs.Process) {
				p.Terminal = false
				p.User = specs.User{UID: 1000, GID: 100, AdditionalGids: []uint32{7, 8}}
			},
		},
		{
			name:  "user without gid keeps the bundle's gid",
			o:     Overrides{Args: []string{"sh"}, User: "1000"},
			tweak: func(p *specs.Process) { p.User.GID = 50 },
			want:  func(p *specs.Process) { p.Terminal = false; p.User = specs.User{UID: 1000, GID: 50} },
		},
		{
			name: "caps added to bounding, effective, permitted; not ambient without inheritable",
			o:    Overrides{Args: []string{"sh"}, Caps: []string{"net_admin", "CAP_KILL"}},
			want: func(p *specs.Process) {
				p.Terminal = false
				c := p.Capabilities
				c.Bounding = append(c.Bounding, "CAP_NET_ADMIN")
				c.Effective = append(c.Effective, "CAP_NET_ADMIN")
				c.Permitted = append(c.Permitted, "CAP_NET_ADMIN")
			},
		},
		{
			name:  "caps reach ambient when inheritable is set",
			o:     Overrides{Args: []string{"sh"}, Caps: []string{"CAP_CHOWN"}},
			tweak: func(p *specs.Process) { p.Capabilities = &specs.LinuxCapabilities{Inheritable: []string{"CAP_KILL"}} },
			want: func(p *specs.Process) {
				p.Terminal = false
				p.Capabilities = &specs.LinuxCapabilities{
					Bounding:    []string{"CAP_CHOWN"},
					Effective:   []string{"CAP_CHOWN"},
					Permitted:   []string{"CAP_CHOWN"},
					Inheritable: []string{"CAP_KILL"},
					Ambient:     []string{"CAP_CHOWN"},
				}
			},
		},
		{
			name:  "caps on a process without a capabilities section",
			o:     Overrides{Args: []string{"sh"}, Caps: []string{"CAP_CHOWN"}},
			tweak: func(p *specs.Process) { p.Capabilities = nil },
			want: func(p *specs.Process) {
				p.Terminal = false
				p.Capabilities = &specs.LinuxCapabilities{
					Bounding:  []string{"CAP_CHOWN"},
					Effective: []string{"CAP_CHOWN"},
					Permitted: []string{"CAP_CHOWN"},
				}
			},
		},
		{
			name: "--no-new-privs=false clears it (the policy clamp may set it again)",
			o:    Overrides{Args: []string{"sh"}, NoNewPrivs: &no},
			want: func(p *specs.Process) { p.Terminal = false; p.NoNewPrivileges = false },
		},
		{
			name: "apparmor and label",
			o:    Overrides{Args: []string{"sh"}, Apparmor: "docker-default", Label: "system_u:system_r:container_t:s0"},
			want: func(p *specs.Process) {
				p.Terminal = false
				p.ApparmorProfile = "docker-default"
				p.SelinuxLabel = "system_u:system_r:container_t:s0"
			},
		},
		{
			name:  "console size and command line dropped",
			o:     Overrides{Args: []string{"sh"}},
			tweak: func(p *specs.Process) { p.ConsoleSize = &specs.Box{Height: 24, Width: 80}; p.CommandLine = "cmd /c" },
			want:  func(p *specs.Process) { p.Terminal = false },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := bundleProcessFixture()
			want := bundleProcessFixture()
			if tc.tweak != nil {
				tc.tweak(got)
				tc.tweak(want)
				want.ConsoleSize, want.CommandLine = nil, ""
			}
			want.Args = tc.o.Args
			tc.want(want)
			if err := tc.o.Apply(got); err != nil {
				t.Fatalf("apply: %v", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("apply:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestOverridesApplyErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		o       Overrides
		wantErr string
	}{
		{"named user", Overrides{User: "root"}, `--user "root": uid`},
		{"negative gid", Overrides{AdditionalGids: []int64{-1}}, "--additional-gids: -1 is not a valid group ID"},
		{"gid too large", Overrides{AdditionalGids: []int64{1 << 32}}, "--additional-gids: 4294967296 is not a valid group ID"},
		{"bad cap", Overrides{Caps: []string{"NET ADMIN"}}, `--cap: "NET ADMIN" is not a capability name`},
		{"empty cap", Overrides{Caps: []string{""}}, `--cap: "" is not a capability name`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.o.Apply(bundleProcessFixture())
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("apply error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestDecode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		raw     string
		wantErr string
		want    *specs.Process
	}{
		{
			name: "containerd-shaped process",
			raw:  `{"user":{"uid":1000,"gid":1000},"args":["sh","-c","id"],"env":["PATH=/bin"],"cwd":"/","noNewPrivileges":true}`,
			want: &specs.Process{
				User: specs.User{UID: 1000, GID: 1000}, Args: []string{"sh", "-c", "id"},
				Env: []string{"PATH=/bin"}, Cwd: "/", NoNewPrivileges: true,
			},
		},
		{
			name: "unknown field tolerated",
			raw:  `{"args":["id"],"cwd":"/","futureField":{"x":1}}`,
			want: &specs.Process{Args: []string{"id"}, Cwd: "/"},
		},
		{name: "trailing data", raw: `{"args":["id"],"cwd":"/"} {}`, wantErr: "trailing data"},
		{name: "malformed", raw: `{"args":`, wantErr: "malformed JSON"},
		{name: "no args", raw: `{"cwd":"/"}`, wantErr: "process.args must not be empty"},
		{name: "relative cwd", raw: `{"args":["id"],"cwd":"tmp"}`, wantErr: `process.cwd "tmp" must be an absolute path`},
		{name: "no cwd", raw: `{"args":["id"]}`, wantErr: "process.cwd must be set"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Decode([]byte(tc.raw))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Decode error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Decode:\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestCapabilityName(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"CAP_NET_ADMIN":  "CAP_NET_ADMIN",
		"net_admin":      "CAP_NET_ADMIN",
		"cap_sys_ptrace": "CAP_SYS_PTRACE",
		" KILL ":         "CAP_KILL",
	}
	for in, want := range tests {
		if got, err := capabilityName(in); err != nil || got != want {
			t.Errorf("capabilityName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "CAP_", "net-admin", "CAP_NET ADMIN"} {
		if got, err := capabilityName(bad); err == nil {
			t.Errorf("capabilityName(%q) = %q, want an error", bad, got)
		}
	}
}
