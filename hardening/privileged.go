package hardening

import (
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// RulePrivileged is the ID of the privileged rule.
const RulePrivileged = "privileged"

// privilegedAllowKey is the policy key named by the privileged refusal.
const privilegedAllowKey = `"allowPrivileged": true (best in an exception matching the pod or container)`

// IsPrivileged reports whether s is what an engine writes for a privileged
// container (`docker run --privileged`, a CRI container with
// securityContext.privileged, containerd's oci.WithPrivileged): "privileged"
// is no field of config.json but this combination, recognised by its three
// marks together: CAP_SYS_ADMIN in the bounding set, no masked paths, and
// either every device allowed in the device cgroup or /sys mounted
// read-write.
func IsPrivileged(s *specs.Spec) bool {
	if s == nil || s.Process == nil || s.Process.Capabilities == nil || s.Linux == nil {
		return false
	}
	if !slices.Contains(s.Process.Capabilities.Bounding, "CAP_SYS_ADMIN") || len(s.Linux.MaskedPaths) > 0 {
		return false
	}
	return allDevicesAllowed(s.Linux) || sysfsWritable(s.Mounts)
}

// IsPrivilegedPodSandbox reports whether s is the sandbox (pause)
// container of a privileged Kubernetes pod as containerd's CRI plugin
// writes it: annotated as a sandbox, with /sys mounted read-write (which
// containerd does only for a privileged pod; its capabilities and masked
// paths stay the defaults).
func IsPrivilegedPodSandbox(s *specs.Spec) bool {
	return s != nil && s.Annotations["io.kubernetes.cri.container-type"] == "sandbox" && sysfsWritable(s.Mounts)
}

// allDevicesAllowed reports whether the device cgroup allows every device
// for reading or writing ("a *:* rwm").
func allDevicesAllowed(l *specs.Linux) bool {
	if l.Resources == nil {
		return false
	}
	all := false
	for _, d := range l.Resources.Devices {
		if (d.Type == "" || d.Type == "a") && d.Major == nil && d.Minor == nil {
			all = d.Allow && (d.Access == "" || d.Access == "rwm")
		}
	}
	return all
}

// sysfsWritable reports whether a sysfs mount lacks "ro".
func sysfsWritable(mounts []specs.Mount) bool {
	for _, m := range mounts {
		if m.Type == "sysfs" && !slices.Contains(m.Options, "ro") {
			return true
		}
	}
	return false
}

// RefusePrivileged is the privileged rule; Check runs it before every
// other refusal and, when it refuses, runs no other: the one line it
// writes replaces the dozens (every host device, every capability) the
// other rules would name, which would not say what the caller did.
//
// Threat: a privileged container holds every capability, every host
// device, a writable /sys and no seccomp filter: it is host root by
// design, no rewrite can make it safe and still privileged.
//
// Fields (read only): the combination IsPrivileged recognises, or a CRI
// pod sandbox with a read-write /sys (IsPrivilegedPodSandbox).
//
// Relaxed by: "allowPrivileged": true, meant for an exception matching a
// pod that must be privileged (a CNI or storage driver): the container
// then runs as the caller configured it, unhardened (as in mode off), and
// its record says so. It returns whether the container is privileged and
// allowed.
func RefusePrivileged(s *specs.Spec, pol *Policy, r *Report) (allowed bool) {
	what := "privileged container"
	switch {
	case IsPrivileged(s):
	case IsPrivilegedPodSandbox(s):
		what = "privileged pod (its sandbox mounts /sys read-write)"
	default:
		return false
	}
	if pol.AllowPrivileged {
		r.note(RulePrivileged, "%s allowed by \"allowPrivileged\": it runs unhardened", what)
		return true
	}
	r.refuse(RulePrivileged, what, privilegedAllowKey)
	return false
}
