package integration

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// TestContainersAndInspect: `containers` and `ps` without an ID list the
// container with its policy; `ps --format json ID` keeps runc's meaning
// (containerd's shim reads it); `inspect` prints the record, and after
// delete the audit log's lines of the container.
func TestContainersAndInspect(t *testing.T) {
	rt := testutil.NewRuntime(t)
	b := testutil.NewBundle(t, "sleep", "1000")
	// runc's example spec has no seccomp profile and gets Docker's, with
	// a warning; CAP_SYS_ADMIN is dropped with another.
	b.Edit(t, func(s *specs.Spec) {
		s.Annotations = map[string]string{"nerdctl/name": "web", "nerdctl/namespace": "default"}
		s.Process.Capabilities.Bounding = append(s.Process.Capabilities.Bounding, "CAP_SYS_ADMIN")
	})
	id := rt.NewID()
	rt.MustRun("run", "--detach", "--bundle", b.Dir, id)

	type summary struct {
		ID, Engine, Name, Status, Mode, Level, UserNamespace, Seccomp string
		Capabilities                                                  []string
		ReadonlyRootfs                                                bool
		Changes, Refusals, Warnings                                   int
	}
	for _, args := range [][]string{{"containers", "--format", "json"}, {"ps", "--format", "json"}} {
		var list []summary
		if err := json.Unmarshal([]byte(rt.MustRun(args...)), &list); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		if len(list) != 1 {
			t.Fatalf("%v: %d containers, want 1: %+v", args, len(list), list)
		}
		s := list[0]
		if s.ID != id || s.Engine != "nerdctl" || s.Name != "web" || s.Status != "running" || s.Mode != "enforce" || s.Level != "baseline" ||
			s.UserNamespace == "" || !s.ReadonlyRootfs || !strings.Contains(s.Seccomp, "default SCMP_ACT_ERRNO") || s.Changes == 0 || s.Warnings != 2 {
			t.Errorf("%v: %+v", args, s)
		}
		for _, c := range s.Capabilities {
			if c == "CAP_SYS_ADMIN" {
				t.Errorf("%v: capabilities %v hold CAP_SYS_ADMIN", args, s.Capabilities)
			}
		}
	}
	table := rt.MustRun("containers")
	if !strings.Contains(table, "POLICY") || !strings.Contains(table, "enforce/baseline") || !strings.Contains(table, id[:12]) {
		t.Errorf("table:\n%s", table)
	}
	var pids []int
	if err := json.Unmarshal([]byte(rt.MustRun("ps", "--format", "json", id)), &pids); err != nil || len(pids) == 0 {
		t.Errorf("ps --format json %s: %v %v, want runc's pid list", id, pids, err)
	}

	var rec struct {
		Status   string
		Event    string
		ID       string
		Changes  []struct{ Rule string }
		Warnings []struct{ Rule, Message string }
	}
	if err := json.Unmarshal([]byte(rt.MustRun("inspect", id[:8])), &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Status != "running" || rec.Event != "create" || rec.ID != id || len(rec.Changes) == 0 || len(rec.Warnings) != 2 || !strings.Contains(rec.Warnings[0].Message, "CAP_SYS_ADMIN") {
		t.Errorf("inspect: %+v", rec)
	}

	rt.MustRun("delete", "--force", id)
	if out := rt.MustRun("containers", "--all"); strings.Contains(out, id) {
		t.Errorf("deleted container still listed:\n%s", out)
	}
	gone := rt.MustRun("inspect", id)
	if lines := strings.Split(strings.TrimSpace(gone), "\n"); len(lines) != 1 || !strings.Contains(lines[0], `"event":"create"`) || !strings.Contains(lines[0], `"CAP_SYS_ADMIN`) {
		t.Errorf("inspect of a gone container: %q, want its create record from the audit log", gone)
	}
	if _, errOut, exit := rt.Run("inspect", "ht-000000000000"); exit == 0 || !strings.Contains(errOut, "does not exist") {
		t.Errorf("inspect of an unknown ID: exit %d, %q", exit, errOut)
	}
}
