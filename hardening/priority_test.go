package hardening

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestClampPriority(t *testing.T) {
	for _, tc := range []struct {
		name        string
		in          specs.Process
		wantSched   *specs.Scheduler
		wantIO      *specs.LinuxIOPriority
		wantChanges int
	}{
		{name: "none", in: specs.Process{}},
		{name: "nice -20 raised", in: specs.Process{Scheduler: &specs.Scheduler{Policy: specs.SchedOther, Nice: -20}},
			wantSched: &specs.Scheduler{Policy: specs.SchedOther}, wantChanges: 1},
		{name: "nice 10 kept", in: specs.Process{Scheduler: &specs.Scheduler{Policy: specs.SchedBatch, Nice: 10}},
			wantSched: &specs.Scheduler{Policy: specs.SchedBatch, Nice: 10}},
		{name: "FIFO 99 becomes OTHER", in: specs.Process{Scheduler: &specs.Scheduler{Policy: specs.SchedFIFO, Priority: 99, Flags: []specs.LinuxSchedulerFlag{specs.SchedFlagResetOnFork}}},
			wantSched: &specs.Scheduler{Policy: specs.SchedOther, Flags: []specs.LinuxSchedulerFlag{specs.SchedFlagResetOnFork}}, wantChanges: 1},
		{name: "DEADLINE cleared", in: specs.Process{Scheduler: &specs.Scheduler{Policy: specs.SchedDeadline, Runtime: 1e6, Deadline: 2e6, Period: 2e6}},
			wantSched: &specs.Scheduler{Policy: specs.SchedOther}, wantChanges: 1},
		{name: "RT I/O class becomes best-effort", in: specs.Process{IOPriority: &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_RT, Priority: 2}},
			wantIO: &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_BE, Priority: 2}, wantChanges: 1},
		{name: "idle I/O class kept", in: specs.Process{IOPriority: &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_IDLE}},
			wantIO: &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_IDLE}},
		{name: "kept with CAP_SYS_NICE", in: specs.Process{Capabilities: &specs.LinuxCapabilities{Effective: []string{"CAP_SYS_NICE"}},
			Scheduler: &specs.Scheduler{Policy: specs.SchedRR, Priority: 5, Nice: -5}, IOPriority: &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_RT}},
			wantSched: &specs.Scheduler{Policy: specs.SchedRR, Priority: 5, Nice: -5}, wantIO: &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_RT}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.in
			rep := &Report{}
			if err := ClampPriority(&p, DefaultPolicy(), HostFacts{}, rep); err != nil {
				t.Fatal(err)
			}
			if string(jsonValue(p.Scheduler)) != string(jsonValue(tc.wantSched)) || string(jsonValue(p.IOPriority)) != string(jsonValue(tc.wantIO)) {
				t.Errorf("scheduler %s, ioPriority %s; want %s, %s", jsonValue(p.Scheduler), jsonValue(p.IOPriority), jsonValue(tc.wantSched), jsonValue(tc.wantIO))
			}
			if len(rep.Changes) < tc.wantChanges || (tc.wantChanges == 0 && len(rep.Changes) != 0) {
				t.Errorf("changes %+v, want %d", rep.Changes, tc.wantChanges)
			}
			for _, c := range rep.Changes {
				if c.Rule != RuleProcessPriority {
					t.Errorf("change by rule %s", c.Rule)
				}
			}
		})
	}
}
