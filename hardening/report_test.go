package hardening

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestReportRenderings(t *testing.T) {
	t.Parallel()
	s := dockerSpec(t)
	s.Linux.Sysctl["kernel.core_pattern"] = "|/x"
	pol := DefaultPolicy()
	pol.Mode = ModeAudit
	rep, err := Harden(s, pol, dockerFacts())
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil || len(back.Changes) != len(rep.Changes) || len(back.Refusals) != 1 {
		t.Fatalf("json round trip: %v %s", err, b)
	}
	if back.Refusals[0] != (Refusal{Rule: RuleSysctls, Reason: "sysctl kernel.core_pattern", Allow: `"allowSysctls": ["kernel.core_pattern"]`}) {
		t.Errorf("refusal %+v", back.Refusals[0])
	}
	var text bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{
		"mode audit, level baseline\n",
		`  sysctls: sysctl kernel.core_pattern (allow with "allowSysctls": ["kernel.core_pattern"])`,
		"  no-new-privileges: process.noNewPrivileges: false -> true\n",
		"note: writable-paths: /var/run skipped",
	} {
		if !strings.Contains(text.String(), w) {
			t.Errorf("text lacks %q:\n%s", w, text.String())
		}
	}
	sum := rep.Summary()
	if strings.Contains(sum, "\n") || !strings.HasPrefix(sum, "hook-paths: hooks.prestart[0].path, hooks.prestart[0].timeout; user-namespace: linux.namespaces[type=user], ") || !strings.Contains(sum, "; capabilities: process.capabilities.bounding, ") || !strings.HasSuffix(sum, ` (1 refused: sysctl kernel.core_pattern (rule sysctls, allow with "allowSysctls": ["kernel.core_pattern"]))`) {
		t.Errorf("summary %q", sum)
	}
	err = rep.Err(LevelBaseline)
	if !errors.Is(err, ErrRefused) || err.Error() != `refused by policy "baseline": sysctl kernel.core_pattern (rule sysctls, allow with "allowSysctls": ["kernel.core_pattern"])` {
		t.Errorf("err %v", err)
	}
	if (&Report{}).Summary() != "no changes" || (&Report{}).Err("x") != nil {
		t.Error("empty report")
	}
}
