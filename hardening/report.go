package hardening

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Change is one rewrite of the configuration.
type Change struct {
	// Rule is the ID of the rule that made the change.
	Rule string `json:"rule"`
	// Path is the JSON field path in config.json, e.g.
	// "process.capabilities.bounding".
	Path string `json:"path"`
	// Before is the field's JSON value before the change (null if absent).
	Before json.RawMessage `json:"before"`
	// After is the field's JSON value after the change.
	After json.RawMessage `json:"after"`
}

// Refusal is one reason the configuration cannot run.
type Refusal struct {
	// Rule is the ID of the refusing rule.
	Rule string `json:"rule"`
	// Reason says what was refused, in lower case, e.g. "host network
	// namespace".
	Reason string `json:"reason"`
	// Allow names the policy key, with a value, that would allow it, e.g.
	// `"allowHostNamespaces": ["network"]`; empty when no key can (the
	// configuration itself must change).
	Allow string `json:"allow"`
}

// Note is something a rule skipped or could not decide, without being a
// change or a refusal.
type Note struct {
	// Rule is the ID of the rule.
	Rule string `json:"rule"`
	// Message says what was skipped and why.
	Message string `json:"message"`
}

// Report lists what hardening changed, refused and skipped. It is the
// record behind the per-container log line (Summary), `explain` (WriteText,
// or JSON encoding) and the audit record.
type Report struct {
	// Mode is the mode the rules ran in.
	Mode string `json:"mode"`
	// Level is the policy level.
	Level string `json:"level"`
	// Exceptions are the indexes of the policy exceptions that matched the
	// container's annotations.
	Exceptions []int `json:"exceptions,omitempty"`
	// Changes lists every rewrite, in rule order.
	Changes []Change `json:"changes"`
	// Refusals lists every refusal, in rule order.
	Refusals []Refusal `json:"refusals"`
	// Notes lists what rules skipped.
	Notes []Note `json:"notes,omitempty"`
	// Warnings lists what the caller asked for and does not get: a
	// request the policy overrides (a capability added beyond the
	// engine's defaults, seccomp unconfined, the host's cgroup namespace).
	// The runtime prints them on stderr and keeps them in the record.
	Warnings []Note `json:"warnings,omitempty"`
}

// Refused reports whether any rule refused the configuration.
func (r *Report) Refused() bool { return r != nil && len(r.Refusals) > 0 }

// Summary returns one line listing the changes, grouped by rule, for a log
// line, e.g. "capabilities: process.capabilities.bounding,
// process.capabilities.effective; seccomp: linux.seccomp".
func (r *Report) Summary() string {
	if r == nil || (len(r.Changes) == 0 && len(r.Refusals) == 0) {
		return "no changes"
	}
	var parts []string
	var rules []string
	byRule := map[string][]string{}
	for _, c := range r.Changes {
		if _, ok := byRule[c.Rule]; !ok {
			rules = append(rules, c.Rule)
		}
		byRule[c.Rule] = append(byRule[c.Rule], c.Path)
	}
	for _, id := range rules {
		parts = append(parts, id+": "+strings.Join(byRule[id], ", "))
	}
	if len(parts) == 0 {
		parts = append(parts, "no changes")
	}
	out := strings.Join(parts, "; ")
	if r.Refused() {
		out += fmt.Sprintf(" (%d refused: %s)", len(r.Refusals), r.refusalText())
	}
	return out
}

// refusalText names every refusal as Err does, joined by "; ".
func (r *Report) refusalText() string {
	items := make([]string, 0, len(r.Refusals))
	for _, f := range r.Refusals {
		items = append(items, fmt.Sprintf("%s (rule %s, %s)", f.Reason, f.Rule, f.allowText()))
	}
	return strings.Join(items, "; ")
}

// Err returns the refusal error for level: it wraps ErrRefused and names
// every refusal in one lower-case line. It is nil when nothing was refused.
func (r *Report) Err(level string) error {
	if !r.Refused() {
		return nil
	}
	return fmt.Errorf("%w %q: %s", ErrRefused, level, r.refusalText())
}

// WriteText writes a readable rendering of the report, one item a line.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "mode %s, level %s\n", r.Mode, r.Level)
	if len(r.Exceptions) > 0 {
		fmt.Fprintf(&b, "policy exceptions applied: %v\n", r.Exceptions)
	}
	if len(r.Refusals) == 0 {
		b.WriteString("refused: nothing\n")
	} else {
		b.WriteString("refused:\n")
		for _, f := range r.Refusals {
			fmt.Fprintf(&b, "  %s: %s (%s)\n", f.Rule, f.Reason, f.allowText())
		}
	}
	if len(r.Changes) == 0 {
		b.WriteString("changed: nothing\n")
	} else {
		b.WriteString("changed:\n")
		for _, c := range r.Changes {
			fmt.Fprintf(&b, "  %s: %s: %s -> %s\n", c.Rule, c.Path, c.Before, c.After)
		}
	}
	for _, n := range r.Warnings {
		fmt.Fprintf(&b, "warning: %s: %s\n", n.Rule, n.Message)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s: %s\n", n.Rule, n.Message)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// allowText says how to allow f: "allow with <key>", or that no key can.
func (f Refusal) allowText() string {
	if f.Allow == "" {
		return "no policy key allows it"
	}
	return "allow with " + f.Allow
}

// refuse records a refusal.
func (r *Report) refuse(rule, reason, allow string) {
	r.Refusals = append(r.Refusals, Refusal{Rule: rule, Reason: reason, Allow: allow})
}

// note records a skipped item.
func (r *Report) note(rule, format string, args ...any) {
	r.Notes = append(r.Notes, Note{Rule: rule, Message: fmt.Sprintf(format, args...)})
}

// warn records an overridden request.
func (r *Report) warn(rule, format string, args ...any) {
	r.Warnings = append(r.Warnings, Note{Rule: rule, Message: fmt.Sprintf(format, args...)})
}

// record adds a change when before and after differ in their JSON form.
func (r *Report) record(rule, path string, before, after any) {
	b, a := jsonValue(before), jsonValue(after)
	if string(b) == string(a) {
		return
	}
	r.Changes = append(r.Changes, Change{Rule: rule, Path: path, Before: b, After: a})
}

// add records a change the caller knows happened, even when the shown
// before and after values (summaries) look alike.
func (r *Report) add(rule, path string, before, after any) {
	r.Changes = append(r.Changes, Change{Rule: rule, Path: path, Before: jsonValue(before), After: jsonValue(after)})
}

// recordStrings adds a change when two string lists differ; nil and empty
// are the same (both are written as omitted in config.json).
func (r *Report) recordStrings(rule, path string, before, after []string) {
	if slices.Equal(before, after) {
		return
	}
	if before == nil {
		before = []string{}
	}
	if after == nil {
		after = []string{}
	}
	r.record(rule, path, before, after)
}

func jsonValue(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage(fmt.Sprintf("%q", fmt.Sprint(v)))
	}
	return b
}
