package learn

import (
	"fmt"

	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/hardening"
)

// dockerCapabilities are Docker's default capabilities, which its default
// seccomp profile is evaluated against.
func dockerCapabilities() []string {
	return []string{
		"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
		"CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
	}
}

// DockerDefault returns Docker's default seccomp profile for a container
// with Docker's default capabilities.
func DockerDefault() (*specs.LinuxSeccomp, error) {
	p, err := seccomp.GetDefaultProfile(&specs.Spec{Process: &specs.Process{
		Capabilities: &specs.LinuxCapabilities{Bounding: dockerCapabilities()},
	}})
	if err != nil {
		return nil, fmt.Errorf("docker default seccomp profile: %w", err)
	}
	return p, nil
}

// PolicyProfile returns the seccomp profile pol gives a container that
// brings none, with the capabilities of pol's level: what a learned
// profile is enforced against, and exported within.
func PolicyProfile(pol *hardening.Policy) (*specs.LinuxSeccomp, error) {
	s := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{
		Bounding: hardening.LevelCapabilities(pol.Level),
	}}}
	if err := hardening.EnforceSeccomp(s, pol, hardening.HostFacts{}, &hardening.Report{}); err != nil {
		return nil, err
	}
	return s.Linux.Seccomp, nil
}

// NativeNames returns the names of names that are system calls of this
// machine's native ABI (Docker's profile lists others, e.g. chown32).
func NativeNames(names []string) []string {
	return nativeNames(names)
}
