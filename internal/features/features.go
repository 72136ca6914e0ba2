// Package features builds the OCI runtime-spec features document
// ("hardened features", features.md) that containerd and dockerd read:
// what the embedded libcontainer implements, with idmapped mounts and the
// user namespace listed only when the kernel can make them.
package features

import (
	"fmt"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"

	"github.com/opencontainers/runc/libcontainer/capabilities"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/seccomp"
	"github.com/opencontainers/runc/libcontainer/specconv"
	runcfeatures "github.com/opencontainers/runc/types/features"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	specfeatures "github.com/opencontainers/runtime-spec/specs-go/features"

	"github.com/hardened-runtime/hardened/idmap"
)

// AnnotationVersion carries hardened's own version in the features output.
const AnnotationVersion = "io.github.hardened.version"

// Host is what the features document needs to know about the
// running kernel, gathered once (GatherHost) so that Runtime stays pure.
type Host struct {
	// IDMapMounts is true when the kernel has mount_setattr(2), which
	// libcontainer uses for MOUNT_ATTR_IDMAP (Linux 5.12 and later).
	IDMapMounts bool
	// UsernsDisabled is true when the kernel cannot make user namespaces
	// (/proc/sys/user/max_user_namespaces is 0 or missing): neither the
	// user namespace nor idmapped mounts are listed then, since a
	// container using them could not start.
	UsernsDisabled bool
}

// Runtime describes what a container given to this binary may use.
// Like runc, "enabled" means compiled in (the features spec's meaning), not
// that the host has it switched on: SELinux and AppArmor are listed on a
// host where neither is active. Idmapped mounts are the exception: they
// are listed only when the kernel can make them, because containerd lets
// Kubernetes pods with hostUsers: false onto a runtime that lists them.
func Runtime(version string, host Host) *specfeatures.Features {
	yes, no := true, false
	idmap := &no
	if host.IDMapMounts && !host.UsernsDisabled {
		idmap = &yes
	}
	namespaces := specconv.KnownNamespaces()
	if host.UsernsDisabled {
		namespaces = slices.DeleteFunc(namespaces, func(ns string) bool { return ns == string(specs.UserNamespace) })
	}
	f := &specfeatures.Features{
		OCIVersionMin: "1.0.0",
		OCIVersionMax: specs.Version,
		Hooks:         configs.KnownHookNames(),
		MountOptions:  specconv.KnownMountOptions(),
		Annotations: map[string]string{
			AnnotationVersion: version,
			// CRIU support is built in whether or not criu is installed.
			runcfeatures.AnnotationRuncCheckpointEnabled: "true",
		},
		Linux: &specfeatures.Linux{
			Namespaces:   namespaces,
			Capabilities: capabilities.KnownCapabilities(),
			Cgroup: &specfeatures.Cgroup{
				V1:          &yes,
				V2:          &yes,
				Systemd:     &yes,
				SystemdUser: &yes,
				Rdma:        &yes,
			},
			Seccomp:  seccompFeatures(),
			Apparmor: &specfeatures.Apparmor{Enabled: &yes},
			Selinux:  &specfeatures.Selinux{Enabled: &yes},
			IntelRdt: &specfeatures.IntelRdt{Enabled: &yes, Schemata: &yes, Monitoring: &yes},
			MemoryPolicy: &specfeatures.MemoryPolicy{
				Modes: specconv.KnownMemoryPolicyModes(),
				Flags: specconv.KnownMemoryPolicyFlags(),
			},
			MountExtensions: &specfeatures.MountExtensions{IDMap: &specfeatures.IDMap{Enabled: idmap}},
			NetDevices:      &specfeatures.NetDevices{Enabled: &yes},
		},
		// Annotations that libcontainer itself acts on, so a caller that
		// lets users set annotations must filter these.
		PotentiallyUnsafeConfigAnnotations: []string{
			"bundle",
			"org.systemd.property.",
			"org.criu.config",
		},
	}
	if v := libcontainerVersion(); v != "" {
		// The runc release whose behaviour ours matches: the one embedded.
		f.Annotations[runcfeatures.AnnotationRuncVersion] = v
	}
	if seccomp.Enabled {
		major, minor, patch := seccomp.Version()
		f.Annotations[runcfeatures.AnnotationLibseccompVersion] = fmt.Sprintf("%d.%d.%d", major, minor, patch)
	}
	return f
}

// seccompFeatures lists seccomp support, or says it is absent when the
// binary was built without the seccomp tag (no libseccomp).
func seccompFeatures() *specfeatures.Seccomp {
	enabled := seccomp.Enabled
	if !enabled {
		return &specfeatures.Seccomp{Enabled: &enabled}
	}
	return &specfeatures.Seccomp{
		Enabled:        &enabled,
		Actions:        seccomp.KnownActions(),
		Operators:      seccomp.KnownOperators(),
		Archs:          seccomp.KnownArchs(),
		KnownFlags:     seccomp.KnownFlags(),
		SupportedFlags: seccomp.SupportedFlags(),
	}
}

// libcontainerVersion returns the version of the embedded runc module,
// e.g. "1.5.2", or "" if the binary carries no module information.
func libcontainerVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, m := range info.Deps {
		if m.Path != "github.com/opencontainers/runc" {
			continue
		}
		if m.Replace != nil {
			m = m.Replace
		}
		if len(m.Version) > 1 && m.Version[0] == 'v' {
			return m.Version[1:]
		}
		return m.Version
	}
	return ""
}

// GatherHost probes the running kernel.
func GatherHost() Host {
	return Host{IDMapMounts: idmap.KernelHasMountSetattr(), UsernsDisabled: !kernelAllowsUserns()}
}

// kernelAllowsUserns reports whether the kernel lets processes create
// user namespaces.
func kernelAllowsUserns() bool {
	data, err := os.ReadFile("/proc/sys/user/max_user_namespaces")
	if err != nil {
		return false
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(data)))
	return err == nil && n > 0
}
