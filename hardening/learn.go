package hardening

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Modes of a "learn" entry.
const (
	// LearnModeLearn records the system calls a container makes into its
	// workload's learned profile; the container runs under the normal
	// policy.
	LearnModeLearn = "learn"
	// LearnModeEnforce narrows the container's seccomp profile to the
	// intersection of the policy's and its workload's learned profile; a
	// call the policy allows but the learned profile lacks fails with EPERM
	// and is written to the audit record.
	LearnModeEnforce = "enforce"
)

// maxLearnKeyLen bounds a workload key (it names a file).
const maxLearnKeyLen = 128

// LearnWorkloadKeys returns the names a "learn" entry may match and build
// its key from besides the orchestrator-set annotations: what the runtime
// knows of the container's workload (the audit record's), from those
// annotations and, for Docker, from Docker's own state
// (containers/<id>/config.v2.json), which has no annotations: its engine,
// Kubernetes namespace, pod, container name and image.
func LearnWorkloadKeys() []string {
	return []string{"workload.engine", "workload.namespace", "workload.pod", "workload.name", "workload.image"}
}

// LearnEntry selects containers for learning or for enforcing what was
// learned (key "learn", a list; the first entry that matches a container
// decides). A container no entry matches runs under the policy alone.
type LearnEntry struct {
	// Match is the set of orchestrator-set annotations (see
	// OrchestratorAnnotations) or workload keys (LearnWorkloadKeys) that
	// must all be present; a value ending in "*" matches by prefix.
	// Empty, the entry matches every container.
	Match map[string]string `json:"match"`
	// Mode is "learn" or "enforce".
	Mode string `json:"mode"`
	// Key names the workload's profile. Exactly one of Key and KeyFrom
	// is set.
	Key string `json:"key,omitempty"`
	// KeyFrom builds the key from the values of these orchestrator-set
	// annotations or workload keys, joined by "_" (characters other than letters, digits,
	// ".", "_" and "-" become "_"). A container lacking one of them does
	// not match the entry.
	KeyFrom []string `json:"keyFrom,omitempty"`
}

// LearnChoice is what the "learn" key decides for one container.
type LearnChoice struct {
	// Entry is the index of the matching entry.
	Entry int
	// Mode is LearnModeLearn or LearnModeEnforce.
	Mode string
	// Key is the workload key (a valid file name, see ValidLearnKey).
	Key string
}

// LearnFor returns the choice of the first "learn" entry matching a
// container with the given annotations (and LearnWorkloadKeys, given as
// such); ok is false when none matches.
func (p *Policy) LearnFor(ann map[string]string) (_ LearnChoice, ok bool) {
	for i, e := range p.Learn {
		if !matchAnnotations(e.Match, ann) {
			continue
		}
		key := e.Key
		if len(e.KeyFrom) > 0 {
			parts := make([]string, 0, len(e.KeyFrom))
			for _, a := range e.KeyFrom {
				v, ok := ann[a]
				if !ok || v == "" {
					parts = nil
					break
				}
				parts = append(parts, sanitizeKey(v))
			}
			if parts == nil {
				continue
			}
			key = strings.Join(parts, "_")
			if len(key) > maxLearnKeyLen {
				key = key[:maxLearnKeyLen]
			}
			if !ValidLearnKey(key) {
				continue
			}
		}
		return LearnChoice{Entry: i, Mode: e.Mode, Key: key}, true
	}
	return LearnChoice{}, false
}

// matchAnnotations reports whether ann carries every pair of match (a
// value ending in "*" matching by prefix); an empty match matches all.
func matchAnnotations(match, ann map[string]string) bool {
	for k, want := range match {
		got, ok := ann[k]
		if !ok {
			return false
		}
		if prefix, glob := strings.CutSuffix(want, "*"); glob {
			if !strings.HasPrefix(got, prefix) {
				return false
			}
		} else if got != want {
			return false
		}
	}
	return true
}

// ValidLearnKey reports whether key can name a learned profile: 1 to 128
// letters, digits, ".", "_" and "-", not starting with "." or "-".
func ValidLearnKey(key string) bool {
	if key == "" || len(key) > maxLearnKeyLen || key[0] == '.' || key[0] == '-' {
		return false
	}
	return sanitizeKey(key) == key
}

// sanitizeKey replaces every character that may not appear in a key by
// "_", and a leading "." or "-" too.
func sanitizeKey(s string) string {
	b := []byte(s)
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok || (i == 0 && (c == '.' || c == '-')) {
			b[i] = '_'
		}
	}
	return string(b)
}

// normalizeLearn validates the "learn" entries.
func normalizeLearn(entries []LearnEntry) error {
	known := append(OrchestratorAnnotations(), LearnWorkloadKeys()...)
	for i, e := range entries {
		prefix := "learn[" + strconv.Itoa(i) + "]."
		switch e.Mode {
		case LearnModeLearn, LearnModeEnforce:
		default:
			return fmt.Errorf("key %q: %q is not learn or enforce", prefix+"mode", e.Mode)
		}
		for k, v := range e.Match {
			if !slices.Contains(known, k) {
				return fmt.Errorf("key %q: %q is not an orchestrator-set annotation or workload key (one of %s)", prefix+"match", k, strings.Join(known, ", "))
			}
			if v == "" || v == "*" {
				return fmt.Errorf("key %q: annotation %q needs a value more specific than %q (leave the annotation out to match any)", prefix+"match", k, v)
			}
		}
		if (e.Key == "") == (len(e.KeyFrom) == 0) {
			return fmt.Errorf("key %q: set exactly one of \"key\" and \"keyFrom\"", prefix+"key")
		}
		if e.Key != "" && !ValidLearnKey(e.Key) {
			return fmt.Errorf("key %q: %q is not 1 to %d letters, digits, \".\", \"_\" or \"-\" (not starting with \".\" or \"-\")", prefix+"key", e.Key, maxLearnKeyLen)
		}
		for _, a := range e.KeyFrom {
			if !slices.Contains(known, a) {
				return fmt.Errorf("key %q: %q is not an orchestrator-set annotation or workload key (one of %s)", prefix+"keyFrom", a, strings.Join(known, ", "))
			}
		}
	}
	return nil
}
