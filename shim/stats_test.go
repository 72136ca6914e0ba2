package shim

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/types"
)

// libcontainerStatsFixture fills every field newStatsData reads with a
// distinct value, so a field copied into the wrong place shows.
func libcontainerStatsFixture() *libcontainer.Stats {
	cg := cgroups.NewStats()
	cg.CpuStats.CpuUsage = cgroups.CpuUsage{
		TotalUsage: 1001, PercpuUsage: []uint64{600, 401},
		PercpuUsageInKernelmode: []uint64{100, 101}, PercpuUsageInUsermode: []uint64{500, 300},
		UsageInKernelmode: 201, UsageInUsermode: 800,
	}
	cg.CpuStats.ThrottlingData = cgroups.ThrottlingData{Periods: 11, ThrottledPeriods: 12, ThrottledTime: 13}
	cg.CpuStats.PSI = &cgroups.PSIStats{Some: cgroups.PSIData{Avg10: 1.5, Total: 14}}
	cg.CPUSetStats = cgroups.CPUSetStats{CPUs: []uint16{0, 1}, Mems: []uint16{0}, SchedLoadBalance: 1, SchedRelaxDomainLevel: -1}
	cg.MemoryStats.Cache = 21
	cg.MemoryStats.Usage = cgroups.MemoryData{Usage: 22, MaxUsage: 23, Failcnt: 24, Limit: 25}
	cg.MemoryStats.SwapUsage = cgroups.MemoryData{Usage: 26, Limit: 27}
	cg.MemoryStats.KernelUsage = cgroups.MemoryData{Usage: 28}
	cg.MemoryStats.KernelTCPUsage = cgroups.MemoryData{Usage: 29}
	cg.MemoryStats.Stats["rss"] = 30
	cg.PidsStats = cgroups.PidsStats{Current: 3, Limit: 4096}
	cg.BlkioStats.IoServiceBytesRecursive = []cgroups.BlkioStatEntry{{Major: 8, Minor: 0, Op: "Read", Value: 4096}}
	cg.BlkioStats.SectorsRecursive = []cgroups.BlkioStatEntry{{Major: 8, Minor: 0, Value: 8}}
	cg.HugetlbStats["2MB"] = cgroups.HugetlbStats{Usage: 41, MaxUsage: 42, Failcnt: 43}
	return &libcontainer.Stats{
		CgroupStats: cg,
		Interfaces:  []*types.NetworkInterface{{Name: "eth0", RxBytes: 51, TxBytes: 52, RxPackets: 53}, nil},
	}
}

func TestNewStatsData(t *testing.T) {
	t.Parallel()
	got := newStatsData(libcontainerStatsFixture())
	want := &types.Stats{
		CPU: types.Cpu{
			Usage: types.CpuUsage{
				Total: 1001, Percpu: []uint64{600, 401},
				PercpuKernel: []uint64{100, 101}, PercpuUser: []uint64{500, 300},
				Kernel: 201, User: 800,
			},
			Throttling: types.Throttling{Periods: 11, ThrottledPeriods: 12, ThrottledTime: 13},
			PSI:        &cgroups.PSIStats{Some: cgroups.PSIData{Avg10: 1.5, Total: 14}},
		},
		CPUSet: types.CPUSet{CPUs: []uint16{0, 1}, Mems: []uint16{0}, SchedLoadBalance: 1, SchedRelaxDomainLevel: -1},
		Memory: types.Memory{
			Cache:     21,
			Usage:     types.MemoryEntry{Usage: 22, Max: 23, Failcnt: 24, Limit: 25},
			Swap:      types.MemoryEntry{Usage: 26, Limit: 27},
			Kernel:    types.MemoryEntry{Usage: 28},
			KernelTCP: types.MemoryEntry{Usage: 29},
			Raw:       map[string]uint64{"rss": 30},
		},
		Pids: types.Pids{Current: 3, Limit: 4096},
		Blkio: types.Blkio{
			IoServiceBytesRecursive: []types.BlkioEntry{{Major: 8, Minor: 0, Op: "Read", Value: 4096}},
			SectorsRecursive:        []types.BlkioEntry{{Major: 8, Minor: 0, Value: 8}},
		},
		Hugetlb:           map[string]types.Hugetlb{"2MB": {Usage: 41, Max: 42, Failcnt: 43}},
		NetworkInterfaces: []*types.NetworkInterface{{Name: "eth0", RxBytes: 51, TxBytes: 52, RxPackets: 53}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("newStatsData:\n got %+v\nwant %+v", got, want)
	}
}

func TestNewStatsDataWithoutCgroupStats(t *testing.T) {
	t.Parallel()
	for _, in := range []*libcontainer.Stats{nil, {}} {
		if got := newStatsData(in); got != nil {
			t.Errorf("newStatsData(%+v) = %+v, want nil", in, got)
		}
	}
}

// TestStatsEventJSON pins the JSON paths that containerd's go-runc (and
// so `ctr`/Docker tooling built on it) decodes from "events".
func TestStatsEventJSON(t *testing.T) {
	t.Parallel()
	raw, err := json.Marshal(types.Event{Type: "stats", ID: "c1", Data: newStatsData(libcontainerStatsFixture())})
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path []any
		want any
	}{
		{[]any{"type"}, "stats"},
		{[]any{"id"}, "c1"},
		{[]any{"data", "cpu", "usage", "total"}, 1001.0},
		{[]any{"data", "cpu", "usage", "percpu", 1}, 401.0},
		{[]any{"data", "cpu", "usage", "kernel"}, 201.0},
		{[]any{"data", "cpu", "usage", "user"}, 800.0},
		{[]any{"data", "cpu", "throttling", "throttledPeriods"}, 12.0},
		{[]any{"data", "cpu", "throttling", "throttledTime"}, 13.0},
		{[]any{"data", "memory", "cache"}, 21.0},
		{[]any{"data", "memory", "usage", "usage"}, 22.0},
		{[]any{"data", "memory", "usage", "max"}, 23.0},
		{[]any{"data", "memory", "usage", "failcnt"}, 24.0},
		{[]any{"data", "memory", "usage", "limit"}, 25.0},
		{[]any{"data", "memory", "swap", "usage"}, 26.0},
		{[]any{"data", "memory", "kernel", "usage"}, 28.0},
		{[]any{"data", "memory", "kernelTCP", "usage"}, 29.0},
		{[]any{"data", "memory", "raw", "rss"}, 30.0},
		{[]any{"data", "pids", "current"}, 3.0},
		{[]any{"data", "pids", "limit"}, 4096.0},
		{[]any{"data", "blkio", "ioServiceBytesRecursive", 0, "op"}, "Read"},
		{[]any{"data", "blkio", "sectorsRecursive", 0, "value"}, 8.0},
		{[]any{"data", "hugetlb", "2MB", "failcnt"}, 43.0},
		{[]any{"data", "network_interfaces", 0, "Name"}, "eth0"},
		{[]any{"data", "network_interfaces", 0, "RxBytes"}, 51.0},
		{[]any{"data", "network_interfaces", 0, "TxBytes"}, 52.0},
	}
	for _, tc := range tests {
		got, err := jsonAt(doc, tc.path)
		if err != nil {
			t.Errorf("%v: %v", tc.path, err)
			continue
		}
		if got != tc.want {
			t.Errorf("%v = %v, want %v", tc.path, got, tc.want)
		}
	}
}

func TestOOMEventJSON(t *testing.T) {
	t.Parallel()
	raw, err := json.Marshal(types.Event{Type: "oom", ID: "c1"})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"type":"oom","id":"c1"}`; string(raw) != want {
		t.Errorf("oom event = %s, want %s", raw, want)
	}
}

// jsonAt walks a decoded JSON document by object keys and array indices.
func jsonAt(v any, path []any) (any, error) {
	for _, step := range path {
		switch k := step.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("at %q: not an object", k)
			}
			if v, ok = m[k]; !ok {
				return nil, fmt.Errorf("no key %q", k)
			}
		case int:
			a, ok := v.([]any)
			if !ok || k >= len(a) {
				return nil, fmt.Errorf("at [%d]: not an array that long", k)
			}
			v = a[k]
		}
	}
	return v, nil
}
