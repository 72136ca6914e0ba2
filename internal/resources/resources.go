// Package resources reads and applies an update of a container's
// resource limits: a runtime-spec LinuxResources document, given as JSON
// (Decode, what containerd sends) or as runc update's flags (FromFlags),
// merged into libcontainer's cgroup resources (Merge), only the values
// given changing, as runc's update does.
package resources

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"strconv"

	"github.com/docker/go-units"
	"github.com/opencontainers/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// FlagReader is the part of *cli.Context that FromFlags reads.
type FlagReader interface {
	IsSet(name string) bool
	String(name string) string
}

// FromFlags turns runc update's individual flags (--memory, --cpu-quota,
// --pids-limit, ...) into a LinuxResources with only the given values set.
func FromFlags(f FlagReader) (*specs.LinuxResources, error) {
	res := &specs.LinuxResources{
		Memory:  &specs.LinuxMemory{},
		CPU:     &specs.LinuxCPU{},
		BlockIO: &specs.LinuxBlockIO{},
	}
	given := func(name string) (string, bool) {
		if !f.IsSet(name) {
			return "", false
		}
		return f.String(name), true
	}
	var pids *int64
	sizes := []flagField[int64]{
		{"memory", &res.Memory.Limit},
		{"memory-reservation", &res.Memory.Reservation},
		{"memory-swap", &res.Memory.Swap},
		//lint:ignore SA1019 read only to warn that it is ignored
		{"kernel-memory", &res.Memory.Kernel},
		{"kernel-memory-tcp", &res.Memory.KernelTCP},
	}
	counts := []flagField[uint64]{
		{"cpu-share", &res.CPU.Shares},
		{"cpu-period", &res.CPU.Period},
		{"cpu-burst", &res.CPU.Burst},
		{"cpu-rt-period", &res.CPU.RealtimePeriod},
	}
	signed := []flagField[int64]{
		{"cpu-quota", &res.CPU.Quota},
		{"cpu-rt-runtime", &res.CPU.RealtimeRuntime},
		{"cpu-idle", &res.CPU.Idle},
		{"pids-limit", &pids},
	}
	if err := setGiven(given, parseByteSize, sizes); err != nil {
		return nil, err
	}
	if err := setGiven(given, parseUint, counts); err != nil {
		return nil, err
	}
	if err := setGiven(given, parseInt, signed); err != nil {
		return nil, err
	}
	if pids != nil {
		res.Pids = &specs.LinuxPids{Limit: pids}
	}
	if v, ok := given("cpuset-cpus"); ok {
		res.CPU.Cpus = v
	}
	if v, ok := given("cpuset-mems"); ok {
		res.CPU.Mems = v
	}
	if v, ok := given("blkio-weight"); ok {
		n, err := strconv.ParseUint(v, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("--blkio-weight: %q is not a weight (10 to 1000)", v)
		}
		w := uint16(n)
		res.BlockIO.Weight = &w
	}
	return res, nil
}

// flagField is a flag and the field its value goes to.
type flagField[T any] struct {
	flag string
	dst  **T
}

// setGiven parses the value of each given flag into its field.
func setGiven[T any](given func(string) (string, bool), parse func(string) (T, error), fields []flagField[T]) error {
	for _, f := range fields {
		v, ok := given(f.flag)
		if !ok {
			continue
		}
		n, err := parse(v)
		if err != nil {
			return fmt.Errorf("--%s: %w", f.flag, err)
		}
		*f.dst = &n
	}
	return nil
}

func parseUint(s string) (uint64, error) {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a non-negative integer", s)
	}
	return n, nil
}

func parseInt(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not an integer", s)
	}
	return n, nil
}

// parseByteSize accepts a byte count, a size with a binary unit ("512m",
// "1g"), or -1 for "no limit".
func parseByteSize(s string) (int64, error) {
	if s == "-1" {
		return -1, nil
	}
	n, err := units.RAMInBytes(s)
	if err != nil {
		return 0, err
	}
	return n, nil
}

// Decode reads one LinuxResources JSON value. Sections update
// cannot apply (devices, hugepages, network, rdma) are accepted and left
// alone, as runc does: containerd may send a full resources section.
func Decode(r io.Reader) (*specs.LinuxResources, error) {
	var res specs.LinuxResources
	dec := json.NewDecoder(r)
	if err := dec.Decode(&res); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("no resources JSON given")
		}
		return nil, fmt.Errorf("decoding resources JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("decoding resources JSON: data after the JSON object")
	}
	return &res, nil
}

// Merge writes the values set in r into dst and leaves the others
// as they were. It returns warnings about values that were ignored.
func Merge(dst *cgroups.Resources, r *specs.LinuxResources) []string {
	var warnings []string
	// Whether the kernel checks usage against a new limit first is a
	// property of this one update, not a setting to keep.
	dst.MemoryCheckBeforeUpdate = false
	if m := r.Memory; m != nil {
		//lint:ignore SA1019 read only to warn that it is ignored
		if m.Kernel != nil || m.KernelTCP != nil {
			warnings = append(warnings, "kernel memory limits are obsolete and ignored")
		}
		// A size of 0 asks for nothing: libcontainer's cgroup managers
		// write no file for it. Docker sends a memory limit of 0 with
		// every update that leaves memory alone (docker update
		// --pids-limit); stored, it would leave a kept swap limit without
		// its memory limit, which cgroup v2 refuses ("unable to set swap
		// limit without memory limit").
		setSizeIfGiven(&dst.Memory, m.Limit)
		setSizeIfGiven(&dst.MemoryReservation, m.Reservation)
		setSizeIfGiven(&dst.MemorySwap, m.Swap)
		if m.Limit != nil && *m.Limit == -1 && m.Swap == nil {
			// An unlimited memory limit below a kept swap limit is
			// refused by the kernel; leave swap alone instead.
			dst.MemorySwap = 0
		}
		setIfGiven(&dst.MemoryCheckBeforeUpdate, m.CheckBeforeUpdate)
	}
	if cpu := r.CPU; cpu != nil {
		if cpu.Shares != nil {
			dst.CpuShares = *cpu.Shares
			dst.CpuWeight = cgroups.ConvertCPUSharesToCgroupV2Value(*cpu.Shares)
		} else if cpu.Idle != nil {
			// cgroup v2 rejects a weight for an idle group.
			dst.CpuShares, dst.CpuWeight = 0, 0
		}
		setIfGiven(&dst.CpuPeriod, cpu.Period)
		setIfGiven(&dst.CpuQuota, cpu.Quota)
		setIfGiven(&dst.CpuRtPeriod, cpu.RealtimePeriod)
		setIfGiven(&dst.CpuRtRuntime, cpu.RealtimeRuntime)
		if cpu.Burst != nil {
			dst.CpuBurst = new(*cpu.Burst)
		}
		if cpu.Idle != nil {
			dst.CPUIdle = new(*cpu.Idle)
		}
		if cpu.Cpus != "" {
			dst.CpusetCpus = cpu.Cpus
		}
		if cpu.Mems != "" {
			dst.CpusetMems = cpu.Mems
		}
	}
	if r.Pids != nil && r.Pids.Limit != nil {
		dst.PidsLimit = new(*r.Pids.Limit)
	}
	if b := r.BlockIO; b != nil {
		setIfGiven(&dst.BlkioWeight, b.Weight)
		setIfGiven(&dst.BlkioLeafWeight, b.LeafWeight)
		for _, wd := range b.WeightDevice {
			dst.BlkioWeightDevice = putWeightDevice(dst.BlkioWeightDevice, wd)
		}
		dst.BlkioThrottleReadBpsDevice = putThrottles(dst.BlkioThrottleReadBpsDevice, b.ThrottleReadBpsDevice)
		dst.BlkioThrottleWriteBpsDevice = putThrottles(dst.BlkioThrottleWriteBpsDevice, b.ThrottleWriteBpsDevice)
		dst.BlkioThrottleReadIOPSDevice = putThrottles(dst.BlkioThrottleReadIOPSDevice, b.ThrottleReadIOPSDevice)
		dst.BlkioThrottleWriteIOPSDevice = putThrottles(dst.BlkioThrottleWriteIOPSDevice, b.ThrottleWriteIOPSDevice)
	}
	if r.Unified != nil {
		if dst.Unified == nil {
			dst.Unified = make(map[string]string, len(r.Unified))
		}
		for k, v := range r.Unified {
			dst.Unified[k] = v
		}
	}
	return warnings
}

// setIfGiven sets *dst to *v when v is given.
func setIfGiven[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// setSizeIfGiven is setIfGiven for a cgroup size, where 0 means "unset".
func setSizeIfGiven(dst *int64, v *int64) {
	if v != nil && *v != 0 {
		*dst = *v
	}
}

// putWeightDevice updates the weights of the device wd names, or adds it.
// Every entry for the device is updated: a config may list one twice, and
// the last entry written wins in the cgroup.
func putWeightDevice(devs []*cgroups.WeightDevice, wd specs.LinuxWeightDevice) []*cgroups.WeightDevice {
	found := false
	for _, d := range devs {
		if d.Major == wd.Major && d.Minor == wd.Minor {
			setIfGiven(&d.Weight, wd.Weight)
			setIfGiven(&d.LeafWeight, wd.LeafWeight)
			found = true
		}
	}
	if found {
		return devs
	}
	var weight, leaf uint16
	setIfGiven(&weight, wd.Weight)
	setIfGiven(&leaf, wd.LeafWeight)
	return append(devs, cgroups.NewWeightDevice(wd.Major, wd.Minor, weight, leaf))
}

// putThrottles sets each device's rate, adding devices not yet limited.
// Every entry for a device is updated (a config may list one twice; the
// last entry written wins in the cgroup).
func putThrottles(devs []*cgroups.ThrottleDevice, updates []specs.LinuxThrottleDevice) []*cgroups.ThrottleDevice {
	for _, u := range updates {
		found := false
		for _, d := range devs {
			if d.Major == u.Major && d.Minor == u.Minor {
				d.Rate = u.Rate
				found = true
			}
		}
		if !found {
			devs = append(devs, cgroups.NewThrottleDevice(u.Major, u.Minor, u.Rate))
		}
	}
	return devs
}

// Clone copies r deeply enough that Merge may change
// the copy without touching r.
func Clone(r *cgroups.Resources) *cgroups.Resources {
	if r == nil {
		return &cgroups.Resources{}
	}
	c := *r
	c.BlkioWeightDevice = cloneEach(r.BlkioWeightDevice)
	c.BlkioThrottleReadBpsDevice = cloneEach(r.BlkioThrottleReadBpsDevice)
	c.BlkioThrottleWriteBpsDevice = cloneEach(r.BlkioThrottleWriteBpsDevice)
	c.BlkioThrottleReadIOPSDevice = cloneEach(r.BlkioThrottleReadIOPSDevice)
	c.BlkioThrottleWriteIOPSDevice = cloneEach(r.BlkioThrottleWriteIOPSDevice)
	if r.Unified != nil {
		c.Unified = maps.Clone(r.Unified)
	}
	return &c
}

func cloneEach[T any](in []*T) []*T {
	if in == nil {
		return nil
	}
	out := make([]*T, len(in))
	for i, p := range in {
		v := *p
		out[i] = &v
	}
	return out
}
