package resources

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/opencontainers/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// checkResources compares what FromFlags or Decode returned with a case's
// want, or its error with the wanted substring wantErr.
func checkResources(t *testing.T, got *specs.LinuxResources, err error, want *specs.LinuxResources, wantErr string) {
	t.Helper()
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("error = %v, want one containing %q", err, wantErr)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %s\nwant %s", mustJSON(t, got), mustJSON(t, want))
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDecode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		want     *specs.LinuxResources
		err      string
	}{
		{
			name: "what containerd sends",
			in:   `{"memory":{"limit":67108864,"swap":134217728},"cpu":{"shares":256,"cpus":"0"},"pids":{"limit":20},"devices":[{"allow":false,"access":"rwm"}]}`,
			want: &specs.LinuxResources{
				Memory:  &specs.LinuxMemory{Limit: new(int64(64 << 20)), Swap: new(int64(128 << 20))},
				CPU:     &specs.LinuxCPU{Shares: new(uint64(256)), Cpus: "0"},
				Pids:    &specs.LinuxPids{Limit: new(int64(20))},
				Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
			},
		},
		{name: "empty object", in: `{}`, want: &specs.LinuxResources{}},
		{name: "nothing", in: ``, err: "no resources JSON given"},
		{name: "not JSON", in: `{memory`, err: "decoding resources JSON"},
		{name: "two documents", in: `{} {}`, err: "data after the JSON object"},
		{name: "wrong type", in: `{"memory":{"limit":"64m"}}`, err: "decoding resources JSON"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Decode(strings.NewReader(tc.in))
			checkResources(t, got, err, tc.want, tc.err)
		})
	}
}

func TestMerge(t *testing.T) {
	t.Parallel()
	base := func() *cgroups.Resources {
		return &cgroups.Resources{
			Memory: 256 << 20, MemorySwap: 512 << 20, MemoryReservation: 128 << 20,
			CpuShares: 1024, CpuWeight: 39, CpuQuota: 50000, CpuPeriod: 100000,
			CpusetCpus: "0-3", PidsLimit: new(int64(100)), BlkioWeight: 500,
			BlkioWeightDevice:          []*cgroups.WeightDevice{cgroups.NewWeightDevice(8, 0, 100, 0)},
			BlkioThrottleReadBpsDevice: []*cgroups.ThrottleDevice{cgroups.NewThrottleDevice(8, 0, 1000)},
			MemoryCheckBeforeUpdate:    true,
		}
	}
	tests := []struct {
		name     string
		update   *specs.LinuxResources
		want     func(*cgroups.Resources)
		warnings int
	}{
		{
			name:   "empty update keeps everything but the per-update check",
			update: &specs.LinuxResources{},
			want:   func(r *cgroups.Resources) { r.MemoryCheckBeforeUpdate = false },
		},
		{
			name:   "memory limit only",
			update: &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: new(int64(64 << 20))}},
			want:   func(r *cgroups.Resources) { r.Memory = 64 << 20; r.MemoryCheckBeforeUpdate = false },
		},
		{
			// What dockerd sends for `docker update --pids-limit 70
			// --cpus 1`: zero memory sizes, which must not drop the kept
			// memory limit under the kept swap limit.
			name: "zero memory sizes keep the limits (docker update without --memory)",
			update: &specs.LinuxResources{
				Memory: &specs.LinuxMemory{Limit: new(int64(0)), Reservation: new(int64(0))},
				CPU:    &specs.LinuxCPU{Quota: new(int64(100000)), Period: new(uint64(100000))},
				Pids:   &specs.LinuxPids{Limit: new(int64(70))},
			},
			want: func(r *cgroups.Resources) {
				r.CpuQuota, r.CpuPeriod = 100000, 100000
				r.PidsLimit = new(int64(70))
				r.MemoryCheckBeforeUpdate = false
			},
		},
		{
			name:   "unlimited memory without swap leaves swap to the kernel",
			update: &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: new(int64(-1))}},
			want:   func(r *cgroups.Resources) { r.Memory = -1; r.MemorySwap = 0; r.MemoryCheckBeforeUpdate = false },
		},
		{
			name:   "check before update as asked",
			update: &specs.LinuxResources{Memory: &specs.LinuxMemory{CheckBeforeUpdate: new(true)}},
			want:   func(*cgroups.Resources) {},
		},
		{
			name: "kernel memory is ignored with a warning",
			//lint:ignore SA1019 the obsolete field is what this case sends
			update:   &specs.LinuxResources{Memory: &specs.LinuxMemory{Kernel: new(int64(1 << 20))}},
			want:     func(r *cgroups.Resources) { r.MemoryCheckBeforeUpdate = false },
			warnings: 1,
		},
		{
			name:   "shares also set the cgroup v2 weight",
			update: &specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: new(uint64(2))}},
			want:   func(r *cgroups.Resources) { r.CpuShares = 2; r.CpuWeight = 1; r.MemoryCheckBeforeUpdate = false },
		},
		{
			name:   "idle without shares clears the weight",
			update: &specs.LinuxResources{CPU: &specs.LinuxCPU{Idle: new(int64(1))}},
			want: func(r *cgroups.Resources) {
				r.CPUIdle = new(int64(1))
				r.CpuShares, r.CpuWeight = 0, 0
				r.MemoryCheckBeforeUpdate = false
			},
		},
		{
			name:   "quota alone keeps the period; empty cpuset keeps the cpuset",
			update: &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: new(int64(20000))}},
			want:   func(r *cgroups.Resources) { r.CpuQuota = 20000; r.MemoryCheckBeforeUpdate = false },
		},
		{
			name:   "pids limit",
			update: &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: new(int64(7))}},
			want:   func(r *cgroups.Resources) { r.PidsLimit = new(int64(7)); r.MemoryCheckBeforeUpdate = false },
		},
		{
			name: "block IO devices are updated in place or added",
			update: &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{
				WeightDevice: []specs.LinuxWeightDevice{
					{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Weight: new(uint16(200))},
					{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 16}, LeafWeight: new(uint16(50))},
				},
				ThrottleReadBpsDevice: []specs.LinuxThrottleDevice{
					{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 2000},
				},
				ThrottleWriteIOPSDevice: []specs.LinuxThrottleDevice{
					{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 30},
				},
			}},
			want: func(r *cgroups.Resources) {
				r.BlkioWeightDevice = []*cgroups.WeightDevice{cgroups.NewWeightDevice(8, 0, 200, 0), cgroups.NewWeightDevice(8, 16, 0, 50)}
				r.BlkioThrottleReadBpsDevice = []*cgroups.ThrottleDevice{cgroups.NewThrottleDevice(8, 0, 2000)}
				r.BlkioThrottleWriteIOPSDevice = []*cgroups.ThrottleDevice{cgroups.NewThrottleDevice(8, 0, 30)}
				r.MemoryCheckBeforeUpdate = false
			},
		},
		{
			name:   "unified keys are merged",
			update: &specs.LinuxResources{Unified: map[string]string{"memory.high": "1G"}},
			want: func(r *cgroups.Resources) {
				r.Unified = map[string]string{"memory.high": "1G"}
				r.MemoryCheckBeforeUpdate = false
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			orig := base()
			got := Clone(orig)
			warnings := Merge(got, tc.update)
			want := base()
			tc.want(want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %s\nwant %s", mustJSON(t, got), mustJSON(t, want))
			}
			if len(warnings) != tc.warnings {
				t.Errorf("warnings = %q, want %d", warnings, tc.warnings)
			}
			// The container's own copy, which libcontainer rolls back
			// to when Set fails, must be untouched.
			if !reflect.DeepEqual(orig, base()) {
				t.Errorf("merge changed the original: %s", mustJSON(t, orig))
			}
		})
	}
}

// TestPutThrottlesDuplicates: a device listed twice in the config has both
// entries updated; the cgroup keeps the last one written (runc's
// update.bats "per-device iops/bps values").
func TestPutThrottlesDuplicates(t *testing.T) {
	devs := []*cgroups.ThrottleDevice{
		cgroups.NewThrottleDevice(253, 0, 485760),
		cgroups.NewThrottleDevice(253, 0, 485760),
	}
	throttle := func(major, minor int64, rate uint64) specs.LinuxThrottleDevice {
		d := specs.LinuxThrottleDevice{Rate: rate}
		d.Major, d.Minor = major, minor
		return d
	}
	got := putThrottles(devs, []specs.LinuxThrottleDevice{throttle(253, 0, 10485760), throttle(8, 0, 5)})
	if len(got) != 3 || got[0].Rate != 10485760 || got[1].Rate != 10485760 || got[2].Major != 8 || got[2].Rate != 5 {
		t.Errorf("putThrottles = %v, want both 253:0 entries at 10485760 and 8:0 added", got)
	}
	weights := []*cgroups.WeightDevice{cgroups.NewWeightDevice(8, 0, 100, 0), cgroups.NewWeightDevice(8, 0, 100, 0)}
	w := uint16(500)
	wd := specs.LinuxWeightDevice{Weight: &w}
	wd.Major, wd.Minor = 8, 0
	weights = putWeightDevice(weights, wd)
	if len(weights) != 2 || weights[0].Weight != 500 || weights[1].Weight != 500 {
		t.Errorf("putWeightDevice = %v, want both 8:0 entries at 500", weights)
	}
}
