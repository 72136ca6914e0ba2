package hardening

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestRefuseHostMountsKernelFilesystems(t *testing.T) {
	mount := func(typ, dest string, opts ...string) func(*specs.Spec) {
		return func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: dest, Type: typ, Source: typ, Options: opts})
		}
	}
	runRefusalCases(t, RuleHostMounts, RefuseHostMounts, []refusalCase{
		{name: "the example's own proc at /proc"},
		{name: "proc at /proc/ again", tweak: mount("proc", "/proc/")},
		{name: "proc at /mnt", tweak: mount("proc", "/mnt"),
			want: []string{`proc filesystem at /mnt (only /proc gets the masked and read-only paths) / "allowHostMounts": ["/mnt"]`}},
		{name: "proc at a relative destination", tweak: mount("proc", "host/proc"), want: []string{`"allowHostMounts": ["/host/proc"]`}},
		{name: "proc at /mnt allowed", tweak: mount("proc", "/mnt"), pol: func(p *Policy) { p.AllowHostMounts = []string{"/mnt"} }},
		{name: "binfmt_misc", tweak: mount("binfmt_misc", "/proc/sys/fs/binfmt_misc"), want: []string{`binfmt_misc filesystem at /proc/sys/fs/binfmt_misc`}},
		{name: "resctrl", tweak: mount("resctrl", "/sys/fs/resctrl"), want: []string{`resctrl filesystem`}},
		{name: "cpuset read-write", tweak: mount("cpuset", "/dev/cpuset"), want: []string{`read-write cgroup filesystem at /dev/cpuset`}},
		{name: "cpuset read-only", tweak: mount("cpuset", "/dev/cpuset", "ro")},
	})
}
