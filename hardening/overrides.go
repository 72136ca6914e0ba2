package hardening

import (
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Overridden requests. A caller's config.json rarely says what the user
// asked for: Docker and containerd write their default capabilities, and
// no seccomp section for "unconfined", whatever the user typed. Only
// what differs from the engines' defaults is an explicit request, and
// only an explicit request the policy overrides gets a warning (on stderr
// and in the audit record): `--cap-add SYS_ADMIN` dropped, `--security-opt
// seccomp=unconfined` replaced. `no-new-privileges=false`, `--userns host`
// and `--cgroupns host` (cgroup v1) write the same config.json as the
// engines' defaults, so they show as the changes of their rules only.

// EngineDefaultCapabilities returns the capabilities Docker, containerd
// and CRI-O give a container by default; a capability beyond them in the
// bounding set was added by the user (--cap-add, securityContext).
func EngineDefaultCapabilities() []string {
	return []string{
		"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
		"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
		"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
	}
}

// warnDroppedCapabilities warns about capabilities of before beyond the
// engines' defaults that after lacks.
func warnDroppedCapabilities(before, after []string, r *Report) {
	var dropped []string
	defaults := EngineDefaultCapabilities()
	for _, c := range before {
		if !slices.Contains(defaults, c) && !slices.Contains(after, c) && !slices.Contains(dropped, c) {
			dropped = append(dropped, c)
		}
	}
	if len(dropped) == 0 {
		return
	}
	quoted := make([]string, len(dropped))
	for i, c := range dropped {
		quoted[i] = `"` + c + `"`
	}
	r.warn(RuleCapabilities, "requested %s dropped: beyond level %s (allow with \"allowCapabilities\": [%s])",
		strings.Join(dropped, ", "), r.Level, strings.Join(quoted, ", "))
}

// warnUnconfinedSeccomp warns that the caller's profile, off and
// denying nothing ("unconfined", or a default of allow or log without
// denying rules), is replaced.
func warnUnconfinedSeccomp(before *specs.LinuxSeccomp, r *Report) {
	what := "no profile"
	if before != nil {
		what = "default action " + string(before.DefaultAction)
	}
	r.warn(RuleSeccomp, "seccomp unconfined requested (%s): Docker's default profile and the deny-list apply (no policy key runs without a profile)", what)
}
