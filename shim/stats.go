package shim

import (
	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/runc/libcontainer"
)

// The types below are the JSON that "events" prints. Their shape is
// runc's (types/events.go), which containerd's go-runc decodes: keep the
// field names and JSON keys stable, they are an interface, not internals.

// event is one line of "events" output.
type event struct {
	Type string     `json:"type"` // "stats" or "oom"
	ID   string     `json:"id"`
	Data *statsData `json:"data,omitempty"`
}

// statsData is a container's resource usage.
type statsData struct {
	CPU               cpuStats            `json:"cpu"`
	CPUSet            cpusetStats         `json:"cpuset"`
	Memory            memoryStats         `json:"memory"`
	Pids              pidsStats           `json:"pids"`
	Blkio             blkioStats          `json:"blkio"`
	Hugetlb           map[string]hugetlb  `json:"hugetlb"`
	NetworkInterfaces []*networkInterface `json:"network_interfaces"`
}

type cpuStats struct {
	Usage      cpuUsage          `json:"usage,omitzero"`
	Throttling cpuThrottling     `json:"throttling,omitzero"`
	PSI        *cgroups.PSIStats `json:"psi,omitempty"`
}

// cpuUsage is in nanoseconds.
type cpuUsage struct {
	Total        uint64   `json:"total,omitempty"`
	Percpu       []uint64 `json:"percpu,omitempty"`
	PercpuKernel []uint64 `json:"percpu_kernel,omitempty"`
	PercpuUser   []uint64 `json:"percpu_user,omitempty"`
	Kernel       uint64   `json:"kernel"`
	User         uint64   `json:"user"`
}

type cpuThrottling struct {
	Periods          uint64 `json:"periods,omitempty"`
	ThrottledPeriods uint64 `json:"throttledPeriods,omitempty"`
	ThrottledTime    uint64 `json:"throttledTime,omitempty"`
}

type cpusetStats struct {
	CPUs                  []uint16 `json:"cpus,omitempty"`
	CPUExclusive          uint64   `json:"cpu_exclusive"`
	Mems                  []uint16 `json:"mems,omitempty"`
	MemHardwall           uint64   `json:"mem_hardwall"`
	MemExclusive          uint64   `json:"mem_exclusive"`
	MemoryMigrate         uint64   `json:"memory_migrate"`
	MemorySpreadPage      uint64   `json:"memory_spread_page"`
	MemorySpreadSlab      uint64   `json:"memory_spread_slab"`
	MemoryPressure        uint64   `json:"memory_pressure"`
	SchedLoadBalance      uint64   `json:"sched_load_balance"`
	SchedRelaxDomainLevel int64    `json:"sched_relax_domain_level"`
}

type memoryStats struct {
	Cache     uint64            `json:"cache,omitempty"`
	Usage     memoryEntry       `json:"usage,omitzero"`
	Swap      memoryEntry       `json:"swap,omitzero"`
	Kernel    memoryEntry       `json:"kernel,omitzero"`
	KernelTCP memoryEntry       `json:"kernelTCP,omitzero"`
	Raw       map[string]uint64 `json:"raw,omitempty"`
	PSI       *cgroups.PSIStats `json:"psi,omitempty"`
}

// memoryEntry is in bytes (failcnt is a count).
type memoryEntry struct {
	Limit   uint64 `json:"limit"`
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

type pidsStats struct {
	Current uint64 `json:"current,omitempty"`
	Limit   uint64 `json:"limit,omitempty"`
}

type blkioStats struct {
	IoServiceBytesRecursive []blkioEntry      `json:"ioServiceBytesRecursive,omitempty"`
	IoServicedRecursive     []blkioEntry      `json:"ioServicedRecursive,omitempty"`
	IoQueuedRecursive       []blkioEntry      `json:"ioQueueRecursive,omitempty"`
	IoServiceTimeRecursive  []blkioEntry      `json:"ioServiceTimeRecursive,omitempty"`
	IoWaitTimeRecursive     []blkioEntry      `json:"ioWaitTimeRecursive,omitempty"`
	IoMergedRecursive       []blkioEntry      `json:"ioMergedRecursive,omitempty"`
	IoTimeRecursive         []blkioEntry      `json:"ioTimeRecursive,omitempty"`
	SectorsRecursive        []blkioEntry      `json:"sectorsRecursive,omitempty"`
	PSI                     *cgroups.PSIStats `json:"psi,omitempty"`
}

type blkioEntry struct {
	Major uint64 `json:"major,omitempty"`
	Minor uint64 `json:"minor,omitempty"`
	Op    string `json:"op,omitempty"`
	Value uint64 `json:"value,omitempty"`
}

type hugetlb struct {
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

// networkInterface keeps runc's untagged (capitalised) keys.
type networkInterface struct {
	Name      string `json:"Name"`
	RxBytes   uint64 `json:"RxBytes"`
	RxPackets uint64 `json:"RxPackets"`
	RxErrors  uint64 `json:"RxErrors"`
	RxDropped uint64 `json:"RxDropped"`
	TxBytes   uint64 `json:"TxBytes"`
	TxPackets uint64 `json:"TxPackets"`
	TxErrors  uint64 `json:"TxErrors"`
	TxDropped uint64 `json:"TxDropped"`
}

// newStatsData converts libcontainer's statistics. It returns nil when no
// cgroup statistics were gathered. Intel RDT statistics are not reported.
func newStatsData(ls *libcontainer.Stats) *statsData {
	if ls == nil || ls.CgroupStats == nil {
		return nil
	}
	cg := ls.CgroupStats
	cpu := cg.CpuStats
	mem := cg.MemoryStats
	blk := cg.BlkioStats
	set := cg.CPUSetStats
	out := &statsData{
		CPU: cpuStats{
			Usage: cpuUsage{
				Total:        cpu.CpuUsage.TotalUsage,
				Percpu:       cpu.CpuUsage.PercpuUsage,
				PercpuKernel: cpu.CpuUsage.PercpuUsageInKernelmode,
				PercpuUser:   cpu.CpuUsage.PercpuUsageInUsermode,
				Kernel:       cpu.CpuUsage.UsageInKernelmode,
				User:         cpu.CpuUsage.UsageInUsermode,
			},
			Throttling: cpuThrottling{
				Periods:          cpu.ThrottlingData.Periods,
				ThrottledPeriods: cpu.ThrottlingData.ThrottledPeriods,
				ThrottledTime:    cpu.ThrottlingData.ThrottledTime,
			},
			PSI: cpu.PSI,
		},
		CPUSet: cpusetStats{
			CPUs:                  set.CPUs,
			CPUExclusive:          set.CPUExclusive,
			Mems:                  set.Mems,
			MemHardwall:           set.MemHardwall,
			MemExclusive:          set.MemExclusive,
			MemoryMigrate:         set.MemoryMigrate,
			MemorySpreadPage:      set.MemorySpreadPage,
			MemorySpreadSlab:      set.MemorySpreadSlab,
			MemoryPressure:        set.MemoryPressure,
			SchedLoadBalance:      set.SchedLoadBalance,
			SchedRelaxDomainLevel: set.SchedRelaxDomainLevel,
		},
		Memory: memoryStats{
			Cache:     mem.Cache,
			Usage:     newMemoryEntry(mem.Usage),
			Swap:      newMemoryEntry(mem.SwapUsage),
			Kernel:    newMemoryEntry(mem.KernelUsage),
			KernelTCP: newMemoryEntry(mem.KernelTCPUsage),
			Raw:       mem.Stats,
			PSI:       mem.PSI,
		},
		Pids: pidsStats{Current: cg.PidsStats.Current, Limit: cg.PidsStats.Limit},
		Blkio: blkioStats{
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
		Hugetlb: make(map[string]hugetlb, len(cg.HugetlbStats)),
	}
	for size, h := range cg.HugetlbStats {
		out.Hugetlb[size] = hugetlb{Usage: h.Usage, Max: h.MaxUsage, Failcnt: h.Failcnt}
	}
	for _, n := range ls.Interfaces {
		if n == nil {
			continue
		}
		out.NetworkInterfaces = append(out.NetworkInterfaces, &networkInterface{
			Name:      n.Name,
			RxBytes:   n.RxBytes,
			RxPackets: n.RxPackets,
			RxErrors:  n.RxErrors,
			RxDropped: n.RxDropped,
			TxBytes:   n.TxBytes,
			TxPackets: n.TxPackets,
			TxErrors:  n.TxErrors,
			TxDropped: n.TxDropped,
		})
	}
	return out
}

func newMemoryEntry(d cgroups.MemoryData) memoryEntry {
	return memoryEntry{Limit: d.Limit, Usage: d.Usage, Max: d.MaxUsage, Failcnt: d.Failcnt}
}

func newBlkioEntries(in []cgroups.BlkioStatEntry) []blkioEntry {
	if len(in) == 0 {
		return nil
	}
	out := make([]blkioEntry, len(in))
	for i, e := range in {
		out[i] = blkioEntry{Major: e.Major, Minor: e.Minor, Op: e.Op, Value: e.Value}
	}
	return out
}
