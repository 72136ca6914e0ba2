package idmap

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// An entry that names its creator by pidfs inode number is live while
// that very process runs, whatever its start time says, and gone when the
// PID is another process's or no process's; the entry Allocate writes
// carries both.
func TestReclaimByPidfsIno(t *testing.T) {
	t.Parallel()
	selfIno, err := pidfsIno(os.Getpid())
	if err != nil {
		t.Skipf("no pidfs here: %v", err)
	}
	self, _ := procStart(os.Getpid())
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	a := newTestAllocator(t, 8)
	r := func(i uint32) Range { return Range{Start: 1<<20 + i*DefaultRangeSize, Size: DefaultRangeSize} }
	writeEntries(t, a, map[string]Entry{
		"creating":          {Range: r(0), Pid: os.Getpid(), PidStart: self, PidIno: selfIno},
		"pid-reused":        {Range: r(1), Pid: os.Getpid(), PidStart: self, PidIno: selfIno + 1},
		"killed-mid-create": {Range: r(2), Pid: dead.Process.Pid, PidIno: selfIno},
	})
	if err := a.Reclaim(); err != nil {
		t.Fatal(err)
	}
	got, err := a.Entries()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got["creating"]; !ok {
		t.Error("the entry of a running creator was reclaimed")
	}
	for _, id := range []string{"pid-reused", "killed-mid-create"} {
		if _, ok := got[id]; ok {
			t.Errorf("%s was not reclaimed", id)
		}
	}
	if _, err := a.Allocate("new", nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := a.Entries(); got["new"].PidIno != selfIno || got["new"].PidStart != self {
		t.Errorf("allocated entry %+v, want pidIno %d and pidStart %d", got["new"], selfIno, self)
	}
}

// BenchmarkCreatorLive is what live asks of an entry whose container has
// no state directory yet: its creator by pidfs inode number, or (an
// entry without one) by start time.
func BenchmarkCreatorLive(b *testing.B) {
	a := &Allocator{}
	self, _ := procStart(os.Getpid())
	ino, _ := pidfsIno(os.Getpid())
	for _, c := range []struct {
		name string
		e    Entry
	}{
		{"pidIno", Entry{Pid: os.Getpid(), PidStart: self, PidIno: ino}},
		{"pidStart", Entry{Pid: os.Getpid(), PidStart: self}},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if !a.live("x", c.e) {
					b.Fatal("not live")
				}
			}
		})
	}
}

// BenchmarkAllocateRelease50InProgress is BenchmarkAllocateRelease50 with
// 50 creates in progress (entries whose state directory is not there
// yet, as at 50-way churn), written with the creator's pidfs inode
// number (this version) or without (the previous one's).
func BenchmarkAllocateRelease50InProgress(b *testing.B) {
	for _, withIno := range []bool{true, false} {
		name := "pidIno"
		if !withIno {
			name = "pidStart"
		}
		b.Run(name, func(b *testing.B) {
			a := NewAllocator(b.TempDir(), testPool(200), DefaultRangeSize)
			for i := range 50 {
				id := fmt.Sprint("c", i)
				r, err := a.Allocate(id, nil)
				if err != nil {
					b.Fatal(err)
				}
				if !withIno {
					self, _ := procStart(os.Getpid())
					if err := a.writeEntry(a.entriesDir(), id, Entry{Range: r, Pid: os.Getpid(), PidStart: self}); err != nil {
						b.Fatal(err)
					}
				}
			}
			for b.Loop() {
				if _, err := a.Allocate("x", nil); err != nil {
					b.Fatal(err)
				}
				if err := a.Release("x"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
