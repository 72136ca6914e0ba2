package shim

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
	"github.com/opencontainers/runtime-spec/specs-go/features"
	"github.com/urfave/cli/v2"

	"github.com/hardened-runtime/hardened/idmap"
)

// annotationVersion carries hardened's own version in the features output.
const annotationVersion = "io.github.hardened.version"

func featuresCommand() *cli.Command {
	return &cli.Command{
		Name:      "features",
		Usage:     "print the runtime's features as JSON",
		ArgsUsage: " ",
		Description: `The features command prints what this runtime supports, as the OCI
runtime-spec features document (features.md) that containerd and dockerd
read: spec versions, hooks, mount options, namespaces, capabilities,
cgroup drivers, seccomp, LSMs and mount extensions.

A feature is listed when the embedded libcontainer implements it; for
idmapped mounts the kernel must also provide mount_setattr(2). The
hardening policy may still refuse a configuration that uses a listed
feature.`,
		Action: func(c *cli.Context) error {
			if err := checkArgs(c, 0, 0); err != nil {
				return err
			}
			host := hostSupport{idmapMounts: idmap.KernelHasMountSetattr(), usernsDisabled: !kernelAllowsUserns()}
			return writeJSON(c.App.Writer, runtimeFeatures(c.App.Version, host), "    ")
		},
	}
}

// hostSupport is what the features document needs to know about the
// running kernel, gathered once so that runtimeFeatures stays pure.
type hostSupport struct {
	// idmapMounts is true when the kernel has mount_setattr(2), which
	// libcontainer uses for MOUNT_ATTR_IDMAP (Linux 5.12 and later).
	idmapMounts bool
	// usernsDisabled is true when the kernel cannot make user namespaces
	// (/proc/sys/user/max_user_namespaces is 0 or missing): neither the
	// user namespace nor idmapped mounts are listed then, since a
	// container using them could not start.
	usernsDisabled bool
}

// runtimeFeatures describes what a container given to this binary may use.
// Like runc, "enabled" means compiled in (the features spec's meaning), not
// that the host has it switched on: SELinux and AppArmor are listed on a
// host where neither is active. Idmapped mounts are the exception: they
// are listed only when the kernel can make them, because containerd lets
// Kubernetes pods with hostUsers: false onto a runtime that lists them.
func runtimeFeatures(version string, host hostSupport) *features.Features {
	yes, no := true, false
	idmap := &no
	if host.idmapMounts && !host.usernsDisabled {
		idmap = &yes
	}
	namespaces := specconv.KnownNamespaces()
	if host.usernsDisabled {
		namespaces = slices.DeleteFunc(namespaces, func(ns string) bool { return ns == string(specs.UserNamespace) })
	}
	f := &features.Features{
		OCIVersionMin: "1.0.0",
		OCIVersionMax: specs.Version,
		Hooks:         configs.KnownHookNames(),
		MountOptions:  specconv.KnownMountOptions(),
		Annotations: map[string]string{
			annotationVersion: version,
			// CRIU support is built in whether or not criu is installed.
			runcfeatures.AnnotationRuncCheckpointEnabled: "true",
		},
		Linux: &features.Linux{
			Namespaces:   namespaces,
			Capabilities: capabilities.KnownCapabilities(),
			Cgroup: &features.Cgroup{
				V1:          &yes,
				V2:          &yes,
				Systemd:     &yes,
				SystemdUser: &yes,
				Rdma:        &yes,
			},
			Seccomp:  seccompFeatures(),
			Apparmor: &features.Apparmor{Enabled: &yes},
			Selinux:  &features.Selinux{Enabled: &yes},
			IntelRdt: &features.IntelRdt{Enabled: &yes, Schemata: &yes, Monitoring: &yes},
			MemoryPolicy: &features.MemoryPolicy{
				Modes: specconv.KnownMemoryPolicyModes(),
				Flags: specconv.KnownMemoryPolicyFlags(),
			},
			MountExtensions: &features.MountExtensions{IDMap: &features.IDMap{Enabled: idmap}},
			NetDevices:      &features.NetDevices{Enabled: &yes},
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
func seccompFeatures() *features.Seccomp {
	enabled := seccomp.Enabled
	if !enabled {
		return &features.Seccomp{Enabled: &enabled}
	}
	return &features.Seccomp{
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
