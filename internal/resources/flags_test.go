package resources

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// updateFlags answers IsSet and String from a map of the flags given.
type updateFlags map[string]string

func (f updateFlags) IsSet(name string) bool    { _, ok := f[name]; return ok }
func (f updateFlags) String(name string) string { return f[name] }
func emptyResources() *specs.LinuxResources     { return withResources(func(*specs.LinuxResources) {}) }
func withResources(tweak func(*specs.LinuxResources)) *specs.LinuxResources {
	r := &specs.LinuxResources{Memory: &specs.LinuxMemory{}, CPU: &specs.LinuxCPU{}, BlockIO: &specs.LinuxBlockIO{}}
	tweak(r)
	return r
}

func TestFromFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		flags updateFlags
		want  *specs.LinuxResources
		err   string
	}{
		{name: "nothing given changes nothing", flags: updateFlags{}, want: emptyResources()},
		{
			name:  "memory with units",
			flags: updateFlags{"memory": "64m", "memory-reservation": "1g", "memory-swap": "128M"},
			want: withResources(func(r *specs.LinuxResources) {
				r.Memory.Limit = new(int64(64 << 20))
				r.Memory.Reservation = new(int64(1 << 30))
				r.Memory.Swap = new(int64(128 << 20))
			}),
		},
		{
			name:  "plain bytes and -1 for no limit",
			flags: updateFlags{"memory": "1048576", "memory-swap": "-1"},
			want: withResources(func(r *specs.LinuxResources) {
				r.Memory.Limit = new(int64(1 << 20))
				r.Memory.Swap = new(int64(-1))
			}),
		},
		{
			name:  "cpu values",
			flags: updateFlags{"cpu-share": "512", "cpu-period": "100000", "cpu-quota": "-1", "cpu-burst": "10", "cpu-rt-period": "1000", "cpu-rt-runtime": "900", "cpu-idle": "1", "cpuset-cpus": "0-1", "cpuset-mems": "0"},
			want: withResources(func(r *specs.LinuxResources) {
				r.CPU = &specs.LinuxCPU{
					Shares: new(uint64(512)), Period: new(uint64(100000)), Quota: new(int64(-1)), Burst: new(uint64(10)),
					RealtimePeriod: new(uint64(1000)), RealtimeRuntime: new(int64(900)), Idle: new(int64(1)), Cpus: "0-1", Mems: "0",
				}
			}),
		},
		{
			name:  "pids and blkio",
			flags: updateFlags{"pids-limit": "100", "blkio-weight": "300"},
			want: withResources(func(r *specs.LinuxResources) {
				r.Pids = &specs.LinuxPids{Limit: new(int64(100))}
				r.BlockIO.Weight = new(uint16(300))
			}),
		},
		{
			name:  "zero pids limit is kept as given",
			flags: updateFlags{"pids-limit": "0"},
			want:  withResources(func(r *specs.LinuxResources) { r.Pids = &specs.LinuxPids{Limit: new(int64(0))} }),
		},
		{
			name:  "kernel memory is parsed so it can be warned about",
			flags: updateFlags{"kernel-memory": "10m"},
			//lint:ignore SA1019 the obsolete flag still fills the obsolete field
			want: withResources(func(r *specs.LinuxResources) { r.Memory.Kernel = new(int64(10 << 20)) }),
		},
		{name: "bad size", flags: updateFlags{"memory": "12zz"}, err: "--memory: invalid suffix"},
		{name: "negative size other than -1", flags: updateFlags{"memory": "-5"}, err: "--memory:"},
		{name: "negative shares", flags: updateFlags{"cpu-share": "-1"}, err: `--cpu-share: "-1" is not a non-negative integer`},
		{name: "quota not a number", flags: updateFlags{"cpu-quota": "lots"}, err: `--cpu-quota: "lots" is not an integer`},
		{name: "pids not a number", flags: updateFlags{"pids-limit": "many"}, err: `--pids-limit: "many" is not an integer`},
		{name: "blkio weight too large for the field", flags: updateFlags{"blkio-weight": "70000"}, err: "--blkio-weight"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := FromFlags(tc.flags)
			checkResources(t, got, err, tc.want, tc.err)
		})
	}
}
