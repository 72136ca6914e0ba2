package testutil

import "path/filepath"

// CRIMetadata is a pod's or container's metadata.
type CRIMetadata struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
	UID       string `json:"uid,omitempty"`
	Attempt   int    `json:"attempt"`
}

// CRI namespace modes (runtime.v1.NamespaceMode).
const (
	CRINamespacePod       = 0
	CRINamespaceContainer = 1
	CRINamespaceNode      = 2
)

// CRIIDMapping is one line of a pod's uid or gid map.
type CRIIDMapping struct {
	HostID      uint32 `json:"host_id"`
	ContainerID uint32 `json:"container_id"`
	Length      uint32 `json:"length"`
}

// CRIUserNamespace is userns_options: mode POD with mappings is what the
// kubelet sends for `hostUsers: false`.
type CRIUserNamespace struct {
	Mode int            `json:"mode"`
	UIDs []CRIIDMapping `json:"uids,omitempty"`
	GIDs []CRIIDMapping `json:"gids,omitempty"`
}

// CRINamespaceOptions is namespace_options; every mode is written (0 is
// POD, the default of network and ipc; pid's default is CONTAINER).
type CRINamespaceOptions struct {
	Network       int               `json:"network"`
	PID           int               `json:"pid"`
	IPC           int               `json:"ipc"`
	UsernsOptions *CRIUserNamespace `json:"userns_options,omitempty"`
}

// CRIInt64 is an Int64Value.
type CRIInt64 struct {
	Value int64 `json:"value"`
}

// CRIPodSecurity is a pod's linux.security_context.
type CRIPodSecurity struct {
	NamespaceOptions *CRINamespaceOptions `json:"namespace_options,omitempty"`
	RunAsUser        *CRIInt64            `json:"run_as_user,omitempty"`
	RunAsGroup       *CRIInt64            `json:"run_as_group,omitempty"`
	ReadonlyRootfs   bool                 `json:"readonly_rootfs,omitempty"`
	Privileged       bool                 `json:"privileged,omitempty"`
}

// CRIPodLinux is a pod's linux section.
type CRIPodLinux struct {
	CgroupParent    string          `json:"cgroup_parent,omitempty"`
	SecurityContext *CRIPodSecurity `json:"security_context,omitempty"`
}

// CRIPod is a PodSandboxConfig as crictl reads it.
type CRIPod struct {
	Metadata     CRIMetadata       `json:"metadata"`
	Hostname     string            `json:"hostname,omitempty"`
	LogDirectory string            `json:"log_directory,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	Linux        CRIPodLinux       `json:"linux"`
}

// CRICapabilities is a container's capabilities section.
type CRICapabilities struct {
	AddCapabilities  []string `json:"add_capabilities,omitempty"`
	DropCapabilities []string `json:"drop_capabilities,omitempty"`
}

// CRISecurityProfile is a seccomp or AppArmor profile: type 0 is
// RuntimeDefault, 1 Unconfined, 2 Localhost.
type CRISecurityProfile struct {
	ProfileType int `json:"profile_type"`
}

// CRIContainerSecurity is a container's linux.security_context.
type CRIContainerSecurity struct {
	Capabilities     *CRICapabilities     `json:"capabilities,omitempty"`
	Privileged       bool                 `json:"privileged,omitempty"`
	NamespaceOptions *CRINamespaceOptions `json:"namespace_options,omitempty"`
	RunAsUser        *CRIInt64            `json:"run_as_user,omitempty"`
	RunAsGroup       *CRIInt64            `json:"run_as_group,omitempty"`
	ReadonlyRootfs   bool                 `json:"readonly_rootfs,omitempty"`
	NoNewPrivs       bool                 `json:"no_new_privs,omitempty"`
	Seccomp          *CRISecurityProfile  `json:"seccomp,omitempty"`
}

// CRIContainer is a ContainerConfig as crictl reads it.
type CRIContainer struct {
	Metadata CRIMetadata `json:"metadata"`
	Image    struct {
		Image string `json:"image"`
	} `json:"image"`
	Command []string `json:"command,omitempty"`
	Args    []string `json:"args,omitempty"`
	LogPath string   `json:"log_path,omitempty"`
	Linux   struct {
		SecurityContext *CRIContainerSecurity `json:"security_context,omitempty"`
	} `json:"linux"`
	Mounts []CRIMount `json:"mounts,omitempty"`
}

// CRIMount is a volume mount of a ContainerConfig; the kubelet gives
// the volumes of a hostUsers: false pod the pod's mappings.
type CRIMount struct {
	ContainerPath string         `json:"container_path"`
	HostPath      string         `json:"host_path"`
	Readonly      bool           `json:"readonly,omitempty"`
	UIDMappings   []CRIIDMapping `json:"uidMappings,omitempty"`
	GIDMappings   []CRIIDMapping `json:"gidMappings,omitempty"`
}

// NewPod returns a pod config named name with a fresh UID, its log
// directory under Dir and its cgroup under CgroupParent.
func (c *CRI) NewPod(name string) CRIPod {
	uid := randomHex(8)
	return CRIPod{
		Metadata:     CRIMetadata{Name: name, Namespace: "hardened-test", UID: uid},
		Hostname:     name,
		LogDirectory: filepath.Join(c.Dir, "logs", name+"-"+uid),
		Linux:        CRIPodLinux{CgroupParent: c.CgroupParent},
	}
}

// NewContainer returns a busybox container config named name running
// command, logging to <name>.log in the pod's log directory.
func NewContainer(name string, command ...string) CRIContainer {
	ctr := CRIContainer{Metadata: CRIMetadata{Name: name}, Command: command, LogPath: name + ".log"}
	ctr.Image.Image = CRIBusyboxImage
	return ctr
}
