package testutil

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestProcessCgroupOfSelf reads this test's own cgroup on whatever layout
// the host has: the directory holds the process, and every reader gives
// a value of the documented form.
func TestProcessCgroupOfSelf(t *testing.T) {
	cg, err := ProcessCgroup(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if cg.Unified != CgroupV2Host() {
		t.Errorf("Unified %v on a host where CgroupV2Host is %v", cg.Unified, CgroupV2Host())
	}
	dir, err := cg.Dir("pids")
	if err != nil {
		t.Fatal(err)
	}
	if rel, _ := filepath.Rel(CgroupRoot, dir); rel == "." || !strings.Contains(rel, "/") && !cg.Unified {
		// The root cgroup has no limit files; the integration tests read
		// containers' cgroups on both layouts.
		t.Skipf("this process runs in the root cgroup %s", dir)
	}
	procs, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains("\n"+string(procs), "\n"+strconv.Itoa(os.Getpid())+"\n") {
		t.Errorf("%s/cgroup.procs does not list this process %d", dir, os.Getpid())
	}
	isLimit := func(v string) bool {
		if v == "max" {
			return true
		}
		n, err := strconv.ParseInt(v, 10, 64)
		return err == nil && n > 0
	}
	for name, read := range map[string]func() (string, error){
		"memory": cg.MemoryLimit,
		"pids":   cg.PidsLimit,
	} {
		v, err := read()
		if err != nil {
			t.Errorf("%s: %v", name, err)
		} else if !isLimit(v) {
			t.Errorf("%s limit %q: want a positive number or max", name, v)
		}
	}
	if v, err := cg.CPUQuota(); errors.Is(err, fs.ErrNotExist) && cg.Unified {
		t.Logf("cpu: %v (the cpu controller is not enabled for this cgroup)", err)
	} else if err != nil {
		t.Errorf("cpu: %v", err)
	} else if q, p, ok := strings.Cut(v, " "); !ok || !isLimit(q) || !isLimit(p) {
		t.Errorf("cpu quota %q: want \"<quota|max> <period>\"", v)
	}
	// The root cgroup (a test run from a login shell on a v2 host) has
	// no freezer: only check when there is one.
	if f, err := cg.Frozen(); err == nil && f {
		t.Errorf("this running test's cgroup reads as frozen")
	}
}

// TestCgroupsNamedFindsOwnCgroup: CgroupsNamed finds this process's own
// cgroup by its last name when it is at most 4 levels deep.
func TestCgroupsNamedFindsOwnCgroup(t *testing.T) {
	cg, err := ProcessCgroup(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	dir, err := cg.Dir("pids")
	if err != nil {
		t.Fatal(err)
	}
	rel, _ := filepath.Rel(CgroupRoot, dir)
	if !cg.Unified {
		_, rel, _ = strings.Cut(rel, "/") // the hierarchy's own directory
	}
	if rel == "" || rel == "." || strings.Count(rel, "/") > 3 {
		t.Skipf("this process's cgroup %s is the root or deeper than CgroupsNamed looks", dir)
	}
	name := filepath.Base(dir)
	found := CgroupsNamed(name)
	for _, d := range found {
		if d == dir {
			return
		}
	}
	t.Errorf("CgroupsNamed(%q) = %v, want it to include %s", name, found, dir)
}
