package hardening

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/idmap"
	"github.com/hardened-runtime/hardened/spec"
)

// Modes of a policy.
const (
	// ModeEnforce rewrites the configuration and refuses what cannot be
	// made safe.
	ModeEnforce = "enforce"
	// ModeAudit changes nothing and reports what enforce would do.
	ModeAudit = "audit"
	// ModeOff is plain runc behaviour, for comparison and emergencies.
	ModeOff = "off"
)

// Levels of a policy, named after Kubernetes Pod Security levels.
const (
	// LevelBaseline keeps what ordinary images need.
	LevelBaseline = "baseline"
	// LevelRestricted keeps NET_BIND_SERVICE as the only capability.
	LevelRestricted = "restricted"
)

// Policy is the host's hardening policy, decoded from DefaultPolicyPath.
// A file may set only some keys; the others keep the values of
// DefaultPolicy. Every key is documented on its field.
type Policy struct {
	// Mode is enforce (default), audit or off.
	Mode string `json:"mode"`
	// Level is baseline (default) or restricted; it picks the capability
	// allow-list (see LevelCapabilities).
	Level string `json:"level"`
	// Allowances are the allow-lists (allowCapabilities, allowHostMounts,
	// ...), at the top level of the file like every key; an exception
	// widens them for the containers it matches.
	Allowances
	// DenySyscalls are denied with EPERM on top of any seccomp profile; no
	// rule of the caller's profile can allow them. clone and clone3 are
	// handled specially: clone stays allowed without namespace flags, clone3
	// fails with ENOSYS so that libc falls back to clone.
	DenySyscalls []string `json:"denySyscalls"`
	// Allow32Bit, when true, keeps the non-native syscall ABIs of the
	// architecture (x86 and x32 on amd64) in the seccomp profile, for
	// images with 32-bit programs. Off (default), the profile covers the
	// native ABI only and a syscall made through another ABI fails with
	// ENOSYS.
	Allow32Bit bool `json:"allow32bit"`
	// ReadonlyRootfs makes root.readonly true.
	ReadonlyRootfs bool `json:"readonlyRootfs"`
	// WritablePaths are the state directories that stay writable (noexec,
	// nosuid, nodev) on a read-only rootfs.
	WritablePaths []string `json:"writablePaths"`
	// PidsLimit is the most linux.resources.pids.limit may be, at create
	// and at update: a caller's lower limit is kept, a higher one, none or
	// "unlimited" (0, -1) becomes PidsLimit; 0 disables the rule.
	PidsLimit int64 `json:"pidsLimit"`
	// MaxConfigSize is the largest config.json, in bytes, the runtime
	// reads (also exec's --process and update's --resources); a larger one
	// is refused before it is read. Default 4 MiB (spec.DefaultMaxConfigSize).
	MaxConfigSize int64 `json:"maxConfigSize"`
	// MinOOMScoreAdj is the lowest process.oomScoreAdj a container gets:
	// a lower value (a process the OOM killer spares while it kills host
	// daemons) is raised to it. Default 0; -1000 to 1000.
	MinOOMScoreAdj int `json:"minOomScoreAdj"`
	// AllowRootfs lists host paths (as resolved, matched exactly) that may
	// be a container's rootfs although the host-rootfs rule refuses them
	// (a host system directory, or one holding a sensitive path). "/" is
	// never allowed; exceptions cannot add to this list.
	AllowRootfs []string `json:"allowRootfs"`
	// AllowSeccompListeners lists the host UNIX socket paths (absolute,
	// matched exactly) a container's linux.seccomp.listenerPath may name:
	// the host's own seccomp agents. Exceptions cannot add to this list.
	AllowSeccompListeners []string `json:"allowSeccompListeners"`
	// EngineRoots names, by engine kind (EngineKinds: docker,
	// containerd, containerdState, kubelet, containersStorage), the
	// engines' state directories beyond their defaults (dockerd
	// --data-root, kubelet --root-dir...). Each is sensitive like the
	// default (a bind of it, below it or of an ancestor is refused, and so
	// is a rootfs below it that is not an overlay mount), and what the
	// rules allow below the default they allow below it: the engine's
	// per-container files and volumes, a kubelet pod's own directories to
	// that pod, "idmapMountSources" entries. Adds to what the runtime
	// finds in the engines' configuration (HostFacts.EngineRoots) and to
	// the distributions' well-known roots; exceptions cannot change it.
	EngineRoots map[string][]string `json:"engineRoots"`
	// Exceptions widen the allow-lists for containers whose
	// orchestrator-set annotations match.
	Exceptions []Exception `json:"exceptions"`
	// UserNamespace gives containers a user namespace of their own; see
	// UserNamespacePolicy and the user-namespace rule.
	UserNamespace UserNamespacePolicy `json:"userNamespace"`
	// AuditLog configures the audit record; see AuditLogPolicy.
	AuditLog AuditLogPolicy `json:"auditLog"`
	// Learn picks the containers whose system calls are learned into a
	// workload profile, or held to what was learned; see LearnEntry.
	Learn []LearnEntry `json:"learn,omitempty"`
	// Replace names the list keys whose value in the file replaces the
	// built-in default instead of adding to it (see ReplaceableKeys).
	Replace []string `json:"replace,omitempty"`
}

// UserNamespacePolicy configures the user-namespace rule (key
// "userNamespace"). Keys absent from the file keep their defaults.
type UserNamespacePolicy struct {
	// Enabled runs every container in a user namespace: a new one with
	// its own range of host IDs, or the one of the pod or container whose
	// namespaces it joins.
	Enabled bool `json:"enabled"`
	// SubIDUser names the user whose /etc/subuid and /etc/subgid entries
	// (the IDs present in both) form the pool when Pool is not set, as
	// Podman and the kubelet do. Default "hardened"; a user without
	// entries gives the built-in pool (idmap.BuiltinPool:
	// 1879048192-2147352575, 4094 ranges of 65536).
	SubIDUser string `json:"subidUser"`
	// Pool is the host ID range to allocate from, {"start": N, "size": N};
	// it must not contain 0. Set, it wins over SubIDUser.
	Pool *idmap.Range `json:"pool,omitempty"`
	// RangeSize is the number of IDs each container gets (container IDs
	// 0..RangeSize-1), the same for uids and gids: a multiple of 65536,
	// default 65536.
	RangeSize uint32 `json:"rangeSize"`
	// IDMapBindMounts makes bind mounts of host paths (volumes, host
	// directories, Docker's /etc/hosts, resolv.conf, hostname) idmapped
	// with the container's mapping, so host files keep their owners as
	// seen inside. Off by default, because through such a mount container
	// root acts as host root on that directory; when on, the mounts also
	// get nosuid,nodev. Off: files container root creates there are owned
	// by its mapped host ID, and host-owned files show as nobody (65534);
	// Docker's named volumes are idmapped either way, and Docker's
	// per-container files are chowned to the mapped root instead.
	IDMapBindMounts bool `json:"idmapBindMounts"`
	// CallerSubIDUsers name the users whose /etc/subuid and /etc/subgid
	// ranges a caller's own mapping may use (Podman's --userns=auto and
	// --uidmap take theirs from "containers"): a container whose config
	// creates its user namespace with mappings that lie wholly in those
	// ranges, map no host ID 0 and overlap no other live container's
	// range keeps them, its rootfs as the caller prepared it, and the
	// ranges are recorded in the host registry. Any other caller mapping
	// is replaced by an allocated range. Default ["containers"].
	CallerSubIDUsers []string `json:"callerSubidUsers"`
	// RemapSubIDUsers name the users an engine remaps all its containers
	// to (dockerd --userns-remap=<user>; "default" is user "dockremap"):
	// a container whose config creates its user namespace with mappings
	// that lie wholly in the IDs /etc/subuid and /etc/subgid both give one
	// of them, and map no host ID 0, keeps them and its rootfs as the
	// engine prepared it (no overlay rebuild), and shares those IDs with
	// every other container mapped into the same user's IDs: they are the
	// engine's single range. They are recorded in the host registry and
	// kept out of the pool, so no other container is given them; a
	// container of another range overlapping them is refused. The engine's
	// containers are then isolated from each other only as well as one
	// range allows (what dockerd's remapping gives under runc), in return
	// for the engine's exact view of their files (docker diff, cp and
	// export of a running container). Default none.
	RemapSubIDUsers []string `json:"remapSubidUsers,omitempty"`
}

// Exception grants Allow to containers whose annotations carry every
// key/value pair of Match. Match keys must be annotations that an
// orchestrator sets (see OrchestratorAnnotations); a value ending in "*"
// matches by prefix.
type Exception struct {
	// Match is the set of annotations that must all be present.
	Match map[string]string `json:"match"`
	// Allow is added to the policy's allow-lists for a matching container.
	Allow Allowances `json:"allow"`
}

// Allowances are the policy keys that widen what a container may do: the
// allow-lists of Policy, and all that an exception may add to them
// (Exception.Allow). Every key is documented on its field.
type Allowances struct {
	// AllowCapabilities adds capabilities to the level's allow-list
	// ("NET_RAW" or "CAP_NET_RAW"). Capabilities are still only kept when
	// the caller asked for them.
	AllowCapabilities []string `json:"allowCapabilities,omitempty"`
	// AllowNewPrivileges, when true, leaves process.noNewPrivileges as the
	// caller set it (for images that need setuid binaries such as sudo).
	AllowNewPrivileges bool `json:"allowNewPrivileges,omitempty"`
	// AllowHostNamespaces lists the host namespaces a container may share:
	// pid, network, ipc, uts, cgroup, mount.
	AllowHostNamespaces []string `json:"allowHostNamespaces,omitempty"`
	// AllowUnrelatedJoins lists the namespace types (pid, network, ipc,
	// uts, mount, cgroup, user, time) a container may join by path
	// although the namespace is no related container's of the same runtime
	// root: another engine's container, a host process's namespace (see
	// the namespace-joins rule).
	AllowUnrelatedJoins []string `json:"allowUnrelatedJoins,omitempty"`
	// AllowSharedCgroups, when true, lets a container be created in a
	// cgroup (linux.cgroupsPath) that already holds processes, which it
	// then limits, freezes on pause and kills on delete --force.
	AllowSharedCgroups bool `json:"allowSharedCgroups,omitempty"`
	// AllowPrivileged, when true, lets a privileged container (see
	// IsPrivileged) run as the caller configured it, unhardened; without
	// it such a container is refused in one line. Meant for an exception.
	AllowPrivileged bool `json:"allowPrivileged,omitempty"`
	// AllowHostMounts lists host paths (and everything under them) that may
	// be bind-mounted although they are sensitive.
	AllowHostMounts []string `json:"allowHostMounts,omitempty"`
	// AllowDevices lists devices beyond the standard set, as "c 10:229"
	// (type, major, minor; minor may be "*"), allowed both as device nodes
	// and in the device cgroup.
	AllowDevices []string `json:"allowDevices,omitempty"`
	// AllowSysctls lists sysctls beyond the namespaced safe set, by name or
	// as a prefix ending in ".*".
	AllowSysctls []string `json:"allowSysctls,omitempty"`
	// AllowedHooks lists the OCI hooks that may run (they run on the host
	// as root): a binary, by absolute path, and the argument shape it may
	// take (see HookAllowance). A hook matches by its path or by the
	// binary the path resolves to on the host.
	AllowedHooks []HookAllowance `json:"allowedHooks,omitempty"`
	// IDMapMountSources lists host directories below which a bind mount
	// may be idmapped by the caller, with exactly the container's own
	// user-namespace mapping (an engine's user-namespace support: a
	// Kubernetes hostUsers: false pod's volumes). A source is accepted
	// when it lies strictly below an entry. An entry may hold path.Match
	// wildcards (not in its first component), matched against as many
	// leading components of the source.
	IDMapMountSources []string `json:"idmapMountSources,omitempty"`
	// AllowNetDevices lists host network interfaces (names, matched
	// exactly) that linux.netDevices may move into a container.
	AllowNetDevices []string `json:"allowNetDevices,omitempty"`
	// AllowRuntimeAnnotations lists the annotations libcontainer acts on
	// as host root ("org.criu.config", "org.systemd.property.<Name>",
	// matched exactly) that a container may carry.
	AllowRuntimeAnnotations []string `json:"allowRuntimeAnnotations,omitempty"`
	// AllowRdtClasses lists the resctrl groups (linux.intelRdt.closID,
	// matched exactly) a container may join and set the schemata of.
	AllowRdtClasses []string `json:"allowRdtClasses,omitempty"`
}

// OrchestratorAnnotations returns the annotation keys that exceptions may
// match on: those containerd's CRI plugin, CRI-O and nerdctl set from the
// pod or container they create. Note that `docker run --annotation` (Docker
// 24 and later) and a hand-written config.json can set any annotation: use
// exceptions only where callers cannot reach the runtime but through an
// orchestrator that sets these keys itself.
func OrchestratorAnnotations() []string {
	return []string{
		"io.kubernetes.cri.sandbox-namespace",
		"io.kubernetes.cri.sandbox-name",
		"io.kubernetes.cri.container-name",
		"io.kubernetes.cri.container-type",
		"io.kubernetes.cri.image-name",
		"io.kubernetes.pod.namespace",
		"io.kubernetes.pod.name",
		"io.kubernetes.container.name",
		"nerdctl/name",
		"nerdctl/namespace",
	}
}

// DefaultWritablePaths returns the state directories kept writable on a
// read-only rootfs by default.
func DefaultWritablePaths() []string {
	return []string{"/tmp", "/var/tmp", "/run", "/var/run", "/var/cache", "/var/log", "/var/lib", "/home"}
}

// DefaultDenySyscalls returns the syscalls denied on top of any seccomp
// profile by default: kernel attack surface that ordinary workloads do not
// use (io_uring, userfaultfd, bpf, perf), the kernel keyring, kexec,
// open_by_handle_at (the "shocker" escape) and namespace creation or entry.
func DefaultDenySyscalls() []string {
	return []string{
		"io_uring_setup", "io_uring_enter", "io_uring_register",
		"userfaultfd", "bpf", "perf_event_open",
		"keyctl", "add_key", "request_key",
		"kexec_load", "kexec_file_load",
		"open_by_handle_at",
		"unshare", "setns",
		"clone", "clone3",
	}
}

// DefaultPolicy returns the built-in policy, the secure one: enforce,
// baseline, read-only rootfs with the default writable paths, a pids limit
// of 4096, config.json up to 4 MiB, no negative oomScoreAdj, the default
// syscall deny-list, the Docker daemon as the only allowed hook binary,
// with the arguments of its libnetwork-setkey prestart hook only (it sets
// up networking), the engines' volume and pod directories as the sources
// callers may idmap (DefaultIDMapMountSources), and no other allowance.
// Each call returns a fresh value.
func DefaultPolicy() *Policy {
	return &Policy{
		Mode:           ModeEnforce,
		Level:          LevelBaseline,
		DenySyscalls:   DefaultDenySyscalls(),
		ReadonlyRootfs: true,
		WritablePaths:  DefaultWritablePaths(),
		PidsLimit:      4096,
		MaxConfigSize:  spec.DefaultMaxConfigSize,
		Allowances: Allowances{
			AllowedHooks:      DefaultAllowedHooks(),
			IDMapMountSources: DefaultIDMapMountSources(),
		},
		EngineRoots:   map[string][]string{},
		UserNamespace: DefaultUserNamespacePolicy(),
		AuditLog:      DefaultAuditLogPolicy(),
	}
}

// DefaultIDMapMountSources returns the default of "idmapMountSources":
// where the kubelet keeps a pod's volumes, containerd's CRI plugin its
// per-sandbox and per-container files, and Docker its named volumes.
func DefaultIDMapMountSources() []string {
	return []string{
		"/var/lib/kubelet/pods",
		"/var/lib/containerd/io.containerd.grpc.v1.cri",
		"/run/containerd/io.containerd.grpc.v1.cri",
		"/var/lib/docker/volumes",
	}
}

// DefaultUserNamespacePolicy returns the default of the "userNamespace"
// key: on (directory and overlay rootfs alike, see README), pool from the
// subordinate IDs of user "hardened" or the built-in pool, 65536 IDs per
// container, host bind mounts not idmapped (Docker's named volumes are).
func DefaultUserNamespacePolicy() UserNamespacePolicy {
	return UserNamespacePolicy{
		Enabled:          true,
		SubIDUser:        "hardened",
		CallerSubIDUsers: []string{"containers"},
		RangeSize:        idmap.DefaultRangeSize,
	}
}

// LoadPolicy reads the policy at path. An empty path, or a missing file at
// DefaultPolicyPath, yields DefaultPolicy. Keys absent from the file keep
// their defaults. Unknown keys, trailing data and bad values are errors
// wrapping ErrInvalidPolicy that name the file and the key.
func LoadPolicy(path string) (*Policy, error) {
	if path == "" {
		return DefaultPolicy(), nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) && filepath.Clean(path) == DefaultPolicyPath {
			return DefaultPolicy(), nil
		}
		return nil, fmt.Errorf("policy %s: %w: %w", path, ErrInvalidPolicy, err)
	}
	return ParsePolicy(path, data)
}

// ParsePolicy decodes and validates policy JSON; name is used in errors.
func ParsePolicy(name string, data []byte) (*Policy, error) {
	p := DefaultPolicy()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(p); err != nil {
		return nil, fmt.Errorf("policy %s: %w: %s", name, ErrInvalidPolicy, describeDecodeError(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("policy %s: %w: trailing data after the policy object", name, ErrInvalidPolicy)
	}
	if err := p.normalize(); err != nil {
		return nil, fmt.Errorf("policy %s: %w: %w", name, ErrInvalidPolicy, err)
	}
	if err := p.mergeListDefaults(); err != nil {
		return nil, fmt.Errorf("policy %s: %w: %w", name, ErrInvalidPolicy, err)
	}
	return p, nil
}

// describeDecodeError turns encoding/json errors into text naming the key.
func describeDecodeError(err error) string {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		// encoding/json names a key of the embedded Allowances by its Go
		// path; the file has it at the top level.
		key := strings.TrimPrefix(typeErr.Field, "Allowances.")
		return fmt.Sprintf("key %q: want %s, got JSON %s", key, typeErr.Type, typeErr.Value)
	case errors.As(err, &syntaxErr):
		return fmt.Sprintf("malformed JSON at byte %d: %s", syntaxErr.Offset, syntaxErr.Error())
	case errors.Is(err, io.EOF):
		return "empty file"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "malformed JSON: unexpected end of file"
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return "unknown key " + name
	}
	return err.Error()
}

// maxMaxConfigSize bounds the "maxConfigSize" key: 256 MiB is already
// far beyond any real configuration.
const maxMaxConfigSize = 256 << 20

// normalize validates every key and puts names into canonical form.
func (p *Policy) normalize() error {
	switch p.Mode {
	case ModeEnforce, ModeAudit, ModeOff:
	default:
		return fmt.Errorf("key \"mode\": %q is not enforce, audit or off", p.Mode)
	}
	switch p.Level {
	case LevelBaseline, LevelRestricted:
	default:
		return fmt.Errorf("key \"level\": %q is not baseline or restricted", p.Level)
	}
	if p.PidsLimit < 0 {
		return fmt.Errorf("key \"pidsLimit\": %d is negative (0 disables the limit)", p.PidsLimit)
	}
	if p.MaxConfigSize <= 0 || p.MaxConfigSize > maxMaxConfigSize {
		return fmt.Errorf("key \"maxConfigSize\": %d is not a size from 1 to %d bytes", p.MaxConfigSize, maxMaxConfigSize)
	}
	if p.MinOOMScoreAdj < -1000 || p.MinOOMScoreAdj > 1000 {
		return fmt.Errorf("key \"minOomScoreAdj\": %d is not from -1000 to 1000", p.MinOOMScoreAdj)
	}
	for i, s := range p.DenySyscalls {
		if !validSyscallName(s) {
			return fmt.Errorf("key \"denySyscalls\": %q is not a syscall name", s)
		}
		p.DenySyscalls[i] = s
	}
	var err error
	if p.WritablePaths, err = normalizePaths("writablePaths", p.WritablePaths); err != nil {
		return err
	}
	if p.AllowRootfs, err = normalizePaths("allowRootfs", p.AllowRootfs); err != nil {
		return err
	}
	if p.AllowSeccompListeners, err = normalizePaths("allowSeccompListeners", p.AllowSeccompListeners); err != nil {
		return err
	}
	if slices.Contains(p.AllowRootfs, "/") {
		return errors.New("key \"allowRootfs\": \"/\" is the host itself and is never a rootfs")
	}
	if slices.Contains(p.WritablePaths, "/") {
		return errors.New("key \"writablePaths\": \"/\" would undo the read-only rootfs")
	}
	if err := normalizeEngineRoots(p.EngineRoots); err != nil {
		return err
	}
	if err := p.Allowances.normalize(""); err != nil {
		return err
	}
	if err := p.UserNamespace.normalize(); err != nil {
		return err
	}
	if err := p.AuditLog.normalize(); err != nil {
		return err
	}
	if err := normalizeLearn(p.Learn); err != nil {
		return err
	}
	known := OrchestratorAnnotations()
	for i := range p.Exceptions {
		e := &p.Exceptions[i]
		prefix := "exceptions[" + strconv.Itoa(i) + "]."
		if len(e.Match) == 0 {
			return fmt.Errorf("key %q: an exception must match at least one annotation", prefix+"match")
		}
		for k, v := range e.Match {
			if !slices.Contains(known, k) {
				return fmt.Errorf("key %q: %q is not an orchestrator-set annotation (one of %s)", prefix+"match", k, strings.Join(known, ", "))
			}
			if v == "" || v == "*" {
				return fmt.Errorf("key %q: annotation %q needs a value more specific than %q", prefix+"match", k, v)
			}
		}
		if err := e.Allow.normalize(prefix + "allow."); err != nil {
			return err
		}
	}
	return nil
}

// checkRemapUsers refuses a remap user that is root, the pool's user or
// a caller-mapping user (run once the lists have their defaults).
func (u *UserNamespacePolicy) checkRemapUsers() error {
	for _, name := range u.RemapSubIDUsers {
		if name == "root" || (name == u.SubIDUser && u.Pool == nil) || slices.Contains(u.CallerSubIDUsers, name) {
			return fmt.Errorf("key \"userNamespace.remapSubidUsers\": %q cannot name an engine's remap user: it is root, the pool's user (\"subidUser\") or in \"callerSubidUsers\"", name)
		}
	}
	return nil
}

func (u *UserNamespacePolicy) normalize() error {
	if u.RangeSize == 0 || u.RangeSize%idmap.DefaultRangeSize != 0 {
		return fmt.Errorf("key \"userNamespace.rangeSize\": %d is not a positive multiple of %d", u.RangeSize, idmap.DefaultRangeSize)
	}
	for _, name := range u.CallerSubIDUsers {
		if name == "" || strings.ContainsAny(name, ":/ \t\n") {
			return fmt.Errorf("key \"userNamespace.callerSubidUsers\": %q is not a user name", name)
		}
	}
	for _, name := range u.RemapSubIDUsers {
		if name == "" || strings.ContainsAny(name, ":/ \t\n") {
			return fmt.Errorf("key \"userNamespace.remapSubidUsers\": %q is not a user name", name)
		}
	}
	if u.Pool != nil {
		if err := u.Pool.Validate(); err != nil {
			return fmt.Errorf("key \"userNamespace.pool\": %w", err)
		}
		if u.Pool.Size < u.RangeSize {
			return fmt.Errorf("key \"userNamespace.pool\": %d IDs cannot hold one range of %d", u.Pool.Size, u.RangeSize)
		}
	}
	return nil
}

func (a *Allowances) normalize(prefix string) error {
	var err error
	for i, c := range a.AllowCapabilities {
		if a.AllowCapabilities[i], err = canonicalCap(c); err != nil {
			return fmt.Errorf("key %q: %w", prefix+"allowCapabilities", err)
		}
	}
	for _, ns := range a.AllowHostNamespaces {
		if ns != "user" && !slices.Contains(hostNamespaceTypes(), specs.LinuxNamespaceType(ns)) {
			return fmt.Errorf("key %q: %q is not one of pid, network, ipc, uts, cgroup, mount, user", prefix+"allowHostNamespaces", ns)
		}
	}
	for _, ns := range a.AllowUnrelatedJoins {
		if _, ok := nsFileNames()[specs.LinuxNamespaceType(ns)]; !ok {
			return fmt.Errorf("key %q: %q is not one of pid, network, ipc, uts, mount, cgroup, user, time", prefix+"allowUnrelatedJoins", ns)
		}
	}
	if a.AllowHostMounts, err = normalizePaths(prefix+"allowHostMounts", a.AllowHostMounts); err != nil {
		return err
	}
	if a.AllowedHooks, err = normalizeHooks(prefix+"allowedHooks", a.AllowedHooks); err != nil {
		return err
	}
	if a.IDMapMountSources, err = normalizePaths(prefix+"idmapMountSources", a.IDMapMountSources); err != nil {
		return err
	}
	for _, d := range a.IDMapMountSources {
		first, _, _ := strings.Cut(strings.TrimPrefix(d, "/"), "/")
		if _, err := path.Match(d, ""); err != nil || first == "" || strings.ContainsAny(first, `*?[\`) {
			return fmt.Errorf("key %q: %q is not a directory below /, or a pattern whose first component is a name", prefix+"idmapMountSources", d)
		}
	}
	for _, n := range a.AllowNetDevices {
		if !validInterfaceName(n) {
			return fmt.Errorf("key %q: %q is not a network interface name", prefix+"allowNetDevices", n)
		}
	}
	for _, c := range a.AllowRdtClasses {
		if c == "" || c == "." || c == ".." || (len(c) > 1 && strings.Contains(c, "/")) {
			return fmt.Errorf("key %q: %q is not a resctrl group name", prefix+"allowRdtClasses", c)
		}
	}
	for _, k := range a.AllowRuntimeAnnotations {
		if !validRuntimeAnnotation(k) {
			return fmt.Errorf("key %q: %q is not %q or an %q key", prefix+"allowRuntimeAnnotations", k, RuntimeAnnotationCRIUConfig, RuntimeAnnotationPrefix+"<Name>")
		}
	}
	for _, d := range a.AllowDevices {
		if _, err := parseDeviceSpec(d); err != nil {
			return fmt.Errorf("key %q: %w", prefix+"allowDevices", err)
		}
	}
	if len(a.AllowSysctls) == 0 {
		// Compiling the pattern is a cost to every policy load
		// (tests/bench/README.md): only when there is one to match.
		return nil
	}
	sysctlRE := sysctlPattern()
	for _, s := range a.AllowSysctls {
		if !sysctlRE.MatchString(s) {
			return fmt.Errorf("key %q: %q is not a sysctl name or a prefix ending in \".*\"", prefix+"allowSysctls", s)
		}
	}
	return nil
}

func normalizePaths(key string, in []string) ([]string, error) {
	if in == nil {
		return nil, nil
	}
	out := make([]string, 0, len(in))
	for _, p := range in {
		if !filepath.IsAbs(p) {
			return nil, fmt.Errorf("key %q: %q is not an absolute path", key, p)
		}
		out = append(out, filepath.Clean(p))
	}
	return out, nil
}

// validSyscallName reports whether s looks like a syscall name.
func validSyscallName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

func sysctlPattern() *regexp.Regexp {
	return regexp.MustCompile(`^[a-z0-9_]+(\.[a-zA-Z0-9_-]+)*(\.\*)?$`)
}

// canonicalCap turns "net_raw", "NET_RAW" or "cap_net_raw" into
// "CAP_NET_RAW" and rejects names the kernel does not know.
func canonicalCap(c string) (string, error) {
	name := strings.ToUpper(c)
	if !strings.HasPrefix(name, "CAP_") {
		name = "CAP_" + name
	}
	for _, k := range capability.ListKnown() {
		if "CAP_"+strings.ToUpper(k.String()) == name {
			return name, nil
		}
	}
	return "", fmt.Errorf("%q is not a known capability", c)
}

// ForAnnotations returns the policy in effect for a container with the
// given annotations: p with the allowances of every matching exception
// added, and the indexes of the exceptions that matched. p is not
// modified; the result is a fresh value.
func (p *Policy) ForAnnotations(ann map[string]string) (*Policy, []int) {
	out := p.clone()
	var matched []int
	for i, e := range p.Exceptions {
		if !e.matches(ann) {
			continue
		}
		matched = append(matched, i)
		out.Allowances.add(e.Allow)
	}
	return out, matched
}

func (e Exception) matches(ann map[string]string) bool {
	// An exception with nothing to match would widen every container.
	return len(e.Match) > 0 && matchAnnotations(e.Match, ann)
}

func (p *Policy) clone() *Policy {
	out := *p
	out.Allowances = p.Allowances.clone()
	out.DenySyscalls = slices.Clone(p.DenySyscalls)
	out.WritablePaths = slices.Clone(p.WritablePaths)
	out.AllowRootfs = slices.Clone(p.AllowRootfs)
	out.AllowSeccompListeners = slices.Clone(p.AllowSeccompListeners)
	out.EngineRoots = maps.Clone(p.EngineRoots)
	out.Exceptions = slices.Clone(p.Exceptions)
	out.Learn = slices.Clone(p.Learn)
	out.Replace = slices.Clone(p.Replace)
	return &out
}

// add widens a by b: the lists get b's entries they lack (after their
// own), the booleans are true when either is.
func (a *Allowances) add(b Allowances) {
	a.AllowCapabilities = appendNew(a.AllowCapabilities, b.AllowCapabilities...)
	a.AllowNewPrivileges = a.AllowNewPrivileges || b.AllowNewPrivileges
	a.AllowHostNamespaces = appendNew(a.AllowHostNamespaces, b.AllowHostNamespaces...)
	a.AllowUnrelatedJoins = appendNew(a.AllowUnrelatedJoins, b.AllowUnrelatedJoins...)
	a.AllowSharedCgroups = a.AllowSharedCgroups || b.AllowSharedCgroups
	a.AllowPrivileged = a.AllowPrivileged || b.AllowPrivileged
	a.AllowHostMounts = appendNew(a.AllowHostMounts, b.AllowHostMounts...)
	a.AllowDevices = appendNew(a.AllowDevices, b.AllowDevices...)
	a.AllowSysctls = appendNew(a.AllowSysctls, b.AllowSysctls...)
	a.AllowedHooks = appendNewHooks(a.AllowedHooks, b.AllowedHooks...)
	a.IDMapMountSources = appendNew(a.IDMapMountSources, b.IDMapMountSources...)
	a.AllowNetDevices = appendNew(a.AllowNetDevices, b.AllowNetDevices...)
	a.AllowRuntimeAnnotations = appendNew(a.AllowRuntimeAnnotations, b.AllowRuntimeAnnotations...)
	a.AllowRdtClasses = appendNew(a.AllowRdtClasses, b.AllowRdtClasses...)
}

// clone returns a copy of a that shares no slice with it.
func (a Allowances) clone() Allowances {
	out := a
	out.AllowCapabilities = slices.Clone(a.AllowCapabilities)
	out.AllowHostNamespaces = slices.Clone(a.AllowHostNamespaces)
	out.AllowUnrelatedJoins = slices.Clone(a.AllowUnrelatedJoins)
	out.AllowHostMounts = slices.Clone(a.AllowHostMounts)
	out.AllowDevices = slices.Clone(a.AllowDevices)
	out.AllowSysctls = slices.Clone(a.AllowSysctls)
	out.AllowedHooks = cloneHooks(a.AllowedHooks)
	out.IDMapMountSources = slices.Clone(a.IDMapMountSources)
	out.AllowNetDevices = slices.Clone(a.AllowNetDevices)
	out.AllowRuntimeAnnotations = slices.Clone(a.AllowRuntimeAnnotations)
	out.AllowRdtClasses = slices.Clone(a.AllowRdtClasses)
	return out
}

func appendNew(dst []string, add ...string) []string {
	for _, a := range add {
		if !slices.Contains(dst, a) {
			dst = append(dst, a)
		}
	}
	return dst
}
