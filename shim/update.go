package shim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"strconv"

	"github.com/docker/go-units"
	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/intelrdt"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"

	"github.com/hardened-runtime/hardened/hardening"
	"github.com/hardened-runtime/hardened/spec"
)

func updateCommand() *cli.Command {
	return &cli.Command{
		Name:      "update",
		Usage:     "change the resource limits of a running container",
		ArgsUsage: "<container-id>",
		Description: `The update command changes the cgroup limits of a running or paused
container. The new values come either from a runtime-spec LinuxResources
JSON document (--resources FILE, or --resources - for standard input, which
is what containerd sends), or from the individual flags. With --resources
the individual flags are ignored. Only the values given change; the rest
stay as they are. Sizes take units: 512m, 1g. The values go through the
container's policy as at create: a pids limit above the policy's
pidsLimit, or "unlimited" (0, -1), is lowered to it; device rules the
policy refuses fail the update.

EXAMPLE:
       # hardened update --memory 256m --pids-limit 100 web1
       # echo '{"memory":{"limit":268435456}}' | hardened update --resources - web1`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "resources", Aliases: []string{"r"}, Usage: "runtime-spec LinuxResources JSON file, or - for standard input"},
			&cli.StringFlag{Name: "memory", Usage: "memory limit in bytes or with a unit (512m); -1 for no limit"},
			&cli.StringFlag{Name: "memory-reservation", Usage: "memory soft limit in bytes or with a unit"},
			&cli.StringFlag{Name: "memory-swap", Usage: "limit of memory plus swap; -1 for unlimited swap"},
			&cli.StringFlag{Name: "kernel-memory", Hidden: true, Usage: "obsolete, ignored"},
			&cli.StringFlag{Name: "kernel-memory-tcp", Hidden: true, Usage: "obsolete, ignored"},
			&cli.StringFlag{Name: "cpu-share", Aliases: []string{"cpu-shares"}, Usage: "CPU shares (weight relative to other containers)"},
			&cli.StringFlag{Name: "cpu-period", Usage: "CFS period in microseconds (0: system default)"},
			&cli.StringFlag{Name: "cpu-quota", Usage: "CFS quota in microseconds per period"},
			&cli.StringFlag{Name: "cpu-burst", Usage: "CFS burst in microseconds per period"},
			&cli.StringFlag{Name: "cpu-rt-period", Usage: "realtime period in microseconds"},
			&cli.StringFlag{Name: "cpu-rt-runtime", Usage: "realtime runtime in microseconds per period"},
			&cli.StringFlag{Name: "cpu-idle", Usage: "1 to make the cgroup SCHED_IDLE, 0 for the default"},
			&cli.StringFlag{Name: "cpuset-cpus", Usage: "CPUs the container may use (0-3,5)"},
			&cli.StringFlag{Name: "cpuset-mems", Usage: "memory nodes the container may use"},
			&cli.StringFlag{Name: "pids-limit", Usage: "maximum number of processes (0 or -1: no limit)"},
			&cli.StringFlag{Name: "blkio-weight", Usage: "block IO weight, 10 to 1000"},
			&cli.StringFlag{Name: "l3-cache-schema", Usage: "Intel RDT/CAT L3 cache schema"},
			&cli.StringFlag{Name: "mem-bw-schema", Usage: "Intel RDT/MBA memory bandwidth schema"},
		},
		Action: func(c *cli.Context) error {
			if err := checkArgs(c, 1, 1); err != nil {
				return err
			}
			ct, err := loadContainer(c)
			if err != nil {
				return err
			}
			pol, polPath, err := containerPolicy(c, ct)
			if err != nil {
				return fmt.Errorf("container %s: %w", ct.ID(), err)
			}
			var res *specs.LinuxResources
			if src := c.String("resources"); src != "" {
				res, err = readResourcesFrom(src, c.App.Reader, pol.MaxConfigSize)
			} else {
				res, err = resourcesFromFlags(c)
			}
			if err != nil {
				return fmt.Errorf("container %s: %w", ct.ID(), err)
			}
			if err := clampUpdate(ct.ID(), res, pol, polPath); err != nil {
				return err
			}
			cfg := ct.Config()
			// Config shares its Cgroups and IntelRdt with the container,
			// whose Set restores them if applying the new values fails:
			// change copies only.
			cg := *cfg.Cgroups
			cg.Resources = cloneResources(cfg.Cgroups.Resources)
			cfg.Cgroups = &cg
			for _, w := range mergeResources(cg.Resources, res) {
				logrus.Warnf("container %s: %s", ct.ID(), w)
			}
			if cfg.IntelRdt, err = updatedIntelRdt(c, cfg.IntelRdt); err != nil {
				return fmt.Errorf("container %s: %w", ct.ID(), err)
			}
			// Device rules cannot be changed by update; re-applying them
			// would undo what device plugins added after create.
			cg.SkipDevices = true
			if err := ct.Set(cfg); err != nil {
				return fmt.Errorf("container %s: update: %w", ct.ID(), err)
			}
			return nil
		},
	}
}

// clampUpdate puts the new values through the container's effective
// policy, as create did (hardening.ClampUpdate): a pids limit above the
// ceiling is lowered (logged as a warning), refused device rules fail the
// update naming the rule and the policy key.
func clampUpdate(id string, res *specs.LinuxResources, pol *hardening.Policy, polPath string) error {
	rep, err := hardening.ClampUpdate(res, pol)
	if errors.Is(err, hardening.ErrRefused) {
		return fmt.Errorf("container %s: update: %w; set these keys in %s", id, err, polPath)
	}
	if err != nil {
		return fmt.Errorf("container %s: update: %w", id, err)
	}
	verb := "lowered"
	if rep.Mode == hardening.ModeAudit {
		verb = "would be lowered (audit)"
		for _, f := range rep.Refusals {
			logrus.Warnf("container %s: update: would be refused (audit): %s (rule %s)", id, f.Reason, f.Rule)
		}
	}
	for _, ch := range rep.Changes {
		logrus.Warnf("container %s: update: %s %s from %s to %s (rule %s, policy %s)", id, ch.Path, verb, ch.Before, ch.After, ch.Rule, polPath)
	}
	return nil
}

// readResourcesFrom decodes a LinuxResources document from a file, or from
// stdin when src is "-", reading at most maxSize bytes. A file must be a
// regular file (spec.ReadRegularFile: a FIFO does not block the update).
func readResourcesFrom(src string, stdin io.Reader, maxSize int64) (*specs.LinuxResources, error) {
	var raw []byte
	var err error
	if src == "-" {
		raw, err = spec.ReadLimited(stdin, "standard input", maxSize)
	} else {
		raw, err = spec.ReadRegularFile(src, maxSize)
	}
	if err != nil {
		return nil, fmt.Errorf("--resources: %w", err)
	}
	res, err := decodeResources(bytes.NewReader(raw))
	if err != nil {
		if src == "-" {
			return nil, fmt.Errorf("--resources from standard input: %w", err)
		}
		return nil, fmt.Errorf("--resources %s: %w", src, err)
	}
	return res, nil
}

// decodeResources reads one LinuxResources JSON value. Sections update
// cannot apply (devices, hugepages, network, rdma) are accepted and left
// alone, as runc does: containerd may send a full resources section.
func decodeResources(r io.Reader) (*specs.LinuxResources, error) {
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

// flagReader is the part of *cli.Context that resourcesFromFlags reads.
type flagReader interface {
	IsSet(name string) bool
	String(name string) string
}

// resourcesFromFlags turns update's individual flags into a LinuxResources
// with only the given values set.
func resourcesFromFlags(f flagReader) (*specs.LinuxResources, error) {
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

	for _, size := range []struct {
		flag string
		dst  **int64
	}{
		{"memory", &res.Memory.Limit},
		{"memory-reservation", &res.Memory.Reservation},
		{"memory-swap", &res.Memory.Swap},
		{"kernel-memory", &res.Memory.Kernel}, //nolint:staticcheck // read only to warn that it is ignored
		{"kernel-memory-tcp", &res.Memory.KernelTCP},
	} {
		v, ok := given(size.flag)
		if !ok {
			continue
		}
		n, err := parseByteSize(v)
		if err != nil {
			return nil, fmt.Errorf("--%s: %w", size.flag, err)
		}
		*size.dst = &n
	}

	for _, u := range []struct {
		flag string
		dst  **uint64
	}{
		{"cpu-share", &res.CPU.Shares},
		{"cpu-period", &res.CPU.Period},
		{"cpu-burst", &res.CPU.Burst},
		{"cpu-rt-period", &res.CPU.RealtimePeriod},
	} {
		v, ok := given(u.flag)
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("--%s: %q is not a non-negative integer", u.flag, v)
		}
		*u.dst = &n
	}

	for _, s := range []struct {
		flag string
		dst  **int64
	}{
		{"cpu-quota", &res.CPU.Quota},
		{"cpu-rt-runtime", &res.CPU.RealtimeRuntime},
		{"cpu-idle", &res.CPU.Idle},
		{"pids-limit", nil},
	} {
		v, ok := given(s.flag)
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("--%s: %q is not an integer", s.flag, v)
		}
		if s.dst == nil {
			res.Pids = &specs.LinuxPids{Limit: &n}
			continue
		}
		*s.dst = &n
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

// mergeResources writes the values set in r into dst and leaves the others
// as they were. It returns warnings about values that were ignored.
func mergeResources(dst *cgroups.Resources, r *specs.LinuxResources) []string {
	var warnings []string
	// Whether the kernel checks usage against a new limit first is a
	// property of this one update, not a setting to keep.
	dst.MemoryCheckBeforeUpdate = false
	if m := r.Memory; m != nil {
		if m.Kernel != nil || m.KernelTCP != nil { //nolint:staticcheck // read only to warn that it is ignored
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
			dst.CpuBurst = ptrTo(*cpu.Burst)
		}
		if cpu.Idle != nil {
			dst.CPUIdle = ptrTo(*cpu.Idle)
		}
		if cpu.Cpus != "" {
			dst.CpusetCpus = cpu.Cpus
		}
		if cpu.Mems != "" {
			dst.CpusetMems = cpu.Mems
		}
	}
	if r.Pids != nil && r.Pids.Limit != nil {
		dst.PidsLimit = ptrTo(*r.Pids.Limit)
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

func ptrTo[T any](v T) *T { return &v }

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

// cloneResources copies r deeply enough that mergeResources may change
// the copy without touching r.
func cloneResources(r *cgroups.Resources) *cgroups.Resources {
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

// updatedIntelRdt returns the container's Intel RDT settings with
// --l3-cache-schema and --mem-bw-schema applied. Update cannot add Intel
// RDT to a container created without it.
func updatedIntelRdt(c *cli.Context, rdt *configs.IntelRdt) (*configs.IntelRdt, error) {
	l3, mb := c.String("l3-cache-schema"), c.String("mem-bw-schema")
	if l3 == "" && mb == "" {
		return rdt, nil
	}
	if l3 != "" && !intelrdt.IsCATEnabled() {
		return nil, errors.New("--l3-cache-schema: Intel RDT/CAT is not enabled on this host")
	}
	if mb != "" && !intelrdt.IsMBAEnabled() {
		return nil, errors.New("--mem-bw-schema: Intel RDT/MBA is not enabled on this host")
	}
	if rdt == nil {
		return nil, errors.New("the container was created without Intel RDT settings; update cannot add them")
	}
	out := *rdt
	if l3 != "" {
		out.L3CacheSchema = l3
	}
	if mb != "" {
		out.MemBwSchema = mb
	}
	return &out, nil
}
