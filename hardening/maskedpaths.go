package hardening

import (
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// DefaultMaskedPaths returns the union of runc's and Docker's masked
// paths, fresh on each call.
func DefaultMaskedPaths() []string {
	return []string{
		"/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys",
		"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
		"/proc/sched_debug", "/proc/scsi", "/sys/firmware",
		"/sys/devices/virtual/powercap",
	}
}

// MaskPaths is the masked-paths rule.
//
// Threat: files in /proc and /sys that leak host information or kernel
// memory (/proc/kcore, /proc/keys, timer and scheduler statistics used in
// side channels, firmware tables, RAPL power counters behind the Platypus
// attack). Docker's --privileged clears the list.
//
// Fields: linux.maskedPaths gains every path of DefaultMaskedPaths it
// lacks; the caller's entries are kept.
//
// Relaxed by: nothing.
func MaskPaths(s *specs.Spec, _ *Policy, _ HostFacts, r *Report) error {
	l := ensureLinux(s)
	out := unionPaths(l.MaskedPaths, DefaultMaskedPaths())
	r.recordStrings(RuleMaskedPaths, "linux.maskedPaths", l.MaskedPaths, out)
	l.MaskedPaths = out
	return nil
}

// unionPaths returns have followed by the entries of want it lacks.
func unionPaths(have, want []string) []string {
	out := slices.Clone(have)
	for _, p := range want {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}
