package audit

import (
	"fmt"
	"strings"
	"time"

	"github.com/hardened-runtime/hardened/hardening"
)

// Events, as recorded.
const (
	// EventCreate is a container created (create, run, restore).
	EventCreate = "create"
	// EventExec is a process exec'd into a container.
	EventExec = "exec"
	// EventRefused is a container or process refused by the policy.
	EventRefused = "refused"
	// EventError is a container whose create failed for another reason
	// after the policy ran.
	EventError = "error"
	// EventSyscallDenied is a system call that the policy allows but the
	// container's learned profile lacks, denied with EPERM (one record per
	// container and system call).
	EventSyscallDenied = "syscall-denied"
	// EventPauseView is a pause or resume whose change of the engine's
	// view of the container's layer (the layer at rest while paused)
	// failed or was skipped: the record's warning says why, and what
	// the engine's path showed meanwhile.
	EventPauseView = "pause-view"
)

// Record is one line of the audit log: everything hardening decided for
// one container or process.
type Record struct {
	// Time is when the decision was made, UTC.
	Time time.Time `json:"time"`
	// Event is create, exec, refused or error.
	Event string `json:"event"`
	// ID is the container ID.
	ID string `json:"id"`
	// Root is the runtime's state root (it tells the engine and the
	// containerd namespace).
	Root string `json:"root,omitempty"`
	// Bundle is the bundle directory.
	Bundle string `json:"bundle,omitempty"`
	Workload
	// Policy is the policy file that was read ("" for the built-in one).
	Policy string `json:"policy,omitempty"`
	// Mode is the mode the rules ran in (off for an allowed privileged
	// container).
	Mode string `json:"mode"`
	// Level is the policy level.
	Level string `json:"level"`
	// Exceptions are the indexes of the policy exceptions that matched.
	Exceptions []int `json:"exceptions,omitempty"`
	// Changes lists every rewrite.
	Changes []hardening.Change `json:"changes"`
	// Refusals lists every refusal (in audit mode: what enforce would
	// refuse), each with the policy key that allows it.
	Refusals []hardening.Refusal `json:"refusals"`
	// Warnings lists what the caller asked for and did not get.
	Warnings []hardening.Note `json:"warnings,omitempty"`
	// Notes lists what rules skipped.
	Notes []hardening.Note `json:"notes,omitempty"`
	// UserNamespace is the host ID range given to the container, e.g.
	// "1879048192-1879113727".
	UserNamespace string `json:"userNamespace,omitempty"`
	// Error is the error returned to the engine, if any.
	Error string `json:"error,omitempty"`
	// Syscall is the denied system call (EventSyscallDenied).
	Syscall string `json:"syscall,omitempty"`
	// Profile is the key of the learned profile that was enforced or
	// recorded into.
	Profile string `json:"profile,omitempty"`
	// ProfileMode is "learn" or "enforce" for a container under a learned
	// profile (policy key "learn").
	ProfileMode string `json:"profileMode,omitempty"`
}

// FromReport fills the policy part of a record from a hardening report.
func (rec *Record) FromReport(r *hardening.Report) {
	if r == nil {
		return
	}
	rec.Mode, rec.Level, rec.Exceptions = r.Mode, r.Level, r.Exceptions
	rec.Changes, rec.Refusals, rec.Warnings, rec.Notes = r.Changes, r.Refusals, r.Warnings, r.Notes
}

// Summary is the record in one line, for the journal's MESSAGE.
func (rec *Record) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "hardened %s %s", rec.Event, rec.ID)
	if w := rec.Workload.String(); w != "" {
		fmt.Fprintf(&b, " (%s %s)", rec.Engine, w)
	}
	if rec.Event == EventSyscallDenied {
		fmt.Fprintf(&b, ": system call %s denied by learned profile %s", rec.Syscall, rec.Profile)
		return b.String()
	}
	fmt.Fprintf(&b, ": mode %s, level %s, %d changes, %d refusals, %d warnings", rec.Mode, rec.Level, len(rec.Changes), len(rec.Refusals), len(rec.Warnings))
	for _, f := range rec.Refusals {
		fmt.Fprintf(&b, "; %s (rule %s)", f.Reason, f.Rule)
	}
	return b.String()
}
