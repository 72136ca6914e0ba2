package shim

import (
	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/types"
)

// "events" prints runc's own types (github.com/opencontainers/runc/types),
// which containerd's go-runc decodes: the JSON keys are an interface, so
// they come from the same module as the libcontainer we embed.

// newStatsData converts libcontainer's statistics. It returns nil when no
// cgroup statistics were gathered. Intel RDT statistics are not reported:
// "intel_rdt" stays an empty object, as runc prints it without RDT.
func newStatsData(ls *libcontainer.Stats) *types.Stats {
	if ls == nil || ls.CgroupStats == nil {
		return nil
	}
	cg := ls.CgroupStats
	cpu := cg.CpuStats
	mem := cg.MemoryStats
	blk := cg.BlkioStats
	set := cg.CPUSetStats
	out := &types.Stats{
		CPU: types.Cpu{
			Usage: types.CpuUsage{
				Total:        cpu.CpuUsage.TotalUsage,
				Percpu:       cpu.CpuUsage.PercpuUsage,
				PercpuKernel: cpu.CpuUsage.PercpuUsageInKernelmode,
				PercpuUser:   cpu.CpuUsage.PercpuUsageInUsermode,
				Kernel:       cpu.CpuUsage.UsageInKernelmode,
				User:         cpu.CpuUsage.UsageInUsermode,
			},
			Throttling: types.Throttling{
				Periods:          cpu.ThrottlingData.Periods,
				ThrottledPeriods: cpu.ThrottlingData.ThrottledPeriods,
				ThrottledTime:    cpu.ThrottlingData.ThrottledTime,
			},
			PSI: cpu.PSI,
		},
		CPUSet: types.CPUSet(set),
		Memory: types.Memory{
			Cache:     mem.Cache,
			Usage:     newMemoryEntry(mem.Usage),
			Swap:      newMemoryEntry(mem.SwapUsage),
			Kernel:    newMemoryEntry(mem.KernelUsage),
			KernelTCP: newMemoryEntry(mem.KernelTCPUsage),
			Raw:       mem.Stats,
			PSI:       mem.PSI,
		},
		Pids: types.Pids(cg.PidsStats),
		Blkio: types.Blkio{
			IoServiceBytesRecursive: newBlkioEntries(blk.IoServiceBytesRecursive),
			IoServicedRecursive:     newBlkioEntries(blk.IoServicedRecursive),
			IoQueuedRecursive:       newBlkioEntries(blk.IoQueuedRecursive),
			IoServiceTimeRecursive:  newBlkioEntries(blk.IoServiceTimeRecursive),
			IoWaitTimeRecursive:     newBlkioEntries(blk.IoWaitTimeRecursive),
			IoMergedRecursive:       newBlkioEntries(blk.IoMergedRecursive),
			IoTimeRecursive:         newBlkioEntries(blk.IoTimeRecursive),
			SectorsRecursive:        newBlkioEntries(blk.SectorsRecursive),
			PSI:                     blk.PSI,
		},
		Hugetlb: make(map[string]types.Hugetlb, len(cg.HugetlbStats)),
	}
	for size, h := range cg.HugetlbStats {
		out.Hugetlb[size] = types.Hugetlb{Usage: h.Usage, Max: h.MaxUsage, Failcnt: h.Failcnt}
	}
	for _, n := range ls.Interfaces {
		if n != nil {
			out.NetworkInterfaces = append(out.NetworkInterfaces, n)
		}
	}
	return out
}

func newMemoryEntry(d cgroups.MemoryData) types.MemoryEntry {
	return types.MemoryEntry{Limit: d.Limit, Usage: d.Usage, Max: d.MaxUsage, Failcnt: d.Failcnt}
}

func newBlkioEntries(in []cgroups.BlkioStatEntry) []types.BlkioEntry {
	if len(in) == 0 {
		return nil
	}
	out := make([]types.BlkioEntry, len(in))
	for i, e := range in {
		out[i] = types.BlkioEntry(e)
	}
	return out
}
